"""The case list (`GET /api/v1/cases`, the agents' queue): filters, order, a page and the total.

The web layer parses the request into a `CaseQuery`; everything about which rows come back, in
what order, lives here. The query checks its own values (a `BadRequest` names the field), so
every caller gets the same rules.

Orders
------
``newest``  opened_at, newest first (the contract's default).
``queue``   what to do first: priority (P1 first), then value tier (a top-10 % customer before
            the others), then the nearest due time of a clock still running (a paused clock,
            which has no due, last), then the case id. Active cases only, unless a status filter
            names others. It reads the indexed ``cases.queue_key`` (migration 011), so a page
            is read off an index in order and never sorted: `tests/test_case_queue_plans.py`
            holds every filter to that with ``EXPLAIN QUERY PLAN``.

Paging: ``offset`` (the contract's), or keyset with ``cursor``: each page's `next_cursor` is an
opaque token naming the last row, and the next page starts after it. A keyset page costs the
same however deep it is, and a case that moves meanwhile is neither repeated nor skipped.

Filters: status, priority, cause, SLA state (``ok``, ``at_risk``, ``breached``, ``met``), assignee
(or unassigned only), and the product, category and platform of the case's latest review.
`queue_counts` gives the figures the queue page shows next to each filter, in one pass over
the active cases.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from classifier.causes import CAUSES
from triage.cases.store import ACTIVE_STATUSES, STATUSES
from triage.counters import case_count, counters
from triage.errors import BadRequest
from triage.metrics import breached_sql
from triage.sla import PRIORITIES
from triage.timeutil import to_db, utcnow

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ORDERS",
    "SLA_STATES",
    "CasePage",
    "CaseQuery",
    "list_cases",
    "queue_counts",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Name -> (sort key column, descending); the id breaks ties so paging never repeats or skips a row.
ORDERS = {"newest": ("opened_at", True), "queue": ("queue_key", False)}
SLA_STATES = ("ok", "at_risk", "breached", "met")
_ACTIVE_KEY_END = "1"  # queue_key of every active case sorts below this (see triage.db.QUEUE_KEY_SQL)
_FREE_TEXT_MAX = 128
FACET_LIMIT = 50


@dataclass(frozen=True)
class CaseQuery:
    """Which cases, in what order, which page. Empty filters select everything (the queue order:
    every active case)."""

    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    causes: Sequence[str] = ()
    sla: Sequence[str] = ()
    assignees: Sequence[str] = ()
    unassigned: bool = False
    products: Sequence[str] = ()
    categories: Sequence[str] = ()
    platforms: Sequence[str] = ()
    order: str = "newest"
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None

    def __post_init__(self) -> None:
        _check_choices("status", self.statuses, STATUSES)
        _check_choices("priority", self.priorities, PRIORITIES)
        _check_choices("cause", self.causes, CAUSES)
        _check_choices("sla", self.sla, SLA_STATES)
        for field, values in (("assignee", self.assignees), ("product", self.products),
                              ("category", self.categories), ("platform", self.platforms)):
            for value in values:
                if not value or len(value) > _FREE_TEXT_MAX:
                    raise BadRequest(f"{field}: values must be 1-{_FREE_TEXT_MAX} characters")
        if self.unassigned and self.assignees:
            raise BadRequest("unassigned: cannot be combined with assignee")
        if self.order not in ORDERS:
            raise BadRequest(f"order (sort): unknown value {self.order!r}; expected one of {', '.join(ORDERS)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        # SQLite's integers are 64-bit; a larger offset would overflow the bound parameter.
        if not 0 <= self.offset < 2**63:
            raise BadRequest(f"offset must be between 0 and {2**63 - 1}, got {self.offset}")
        if self.cursor is not None:
            if self.offset:
                raise BadRequest("cursor: give either cursor or offset, not both")
            _decode_cursor(self.cursor, self.order)


class CasePage(NamedTuple):
    rows: list[sqlite3.Row]
    total: int  # cases matching the filters, whatever the page
    next_cursor: str | None = None  # None on the last page


def _check_choices(field: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequest(f"{field}: unknown value {bad[0]!r}; expected one of {', '.join(allowed)}")


# --------------------------------------------------------------------------------------------
# Cursors: base64url(JSON [order, key, id]), opaque to clients.


def _encode_cursor(order: str, key: Any, case_id: int) -> str:
    raw = json.dumps([order, key, case_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, key, case_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("cursor: not a cursor this API gave out") from None
    if name != order:
        raise BadRequest(f"cursor: it belongs to sort={name}, not sort={order}")
    if not isinstance(key, str) or isinstance(case_id, bool) or not isinstance(case_id, int):
        raise BadRequest("cursor: not a cursor this API gave out")
    return key, case_id


# --------------------------------------------------------------------------------------------
# The query


def _in(column: str, values: Sequence[str], clauses: list[str], params: list[Any], *, indexed: bool = True) -> None:
    """`column IN (values)`. With several values, or `indexed=False`, the term is written
    ``+column`` so SQLite filters rows with it instead of reading an index by it: an index read
    per value would come back out of queue order and need a sort."""
    if not values:
        return
    if len(values) == 1 and indexed:
        clauses.append(f"{column} = ?")
    else:
        clauses.append(f"+{column} IN ({','.join('?' * len(values))})")
    params.extend(values)


def _sla_clause(states: Sequence[str], now: datetime, params: list[Any]) -> str:
    """A case is in each SLA state its worse clock is in (breached > at_risk > ok > met)."""
    fc, res = "sla_first_contact", "sla_resolution"
    breached = breached_sql("?")
    parts = []
    for state in states:
        if state == "breached":
            parts.append(breached)
            params.extend([to_db(now)] * breached.count("?"))
        elif state == "at_risk":
            parts.append(f"(({fc} = 'at_risk' OR {res} = 'at_risk') AND NOT {breached})")
            params.extend([to_db(now)] * breached.count("?"))
        elif state == "ok":
            parts.append(f"(({fc} = 'ok' OR {res} = 'ok') AND {fc} IN ('ok', 'met') AND {res} IN ('ok', 'met')"
                         f" AND NOT {breached})")
            params.extend([to_db(now)] * breached.count("?"))
        else:  # met: both clocks done in time
            parts.append(f"({fc} = 'met' AND {res} = 'met')")
    return f"({' OR '.join(parts)})"


def _where(query: CaseQuery, now: datetime) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    priorities = query.priorities
    if query.order == "queue":
        statuses = query.statuses or ACTIVE_STATUSES
        if all(s not in ACTIVE_STATUSES for s in statuses):
            clauses.append("queue_key >= ?")
            params.append(_ACTIVE_KEY_END)
        elif all(s in ACTIVE_STATUSES for s in statuses):
            # A range on the index's first column: the active cases, in queue order; one priority
            # is a narrower range (the key starts with it).
            if len(priorities) == 1:
                prefix = f"0{priorities[0]}"
                clauses.append("queue_key >= ? AND queue_key < ?")
                params.extend([prefix, prefix + "~"])
                priorities = ()
            else:
                clauses.append("queue_key < ?")
                params.append(_ACTIVE_KEY_END)
        if query.statuses and set(query.statuses) != set(ACTIVE_STATUSES):
            _in("status", query.statuses, clauses, params, indexed=False)
        _in("priority", priorities, clauses, params, indexed=False)
    else:
        _in("status", query.statuses, clauses, params)
        _in("priority", priorities, clauses, params)
    _in("assignee", query.assignees, clauses, params)
    if query.unassigned:
        clauses.append("assignee IS NULL")
    _in("product_id", query.products, clauses, params)
    _in("category", query.categories, clauses, params)
    _in("platform", query.platforms, clauses, params)
    if query.causes:
        # causes is a JSON list of known names: a quoted match cannot hit a longer name by accident.
        clauses.append("(" + " OR ".join("instr(causes, ?) > 0" for _ in query.causes) + ")")
        params.extend(f'"{c}"' for c in query.causes)
    if query.sla:
        clauses.append(_sla_clause(query.sla, now, params))
    return clauses, params


def list_cases(conn: sqlite3.Connection, query: CaseQuery, *, now: datetime | None = None) -> CasePage:
    """One page of the cases `query` selects, in its order, and how many it selects in all.

    A query filtered by status and priority alone (the usual list, the queue's default) takes its
    total from the counters the triggers keep (migration 040) instead of counting its rows. An
    offset page is read as ids first, from the index alone, then only those rows: a deep offset
    skips index entries, not table rows. One read transaction, so the total and the page are one
    snapshot.
    """
    now = now or utcnow()
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        total = _total(conn, query, now)
        if query.offset:
            sql, page_params = page_sql(query, now, columns="id")
            ids = [r[0] for r in conn.execute(sql, page_params)]
            by_id = {}
            if ids:
                marks = ",".join("?" * len(ids))
                by_id = {r["id"]: r for r in conn.execute(f"SELECT * FROM cases WHERE id IN ({marks})", ids)}
            rows = [by_id[i] for i in ids]
        else:
            sql, page_params = page_sql(query, now)
            rows = conn.execute(sql, page_params).fetchall()
    finally:
        if own:
            conn.execute("COMMIT")
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        column, _ = ORDERS[query.order]
        last = rows[-1]
        next_cursor = _encode_cursor(query.order, last[column], last["id"])
    return CasePage(rows, total, next_cursor)


def _total(conn: sqlite3.Connection, query: CaseQuery, now: datetime) -> int:
    counted_only = not (query.causes or query.sla or query.assignees or query.unassigned or query.products
                        or query.categories or query.platforms)
    if counted_only:
        default = ACTIVE_STATUSES if query.order == "queue" else STATUSES
        return case_count(counters(conn), query.statuses or default, query.priorities or PRIORITIES)
    clauses, params = _where(query, now)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return conn.execute(f"SELECT COUNT(*) FROM cases{where}", params).fetchone()[0]


def page_sql(query: CaseQuery, now: datetime | None = None, *, columns: str = "*") -> tuple[str, list[Any]]:
    """The SQL (and parameters) of one page: `limit + 1` rows, the extra one telling whether there
    is a next page. Public so tests can hold its plan to the index."""
    clauses, params = _where(query, now or utcnow())
    column, descending = ORDERS[query.order]
    if query.cursor is not None:
        key, case_id = _decode_cursor(query.cursor, query.order)
        clauses.append(f"({column}, id) {'<' if descending else '>'} (?, ?)")
        params.extend([key, case_id])
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    direction = " DESC" if descending else ""
    sql = (f"SELECT {columns} FROM cases{where} ORDER BY {column}{direction}, id{direction}"
           f" LIMIT ? OFFSET ?")
    return sql, [*params, query.limit + 1, query.offset]


def queue_counts(conn: sqlite3.Connection, *, username: str | None = None, now: datetime | None = None
                 ) -> dict[str, Any]:
    """Figures for the queue's filters over the active cases: {"total", "status": {...},
    "priority": {...}, "cause": {...}, "sla": {...}, "top_tier", "unassigned", "mine"} in one pass
    of the queue index (mine: held by `username`), and the most frequent values of "category",
    "platform" and "product" ({value: count}, at most `FACET_LIMIT` each, most frequent first)."""
    now_db = to_db(now or utcnow())
    breached = breached_sql(":now")
    sums = [
        *(f"COALESCE(SUM(status = '{s}'), 0) AS status_{s}" for s in ACTIVE_STATUSES),
        *(f"COALESCE(SUM(priority = '{p}'), 0) AS priority_{p}" for p in PRIORITIES),
        *(f"COALESCE(SUM(instr(causes, '\"{c}\"') > 0), 0) AS cause_{c}" for c in CAUSES),
        f"COALESCE(SUM({breached}), 0) AS sla_breached",
        f"COALESCE(SUM(NOT {breached} AND (sla_first_contact = 'at_risk' OR sla_resolution = 'at_risk')), 0)"
        " AS sla_at_risk",
        "COALESCE(SUM(value_tier = 'top'), 0) AS top_tier",
        "COALESCE(SUM(assignee IS NULL), 0) AS unassigned",
        "COALESCE(SUM(assignee = :me), 0) AS mine",
    ]
    row = conn.execute(
        f"SELECT COUNT(*) AS total, {', '.join(sums)} FROM cases WHERE queue_key < :end",
        {"now": now_db, "me": username, "end": _ACTIVE_KEY_END},
    ).fetchone()
    out: dict[str, Any] = {"total": row["total"], "status": {}, "priority": {}, "cause": {}, "sla": {}}
    for key in row.keys():
        group, _, name = key.partition("_")
        if group in ("status", "priority", "cause", "sla") and name:
            out[group][name] = row[key]
    out["sla"]["ok"] = row["total"] - out["sla"]["breached"] - out["sla"]["at_risk"]
    out.update(top_tier=row["top_tier"], unassigned=row["unassigned"], mine=row["mine"] if username else 0)
    for column, name in (("category", "category"), ("platform", "platform"), ("product_id", "product")):
        out[name] = {
            r[0]: r[1] for r in conn.execute(
                f"SELECT {column}, COUNT(*) AS n FROM cases WHERE queue_key < ? AND {column} IS NOT NULL"
                f" GROUP BY {column} ORDER BY n DESC, {column} LIMIT ?",
                (_ACTIVE_KEY_END, FACET_LIMIT),
            )
        }
    return out
