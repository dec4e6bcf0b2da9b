"""GET /api/v1/stats — review and case counts for dashboards and monitoring."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import jsonify

from triage import metrics, reviews
from triage.timeutil import utcnow
from web.api.blueprint import bp
from web.db import get_db


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    # Breaches by `triage.metrics`' rule, so the count is right even in the moments before a
    # scheduled SLA check has run.
    return {"reviews": reviews.review_counts(conn), "cases": metrics.open_case_counts(conn, utcnow())}


@bp.get("/stats")
def get_stats():
    return jsonify(stats(get_db()))
