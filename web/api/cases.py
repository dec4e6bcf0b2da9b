"""The cases API (token auth: web.api.auth).

- GET /api/v1/cases — the list; the view parses the query string, `triage.cases.queue` decides
  what the list holds.
- GET /api/v1/cases/<id> — one case with its reviews and audit events.
- POST /api/v1/cases/<id>/actions — a case action (`triage.cases.actions.perform`) taken by the
  agent the token is bound to; a read-only token gets 403.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import g, jsonify, request

from triage import cases
from triage.errors import BadRequest, Forbidden, InvalidJson, NotFound, UnsupportedMediaType, ValidationFailed
from triage.timeutil import from_db, utcnow
from web.api.blueprint import bp
from web.api.jsonbody import json_response
from web.db import get_db, get_policy, get_redis

log = logging.getLogger(__name__)

_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def _choices(name: str) -> tuple[str, ...]:
    """A filter's values: one, or several comma-separated (an extension: `status=open,claimed`)."""
    raw = request.args.get(name)
    if raw is None:
        return ()
    return tuple(v.strip() for v in raw.split(","))


def _integer(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only (str.isdigit() also takes '²', which int() refuses), and few enough of
    # them for SQLite's 64-bit integers.
    if not _WHOLE_NUMBER.fullmatch(raw):
        if raw.isascii() and raw.isdigit():
            raise BadRequest(f"{name} must be at most {'9' * 18}, got {raw[:40]!r}")
        raise BadRequest(f"{name} must be a whole number, got {raw[:40]!r}")
    return int(raw)


# Every query parameter GET /cases understands; any other is a 422 (a typo must not silently
# widen the list).
LIST_PARAMS = ("status", "priority", "cause", "sla", "assignee", "mine", "unassigned", "product", "category",
               "platform", "sort", "limit", "offset", "cursor")
TRUE_VALUES = ("1", "true", "yes")
FALSE_VALUES = ("", "0", "false", "no")


def _flag(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise BadRequest(f"{name} must be 1 or 0, got {raw!r}")


def case_query_from_args() -> cases.CaseQuery:
    unknown = sorted(set(request.args) - set(LIST_PARAMS))
    if unknown:
        raise ValidationFailed(
            [{"field": name, "message": f"unknown query parameter; known: {', '.join(LIST_PARAMS)}"} for name in unknown],
            "unknown query parameters", code="invalid_query")
    assignees = _choices("assignee")
    if _flag("mine"):
        token = g.api_token
        if token.agent is None:
            raise BadRequest("mine: this token is not an agent's (read-only); name the agent with assignee=")
        assignees = (*assignees, token.agent)
    return cases.CaseQuery(
        statuses=_choices("status"),
        priorities=_choices("priority"),
        causes=_choices("cause"),
        sla=_choices("sla"),
        assignees=tuple(dict.fromkeys(assignees)),
        unassigned=_flag("unassigned"),
        products=_choices("product"),
        categories=_choices("category"),
        platforms=_choices("platform"),
        order=request.args.get("sort", "newest"),
        limit=_integer("limit", cases.DEFAULT_LIMIT),
        offset=_integer("offset", 0),
        cursor=request.args.get("cursor") or None,
    )


@bp.get("/cases")
def list_cases():
    query = case_query_from_args()
    conn = get_db()
    now = utcnow()
    page = cases.list_cases(conn, query, now=now)
    return json_response({"items": cases.cases_to_json(conn, page.rows, now, get_policy()), "total": page.total,
                          "next_cursor": page.next_cursor})


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    conn = get_db()
    row = cases.get_case(conn, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}")
    return jsonify(cases.case_detail_json(conn, row, utcnow(), get_policy()))


def _token_actor() -> cases.Actor:
    token = g.api_token
    if token.read_only or token.agent is None or token.role is None:
        raise Forbidden("this token is read-only; case actions need a token created for an agent "
                        "(triage token create NAME --agent USERNAME)")
    return cases.Actor(token.agent, token.role)


def _action_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidJson()
    if not isinstance(body, dict):
        raise ValidationFailed([{"field": "(body)", "message": "must be a JSON object"}], "invalid action",
                               code="invalid_action")
    return body


def arm_sla_timer(row) -> None:
    """Schedule the case's next SLA check; the periodic sweep covers a Redis that is down."""
    redis = get_redis()
    if redis is None or row["sla_next_check_at"] is None:
        return
    from triage.jobs.enqueue import schedule_case_checks

    try:
        schedule_case_checks(redis, {row["id"]: from_db(row["sla_next_check_at"])}, utcnow())
    except Exception as exc:  # the action is committed; the sweep re-arms the timer
        log.warning("could not arm the SLA timer of case %s (%s); the sweep will", row["id"], exc)


@bp.post("/cases/<int:case_id>/actions")
def case_action(case_id: int):
    actor = _token_actor()
    body = _action_body()
    fields = {k: v for k, v in body.items() if k not in ("action", "version")}
    conn = get_db()
    now = utcnow()
    row = cases.perform(conn, case_id, actor, body.get("action"), fields, version=body.get("version"),
                        policy=get_policy(), now=now)
    arm_sla_timer(row)
    return jsonify(cases.case_detail_json(conn, row, now, get_policy()))
