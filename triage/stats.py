"""The figures behind GET /api/v1/stats, from counters and index range lookups, never a scan.

Review and case counts come from the ``counters`` table, which triggers keep in the same
transaction as every change of a review's or a case's status (migration 040). "Breached" is the
count of active cases with a clock marked breached (a counter too) plus the cases whose running
clock is past due but not yet marked, i.e. the moments between the due time and the SLA check;
those are read by range from two small partial indexes (`cases_running_first_contact`,
`cases_running_resolution`), so the cost follows how many are late, not how many cases exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from triage.db import RUNNING_FIRST_CONTACT, RUNNING_RESOLUTION
from triage.sla import PRIORITIES
from triage.timeutil import to_db

__all__ = ["ACTIVE_STATUSES", "REVIEW_STATUSES", "case_count", "counters", "stats"]

REVIEW_STATUSES = ("pending", "scored", "failed")
ACTIVE_STATUSES = ("open", "claimed", "contacted", "waiting_customer")

# Open = not resolved or closed. Breached = either clock marked breached by the SLA checks, or a
# clock that is still running (not met, not paused) and past its due time, so the count is right
# even in the moments before a scheduled check has run. The UNION keeps a case with both clocks
# late from counting twice; the marked ones are excluded by the index conditions.
_LATE_UNMARKED = f"""
    SELECT count(*) FROM (
        SELECT id FROM cases WHERE {RUNNING_FIRST_CONTACT} AND first_contact_due < :now
        UNION
        SELECT id FROM cases WHERE {RUNNING_RESOLUTION} AND resolution_due < :now
    )
"""


def counters(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: value for name, value in conn.execute("SELECT name, value FROM counters")}


def case_count(counts: dict[str, int], statuses: Iterable[str], priorities: Iterable[str]) -> int:
    """How many cases have one of `statuses` and one of `priorities`, from `counters()`."""
    return sum(counts.get(f"cases:{s}:{p}", 0) for s in statuses for p in priorities)


def stats(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """The contract's stats object as of `now`."""
    # One read transaction, so the counters and the late cases are one consistent snapshot.
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        counts = counters(conn)
        late = conn.execute(_LATE_UNMARKED, {"now": to_db(now)}).fetchone()[0]
    finally:
        if own:
            conn.execute("COMMIT")
    reviews = {s: counts.get(f"reviews:{s}", 0) for s in REVIEW_STATUSES}
    return {
        "reviews": {"total": sum(reviews.values()), **reviews},
        "cases": {
            "open": case_count(counts, ACTIVE_STATUSES, PRIORITIES),
            "breached": counts.get("cases:breached_marked", 0) + late,
        },
    }
