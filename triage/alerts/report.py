"""The weekly report's alerts section: how many opened and resolved, how many were still open at
the week's end, and how long resolving took. SQL over the alerts table's indexes (opened_at,
resolved_at); one call per report."""

from __future__ import annotations

import sqlite3
import statistics
from datetime import datetime
from typing import Any

from classifier.causes import CAUSES
from triage.timeutil import from_db, to_db

__all__ = ["weekly_alerts"]

TOP_ALERTS = 10


def weekly_alerts(conn: sqlite3.Connection, lo: str, hi: str, now: datetime) -> dict[str, Any]:
    """Alerts in the week [lo, hi) (stored UTC text bounds), as of `now` for a week not yet over.

    opened              alerts opened in the week
    resolved            alerts resolved in the week (whenever they opened)
    open_at_week_end    alerts opened before the week's end and not resolved by then (open or
                        acknowledged); for the current week, by `now`
    median_hours_to_resolve  median of resolved_at - opened_at over the week's resolved alerts; null if none
    by_cause            alerts opened in the week, per cause
    listing_audits      alerts opened in the week for description mismatch (详情页审核)
    items               the week's alerts, most complaints first (at most 10)
    """
    end = min(hi, to_db(now))
    # One query (the report keeps a fixed query budget): every alert the week can see — opened before
    # the week's end and not resolved before it began. Active and weekly alerts are few.
    rows = conn.execute(
        "SELECT id, product_id, category, cause, count, status, opened_at, resolved_at FROM alerts"
        " WHERE opened_at < ? AND (resolved_at IS NULL OR resolved_at >= ?)", (hi, lo),
    ).fetchall()
    opened = [r for r in rows if r["opened_at"] >= lo]
    by_cause = dict.fromkeys(CAUSES, 0)
    for r in opened:
        by_cause[r["cause"]] = by_cause.get(r["cause"], 0) + 1
    resolved = [r for r in rows if r["resolved_at"] is not None and lo <= r["resolved_at"] < hi]
    hours = [(from_db(r["resolved_at"]) - from_db(r["opened_at"])).total_seconds() / 3600 for r in resolved]
    still_open = sum(1 for r in rows if r["opened_at"] < end and (r["resolved_at"] is None or r["resolved_at"] >= end))
    items = [
        {"id": r["id"], "product_id": r["product_id"], "category": r["category"], "cause": r["cause"],
         "count": r["count"], "status": r["status"]}
        for r in sorted(opened, key=lambda r: (-r["count"], r["id"]))[:TOP_ALERTS]
    ]
    return {
        "opened": len(opened),
        "resolved": len(resolved),
        "open_at_week_end": still_open,
        "median_hours_to_resolve": round(statistics.median(hours), 2) if hours else None,
        "by_cause": by_cause,
        "listing_audits": by_cause.get("description_mismatch", 0),
        "items": items,
    }
