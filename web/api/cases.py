"""GET /api/v1/cases and /api/v1/cases/<id> — complaint cases, newest first (token auth: web.api.auth).

The view parses the query string; `triage.cases.queue` decides what the list holds.
"""

from __future__ import annotations

import re

from flask import jsonify, request

from triage import cases
from triage.errors import BadRequest, NotFound
from triage.timeutil import utcnow
from web.api.blueprint import bp
from web.db import get_db, get_policy

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


@bp.get("/cases")
def list_cases():
    query = cases.CaseQuery(
        statuses=_choices("status"),
        priorities=_choices("priority"),
        limit=_integer("limit", cases.DEFAULT_LIMIT),
        offset=_integer("offset", 0),
    )
    conn = get_db()
    page = cases.list_cases(conn, query)
    return jsonify({"items": cases.cases_to_json(conn, page.rows, utcnow(), get_policy()), "total": page.total})


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    conn = get_db()
    row = cases.get_case(conn, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}")
    return jsonify(cases.case_to_json(conn, row, utcnow(), get_policy()))
