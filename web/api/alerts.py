"""Product alerts: GET /api/v1/alerts[?status=...], GET /api/v1/alerts/<id>, POST /api/v1/alerts/<id>/actions.

Reads take any live token (web.api.auth). Actions need a token that acts as an agent
(`triage token create NAME --agent USERNAME`) whose role is supervisor or admin.
"""

from __future__ import annotations

import re
from typing import Any

from flask import g, jsonify, request

from triage.alerts import store
from triage.errors import Conflict, Forbidden, InvalidJson, NotFound, UnsupportedMediaType, ValidationFailed
from triage.timeutil import utcnow
from web.api.blueprint import bp
from web.db import get_db

ACTION_ROLES = ("supervisor", "admin")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_QUERY = {"status", "limit", "offset"}
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def _query_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"index": None, "field": field, "message": message}], message, code="invalid_query")


def _integer(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw) or (maximum is not None and int(raw) > maximum):
        raise _query_error(name, f"{name} must be a whole number" + (f" up to {maximum}" if maximum else ""))
    return int(raw)


@bp.get("/alerts")
def list_alerts():
    unknown = sorted(set(request.args) - _QUERY)
    if unknown:
        raise _query_error(unknown[0], f"unknown query parameter {unknown[0]!r}")
    status = request.args.get("status")
    if status is not None and status not in store.STATUSES:
        raise _query_error("status", f"status must be one of {', '.join(store.STATUSES)}")
    conn = get_db()
    rows, total = store.list_alerts(conn, status, limit=_integer("limit", DEFAULT_LIMIT, MAX_LIMIT),
                                    offset=_integer("offset", 0))
    return jsonify({"items": [store.alert_json(conn, r) for r in rows], "total": total})


def _alert(alert_id: int):
    try:
        return store.get_alert(get_db(), alert_id)
    except store.AlertNotFound as exc:
        raise NotFound(str(exc)) from exc


@bp.get("/alerts/<int:alert_id>")
def get_alert(alert_id: int):
    return jsonify(store.alert_json(get_db(), _alert(alert_id), detail=True))


def _acting_agent() -> Any:
    """The active agent the request's token acts as, or None for a read-only token."""
    token = getattr(g, "api_token", None)
    if token is None:
        return None
    return get_db().execute(
        "SELECT a.username, a.role FROM api_tokens t JOIN agents a ON a.id = t.agent_id"
        " WHERE t.id = ? AND a.active = 1 AND a.disabled_at IS NULL", (token.id,),
    ).fetchone()


def _body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidJson()
    if not isinstance(body, dict):
        raise ValidationFailed([{"index": None, "field": None, "message": "body must be a JSON object"}],
                               code="invalid_action")
    return body


@bp.post("/alerts/<int:alert_id>/actions")
def alert_action(alert_id: int):
    agent = _acting_agent()
    if agent is None or agent["role"] not in ACTION_ROLES:
        raise Forbidden("alert actions need a supervisor's or an admin's token")
    body = _body()
    _alert(alert_id)
    for name in ("resolution", "note"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationFailed([{"index": None, "field": name, "message": f"{name} must be a string"}],
                                   code="invalid_action")
    try:
        row = store.act(get_db(), alert_id, str(body.get("action")), actor=agent["username"], now=utcnow(),
                        resolution=body.get("resolution"), note=body.get("note"))
    except store.AlertActionError as exc:
        if exc.conflict:
            raise Conflict(str(exc)) from exc
        raise ValidationFailed([{"index": None, "field": exc.field, "message": str(exc)}], str(exc),
                               code="invalid_action") from exc
    return jsonify(store.alert_json(get_db(), row, detail=True))

