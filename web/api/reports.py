"""GET /api/v1/reports/weekly?week=YYYY-Www[&fresh=1] — the contract's weekly report object.

Token auth is the `api` blueprint's (enforced for every route on it), not repeated here. The
default week is the last complete one; a published week is served as published unless
`fresh=1`. A malformed or non-existent week raises WeekError, which web/errors.py turns into
400 {"error": "invalid_week", "message"}. Any other query parameter is a 422 `invalid_query`, as
on the other list endpoints: a misspelt `week` must not silently give the default week.
"""

from __future__ import annotations

from flask import jsonify, request

from triage.errors import ValidationFailed
from triage.reports.store import weekly_report
from triage.reports.weeks import IsoWeek, last_complete_week
from triage.timeutil import utcnow
from web.api.blueprint import bp
from web.db import get_db, get_policy, get_settings

TRUE_VALUES = ("1", "true", "yes")
PARAMETERS = ("week", "fresh")


def check_parameters() -> None:
    unknown = sorted(name for name in request.args if name not in PARAMETERS)
    if unknown:
        raise ValidationFailed(
            [{"field": name[:40], "message": f"unknown query parameter; expected {', '.join(PARAMETERS)}"}
             for name in unknown],
            "unknown query parameters", code="invalid_query")


def requested_week() -> IsoWeek:
    """The request's `week` argument, or the last complete week; raises WeekError."""
    week = request.args.get("week")
    if week:
        return IsoWeek.parse(week)
    return last_complete_week(utcnow(), get_settings().zone)


def wants_fresh() -> bool:
    return request.args.get("fresh", "").lower() in TRUE_VALUES


@bp.get("/reports/weekly")
def weekly_report_json():
    check_parameters()
    report = weekly_report(get_db(), requested_week(), get_settings().timezone, fresh=wants_fresh(),
                           shifts=get_policy().shifts)
    return jsonify(report)
