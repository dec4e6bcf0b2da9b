"""GET /api/v1/stats — review and case counts for dashboards and monitoring."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import jsonify

from triage.timeutil import to_db, utcnow
from web.api import bp
from web.db import get_db

_REVIEWS = """
    SELECT count(*) AS total,
           coalesce(sum(status = 'pending'), 0) AS pending,
           coalesce(sum(status = 'scored'), 0) AS scored,
           coalesce(sum(status = 'failed'), 0) AS failed
    FROM reviews
"""

# Open = not resolved or closed. Breached = either clock marked breached by the SLA checks, or a
# clock that is still running (not met, not paused) and past its due time, so the count is right
# even in the moments before a scheduled check has run.
_CASES = """
    SELECT count(*) AS open,
           coalesce(sum(
               sla_first_contact = 'breached' OR sla_resolution = 'breached'
               OR (status != 'waiting_customer' AND (
                       (first_contacted_at IS NULL AND sla_first_contact != 'met' AND first_contact_due < :now)
                    OR (resolved_at IS NULL AND sla_resolution != 'met' AND resolution_due < :now)))
           ), 0) AS breached
    FROM cases
    WHERE status NOT IN ('resolved', 'closed')
"""


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    reviews = conn.execute(_REVIEWS).fetchone()
    cases = conn.execute(_CASES, {"now": to_db(utcnow())}).fetchone()
    return {"reviews": dict(reviews), "cases": dict(cases)}


@bp.get("/stats")
def get_stats():
    return jsonify(stats(get_db()))
