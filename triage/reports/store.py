"""Published weekly reports: frozen copies in the `reports` table.

A week is published at most once (UNIQUE (kind, week)); later changes to its reviews or cases —
late scores, agents' work on its cases, a new model — do not alter what was published. Readers
get the published copy unless they ask for a fresh computation.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from triage.db import transaction
from triage.reports.weekly import Report, build_weekly
from triage.reports.weeks import IsoWeek
from triage.shifts import ShiftCalendar
from triage.timeutil import UTC, from_db, to_db, to_wire, utcnow

__all__ = ["get_published", "list_published", "publish_weekly", "weekly_report"]

KIND = "weekly"


def publish_weekly(
    conn: sqlite3.Connection, week: IsoWeek, timezone: str, *, now: datetime | None = None,
    shifts: ShiftCalendar | None = None,
) -> tuple[Report, bool]:
    """Publish `week` unless it already is; returns (the published report, whether this call stored it).

    Only a week that has ended can be published: a report of a running week would be frozen
    with figures that are still moving.
    """
    now = now or utcnow()
    existing = get_published(conn, week)
    if existing is not None:
        return existing, False
    _, end = week.bounds(ZoneInfo(timezone))
    if now < end.astimezone(UTC):
        raise ValueError(f"{week} has not ended yet (it ends {to_wire(end, ZoneInfo(timezone))})")
    report = _as_published(build_weekly(conn, week, timezone, now=now, shifts=shifts))
    with transaction(conn):
        # Another process may have published meanwhile; the first one wins and stays.
        stored = conn.execute(
            """
            INSERT INTO reports (kind, week, generated_at, model_version, payload)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (kind, week) DO NOTHING
            """,
            (KIND, str(week), to_db(now), report["model_version"], json.dumps(report, ensure_ascii=False)),
        ).rowcount == 1
    if not stored:
        return get_published(conn, week), False  # type: ignore[return-value]
    return report, True


def get_published(conn: sqlite3.Connection, week: IsoWeek) -> Report | None:
    row = conn.execute("SELECT payload FROM reports WHERE kind = ? AND week = ?", (KIND, str(week))).fetchone()
    return None if row is None else _as_published(json.loads(row["payload"]))


def list_published(
    conn: sqlite3.Connection, *, zone: ZoneInfo | None = None, limit: int = 104
) -> list[dict[str, Any]]:
    """The most recent published weeks first: [{"week", "generated_at", "model_version"}],
    generated_at as RFC 3339 in `zone` (UTC by default)."""
    rows = conn.execute(
        "SELECT week, generated_at, model_version FROM reports WHERE kind = ? ORDER BY week DESC LIMIT ?",
        (KIND, limit),
    ).fetchall()
    return [
        {
            "week": r["week"],
            "generated_at": to_wire(from_db(r["generated_at"]), zone),
            "model_version": r["model_version"],
        }
        for r in rows
    ]


def weekly_report(
    conn: sqlite3.Connection,
    week: IsoWeek,
    timezone: str,
    *,
    fresh: bool = False,
    now: datetime | None = None,
    shifts: ShiftCalendar | None = None,
) -> Report:
    """The published report for `week` if there is one (and not `fresh`), else computed now.

    Every report carries `"published": true|false` so readers can tell which they got.
    """
    if not fresh:
        published = get_published(conn, week)
        if published is not None:
            return published
    return build_weekly(conn, week, timezone, now=now, shifts=shifts)


def _as_published(report: Report) -> Report:
    return {**report, "published": True}
