"""`triage import FILE [--platform P] [--batch-size N]`: a progress bar on stderr, the summary on stdout.

Exit status: 0 if any row was stored or found to be a duplicate, 1 if every row was refused
(or there were none), 2 if the file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from triage.config import Settings
from triage.importer import ImportReport, ImportUnreadable, import_file

__all__ = ["MAX_REASONS_SHOWN", "cli_import"]

MAX_REASONS_SHOWN = 20


class _Bar:
    """`import_file`'s progress callback drawn as a tqdm bar (created at the first call, when the
    file's line count is known)."""

    def __init__(self, name: str, out: TextIO) -> None:
        self.name, self.out = name, out
        self.bar: tqdm | None = None
        self._shown: tuple[int, int, int] | None = None

    def __call__(self, done: int, total: int, report: ImportReport) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, unit="line", desc=f"importing {self.name}", file=self.out)
        self.bar.update(done - self.bar.n)
        counts = (report.accepted, report.duplicates, len(report.refused))
        # The stored counts change only when a batch is flushed: refresh the figures then, and at the end.
        if counts[:2] != (self._shown or (0, 0, 0))[:2] or done == total:
            self.bar.set_postfix(accepted=counts[0], duplicates=counts[1], refused=counts[2], refresh=done == total)
            self._shown = counts

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_report(report: ImportReport, out: TextIO) -> None:
    print(f"accepted: {report.accepted}", file=out)
    print(f"duplicates: {report.duplicates}", file=out)
    print(f"updated: {report.updated}", file=out)
    print(f"refused: {len(report.refused)}", file=out)
    for line, reason in report.refused[:MAX_REASONS_SHOWN]:
        print(f"  line {line}: {reason}", file=out)
    hidden = len(report.refused) - MAX_REASONS_SHOWN
    if hidden > 0:
        print(f"  ... and {hidden} more refused row(s)", file=out)


def cli_import(settings: Settings, file: str, platform: str | None = None, batch_size: int = 500) -> int:
    if batch_size < 1:
        print("triage: --batch-size must be at least 1", file=sys.stderr)
        return 2
    bar = _Bar(Path(file).name, sys.stderr)
    try:
        report = import_file(settings, file, platform=platform, batch_size=batch_size, on_progress=bar)
    except ImportUnreadable as exc:
        print(f"triage: {file}: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    _print_report(report, sys.stdout)
    if not settings.redis_url and report.accepted:
        print("note: REDIS_URL is unset; the running `triage serve` scores these reviews in its recovery sweep.",
              file=sys.stderr)
    return 0 if report.processed else 1
