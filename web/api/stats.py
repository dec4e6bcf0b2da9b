"""GET /api/v1/stats — review and case counts for dashboards and monitoring (see triage.stats)."""

from __future__ import annotations

from flask import jsonify

from triage.stats import stats
from triage.timeutil import utcnow
from web.api import bp
from web.db import get_db


@bp.get("/stats")
def get_stats():
    return jsonify(stats(get_db(), utcnow()))
