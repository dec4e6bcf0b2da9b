"""GET /api/v1/metrics/cs?from=YYYY-MM-DD&to=YYYY-MM-DD&group_by=agent|shift — CS performance.

The contract's object (definitions in `triage.metrics.cs`): figures per agent or per shift and
overall for a period of local days. Supervisors and admins only, signed in either way: a Bearer
token that acts as a supervisor/admin (`triage token create NAME --agent USERNAME`), or the
session cookie of the pages (so the board's own links work). A read-only token or an agent's
credentials get 403; none at all 401. Bad dates or group_by (and unknown parameters) get 422.
"""

from __future__ import annotations

from flask import g, jsonify, request

from triage.errors import Forbidden, Unauthorized, ValidationFailed
from triage.metrics.cs import GROUP_BYS, parse_period, period_report
from triage.timeutil import utcnow
from triage.tokens import verify_token
from web.api.auth import bearer_token, public
from web.api.blueprint import bp
from web.db import get_db, get_policy, get_settings

METRICS_ROLES = ("supervisor", "admin")
PARAMETERS = ("from", "to", "group_by")


def supervisor_caller() -> str:
    """The username of the supervisor or admin making this request, by Bearer token or else
    session; raises Unauthorized (no credentials, or a token that is not live) or Forbidden."""
    if "Authorization" in request.headers:
        api_token = verify_token(get_db(), bearer_token())
        if api_token is None:
            raise Unauthorized()
        if api_token.role not in METRICS_ROLES:
            raise Forbidden("supervisors and admins only (a read-only token or an agent's may not)")
        return api_token.agent
    if g.get("agent") is None:
        raise Unauthorized()
    if g.agent.role not in METRICS_ROLES:
        raise Forbidden("supervisors and admins only")
    return g.agent.username


def _check_parameters() -> str:
    items = [{"field": name, "message": f"unknown parameter; expected {', '.join(PARAMETERS)}"}
             for name in request.args if name not in PARAMETERS]
    group_by = request.args.get("group_by") or "agent"
    if group_by not in GROUP_BYS:
        items.append({"field": "group_by", "message": f"must be one of {', '.join(GROUP_BYS)}, got {group_by[:40]!r}"})
    if items:
        raise ValidationFailed(items, "bad query", code="invalid_query")
    return group_by


@bp.get("/metrics/cs")
@public  # authenticated here: a supervisor's token or session, not any token
def cs_metrics():
    supervisor_caller()
    group_by = _check_parameters()
    settings = get_settings()
    period = parse_period(request.args.get("from"), request.args.get("to"), utcnow(), settings.timezone)
    report = period_report(get_db(), period, get_policy().shifts)
    return jsonify(report.to_json(group_by))
