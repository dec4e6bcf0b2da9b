"""`triage corrections export FILE`: agents' corrections as JSON Lines for `python -m classifier train --extra`."""

from __future__ import annotations

import sys
from pathlib import Path

from triage.config import Settings
from triage.corrections import export_jsonl
from triage.db import open_db

__all__ = ["cli_export_corrections"]


def cli_export_corrections(settings: Settings, file: str) -> int:
    conn = open_db(settings.db_path)
    try:
        if file == "-":
            count = export_jsonl(conn, sys.stdout)
        else:
            target = Path(file)
            temporary = target.with_name(target.name + ".part")
            try:
                with temporary.open("w", encoding="utf-8") as out:
                    count = export_jsonl(conn, out)
                temporary.replace(target)  # a half-written file never takes the name
            except OSError as exc:
                print(f"triage: cannot write {file}: {exc.strerror or exc}", file=sys.stderr)
                return 2
    finally:
        conn.close()
    where = "stdout" if file == "-" else file
    print(f"wrote {count} corrected review text(s) to {where}; train with "
          f"`python -m classifier train --extra {file if file != '-' else 'FILE'}`", file=sys.stderr)
    return 0
