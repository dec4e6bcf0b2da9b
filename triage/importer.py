"""Importing a file of reviews (`triage import FILE`): CSV or JSON Lines of review objects
through the webhook's pipeline. The command itself (progress bar, summary) is
`service.commands.imports`.

Same validation, same `ingest` (idempotent, so re-running an import only reports duplicates) and
the same enqueue, in batches. Unlike the webhook, whose batch is atomic because the connector
can fix and resend it, a bad row here is refused alone: an operator importing a 100 000-row
export wants the good rows in and a list of the bad ones, not nothing. Refused rows are
reported with their line numbers.

Formats: `.csv` is CSV with a header row naming the review fields (an empty cell is an absent
field; `rating` and `customer_ltv` are converted from text). `.jsonl`, `.ndjson` and `.json`
are JSON Lines, one object per line. Any other extension is sniffed: a first character `{`
means JSON Lines, anything else CSV. Text is UTF-8 (a BOM is fine); a file that is not UTF-8
is read as GB18030, the encoding Excel uses for CSV on Chinese Windows; a file that is neither is
unreadable, before any row is stored.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from triage.config import Settings
from triage.db import open_db
from triage.ingest import enqueue_after_commit, ingest
from triage.redis_conn import connect_redis
from triage.timeutil import utcnow
from triage.validation import DEFAULT_PLATFORM, Review, loads_json, validate_review

__all__ = ["ImportReport", "ImportUnreadable", "ProgressCallback", "import_file", "read_rows"]

REQUIRED_COLUMNS = ("review_id", "text", "customer_id", "product_id")
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


class ImportUnreadable(Exception):
    """The file cannot be read or interpreted at all (nothing was stored)."""


@dataclass
class ImportReport:
    accepted: int = 0
    duplicates: int = 0
    updated: int = 0  # redelivered with changed text or rating: a new revision
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def processed(self) -> int:
        return self.accepted + self.duplicates + self.updated


@dataclass(frozen=True)
class Row:
    line: int  # where the row starts in the file, 1-based
    end_line: int  # its last line (a quoted CSV cell may span lines)
    value: Any  # the review object, or None if the line could not be parsed
    error: str | None = None


def _detect_encoding(path: Path) -> tuple[str, int]:
    """('utf-8-sig' or 'gb18030', number of lines), in one streaming pass over the bytes.

    Raises ImportUnreadable for a file that is neither (rather than failing halfway through the
    import, with some rows stored)."""
    decoders = {"utf-8-sig": codecs.getincrementaldecoder("utf-8")(),
                "gb18030": codecs.getincrementaldecoder("gb18030")()}
    lines = 0
    last = b""

    def feed(chunk: bytes, final: bool = False) -> None:
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError:
                del decoders[name]

    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                feed(chunk)
            feed(b"", final=True)
    except OSError as exc:
        raise ImportUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not decoders:
        raise ImportUnreadable("the file is neither UTF-8 nor GB18030 text")
    if last and last != b"\n":
        lines += 1
    return next(iter(decoders)), lines


def _is_jsonl(path: Path, fh: TextIO) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return False
    if suffix in _JSONL_SUFFIXES:
        return True
    head = fh.read(4096)
    fh.seek(0)
    return head.lstrip().startswith("{")


def _number(text: str) -> Any:
    """A CSV cell as a number if it reads as one; else the text, for validation to refuse."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _csv_rows(fh: TextIO) -> Iterator[Row]:
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportUnreadable(f"line 1: cannot read the CSV header: {exc}") from exc
    columns = [name.strip() for name in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportUnreadable(
            f"the CSV header lacks the column(s) {', '.join(missing)} (it has: {', '.join(columns)})"
        )
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            previous_end = reader.line_num
            yield Row(start, previous_end, None, f"unreadable CSV: {exc}")
            continue
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        raw: dict[str, Any] = {}
        for name, cell in zip(columns, cells, strict=False):
            if not name or cell == "":
                continue
            raw[name] = _number(cell.strip()) if name in ("rating", "customer_ltv") else cell
        yield Row(start, previous_end, raw)


def _jsonl_rows(fh: TextIO) -> Iterator[Row]:
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        if number == 1 and line.lstrip().startswith("["):
            raise ImportUnreadable("this is a JSON array; give JSON Lines (one review object per line)")
        try:
            value = loads_json(line)
        except (ValueError, RecursionError) as exc:
            yield Row(number, number, None, f"invalid JSON: {exc}")
            continue
        yield Row(number, number, value)


def read_rows(path: Path) -> tuple[Iterator[Row], int]:
    """The file's rows (lazily) and its line count (for progress). Raises ImportUnreadable."""
    encoding, lines = _detect_encoding(path)
    try:
        # newline="" lets the csv module handle line ends inside quoted cells.
        fh = path.open(encoding=encoding, newline="")
    except OSError as exc:
        raise ImportUnreadable(f"cannot read {path}: {exc.strerror or exc}") from exc

    def rows() -> Iterator[Row]:
        with fh:
            yield from (_jsonl_rows(fh) if _is_jsonl(path, fh) else _csv_rows(fh))

    return rows(), lines


def _reason(problems: list[dict[str, Any]]) -> str:
    return "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)


ProgressCallback = Callable[[int, int, ImportReport], None]
"""Called as (lines done, lines in the file, counts so far): once before the first row, after
every row, and once at the end."""


def import_file(
    settings: Settings,
    path: Path | str,
    *,
    platform: str | None = None,
    batch_size: int = 500,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a file; returns the counts. Raises ImportUnreadable."""
    path = Path(path)
    rows, total_lines = read_rows(path)
    report = ImportReport()
    progress = on_progress or (lambda done, total, report: None)
    conn = open_db(settings.db_path)
    redis_client = connect_redis(settings.redis_url) if settings.redis_url else None
    batch: list[Review] = []

    def flush() -> None:
        if not batch:
            return
        result = ingest(conn, batch, utcnow(), claim=redis_client is not None)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.updated += result.updated
        batch.clear()
        if result.to_score:
            enqueue_after_commit(conn, redis_client, result)

    try:
        progress(0, total_lines, report)
        for row in rows:
            if row.error is not None:
                report.refused.append((row.line, row.error))
            else:
                review, problems = validate_review(row.value, None, default_platform=platform or DEFAULT_PLATFORM)
                if review is None:
                    report.refused.append((row.line, _reason(problems)))
                else:
                    batch.append(review)
                    if len(batch) >= batch_size:
                        flush()
            progress(row.end_line, total_lines, report)
        flush()
        progress(total_lines, total_lines, report)
    finally:
        conn.close()
        if redis_client is not None:
            redis_client.close()
    return report
