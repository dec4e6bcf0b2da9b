"""GET /api/v1/cases and /api/v1/cases/<id> — complaint cases, newest first (token auth: web.api.auth)."""

from __future__ import annotations

import re

from flask import current_app, jsonify, request

from triage import cases
from triage.errors import BadRequest, NotFound
from triage.sla import PRIORITIES, SlaPolicy, load_policy
from triage.stats import case_count, counters
from triage.timeutil import utcnow
from web.api import bp
from web.db import get_db, get_settings

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def _policy() -> SlaPolicy:
    policy = current_app.extensions.get("triage_sla_policy")
    if policy is None:
        settings = get_settings()
        policy = load_policy(settings.sla_policy_path, settings.timezone)
        current_app.extensions["triage_sla_policy"] = policy
    return policy


def _choices(name: str, allowed: tuple[str, ...]) -> list[str]:
    """A filter value, or several comma-separated (an extension: `status=open,claimed`)."""
    raw = request.args.get(name)
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",")]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequest(f"{name}: unknown value {bad[0]!r}; expected one of {', '.join(allowed)}")
    return values


def _integer(name: str, default: int, lowest: int, highest: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only (str.isdigit() also takes '²', which int() refuses), and few enough of
    # them for SQLite's 64-bit integers.
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise BadRequest(f"{name} must be a whole number, got {raw!r}")
    value = int(raw)
    if value < lowest or (highest is not None and value > highest):
        upper = f" and {highest}" if highest is not None else ""
        raise BadRequest(f"{name} must be between {lowest}{upper}, got {value}")
    return value


@bp.get("/cases")
def list_cases():
    statuses = _choices("status", cases.STATUSES)
    priorities = _choices("priority", PRIORITIES)
    limit = _integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _integer("offset", 0, 0)
    where, params = [], []
    for column, values in (("status", statuses), ("priority", priorities)):
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    conn = get_db()
    conn.execute("BEGIN")  # one snapshot for the total and the page
    try:
        # The counters kept by triggers (triage.stats), not a count over the index.
        total = case_count(counters(conn), statuses or cases.STATUSES, priorities or PRIORITIES)
        # The page's ids first, from the index alone (status, opened_at, id), then only those rows:
        # a deep offset skips index entries, not table rows.
        ids = [r[0] for r in conn.execute(
            f"SELECT id FROM cases{clause} ORDER BY opened_at DESC, id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
        )]
        marks = ",".join("?" * len(ids))
        by_id = {r["id"]: r for r in conn.execute(f"SELECT * FROM cases WHERE id IN ({marks})", ids)} if ids else {}
        rows = [by_id[i] for i in ids]
        items = cases.cases_to_json(conn, rows, utcnow(), _policy())
    finally:
        conn.execute("COMMIT")
    return jsonify({"items": items, "total": total})


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    conn = get_db()
    row = cases.get_case(conn, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}")
    return jsonify(cases.case_to_json(conn, row, utcnow(), _policy()))
