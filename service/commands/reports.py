"""`triage report weekly [--week YYYY-Www] [--format html|json|csv] [--output FILE]`.

Prints the published report of the week when there is one (as it was published), otherwise
computes it from the database now; `fresh=True` always recomputes. The default week is the
last complete one in TRIAGE_TIMEZONE. Without --output the bytes go to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from triage.config import Settings
from triage.db import open_db
from triage.reports.render import render_csv, render_html, render_json
from triage.reports.store import weekly_report
from triage.reports.weeks import IsoWeek, WeekError, last_complete_week
from triage.sla import load_policy
from triage.timeutil import utcnow

__all__ = ["cli_weekly"]

FORMATS = ("html", "json", "csv")


def cli_weekly(
    settings: Settings,
    *,
    week: str | None = None,
    fmt: str = "html",
    output: str | None = None,
    fresh: bool = False,
) -> int:
    """Write the weekly report; returns the process exit status (2 for a bad week or format)."""
    if fmt not in FORMATS:
        print(f"triage report weekly: unknown format {fmt!r} (choose {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    try:
        target = IsoWeek.parse(week) if week else last_complete_week(utcnow(), settings.zone)
    except WeekError as exc:
        print(f"triage report weekly: {exc}", file=sys.stderr)
        return 2
    conn = open_db(settings.db_path)
    try:
        shifts = load_policy(settings.sla_policy_path, settings.timezone).shifts
        report = weekly_report(conn, target, settings.timezone, fresh=fresh, shifts=shifts)
    finally:
        conn.close()
    if fmt == "html":
        data = render_html(report).encode("utf-8")
    elif fmt == "csv":
        data = render_csv(report)
    else:
        data = render_json(report)
    if output and output != "-":
        Path(output).write_bytes(data)
        print(f"wrote {target} ({fmt}) to {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
