"""The agents' queue page: which cases, in what order, one keyset page at a time, and the counts
each filter would give.

Order (the contract's queue sort): priority (P1 first), then value tier (top-10% customers
first), then the nearest due time of the clock the agent races now (first contact until it is
made, then resolution), then the case id. Pages are keyset pages: the cursor is the sort key of
the last row shown, so a case arriving or leaving meanwhile never shifts a page by one.

Filters: status (default: every active status), priority, cause, SLA state, mine / unassigned,
and the category, product and platform of the case's reviews. SLA states are the stored ones
(kept current by the SLA timers): a case is `breached` if either clock is, else `at_risk` if
either is, else `ok`.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from classifier.causes import CAUSES
from triage.cases.store import ACTIVE_STATUSES, STATUSES
from triage.errors import BadRequest
from triage.sla import PRIORITIES

__all__ = ["PAGE_SIZE", "SLA_FILTERS", "QueueFilter", "QueuePage", "filter_counts", "queue_page"]

PAGE_SIZE = 50
SLA_FILTERS = ("breached", "at_risk", "ok")
ASSIGNEE_FILTERS = ("mine", "unassigned")

# The due time the agent races now; NULL (a paused clock) sorts last.
DUE_KEY = "COALESCE(CASE WHEN c.first_contacted_at IS NULL THEN c.first_contact_due ELSE c.resolution_due END, '9999')"
TIER_KEY = "CASE c.value_tier WHEN 'top' THEN 0 ELSE 1 END"
SLA_KEY = ("CASE WHEN c.sla_first_contact = 'breached' OR c.sla_resolution = 'breached' THEN 'breached'"
           " WHEN c.sla_first_contact = 'at_risk' OR c.sla_resolution = 'at_risk' THEN 'at_risk' ELSE 'ok' END")


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = ACTIVE_STATUSES
    priorities: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    sla: tuple[str, ...] = ()
    assignee: str | None = None          # "mine" | "unassigned" | None
    me: str | None = None                # the viewer's username (for "mine")
    category: str | None = None
    product: str | None = None           # product_id
    platform: str | None = None

    def __post_init__(self) -> None:
        for name, values, allowed in (("status", self.statuses, STATUSES), ("priority", self.priorities, PRIORITIES),
                                      ("cause", self.causes, CAUSES), ("sla", self.sla, SLA_FILTERS)):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise BadRequest(f"{name}: unknown value {bad[0]!r}; expected one of {', '.join(allowed)}")
        if self.assignee not in (None, *ASSIGNEE_FILTERS):
            raise BadRequest(f"assignee: unknown value {self.assignee!r}; expected mine or unassigned")
        if self.assignee == "mine" and not self.me:
            raise BadRequest("assignee=mine needs the viewer's username")

    def without(self, facet: str) -> QueueFilter:
        """This filter with one facet cleared (the counts of a facet's options ignore its own choice)."""
        empty: dict[str, Any] = {"status": {"statuses": STATUSES}, "priority": {"priorities": ()},
                                 "cause": {"causes": ()}, "sla": {"sla": ()}, "assignee": {"assignee": None},
                                 "category": {"category": None}, "product": {"product": None},
                                 "platform": {"platform": None}}[facet]
        return replace(self, **empty)


@dataclass
class QueueRow:
    case: sqlite3.Row
    latest: sqlite3.Row | None       # the case's newest review


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def _review_clause(column: str) -> str:
    return f"EXISTS (SELECT 1 FROM reviews r WHERE r.case_id = c.id AND r.{column} = ?)"


def _where(f: QueueFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if set(f.statuses) != set(STATUSES):
        clauses.append(f"c.status IN ({','.join('?' * len(f.statuses))})")
        params += list(f.statuses)
    if f.priorities:
        clauses.append(f"c.priority IN ({','.join('?' * len(f.priorities))})")
        params += list(f.priorities)
    if f.causes:
        clauses.append("(" + " OR ".join("c.causes LIKE ?" for _ in f.causes) + ")")
        params += [f'%"{cause}"%' for cause in f.causes]
    if f.sla:
        clauses.append(f"{SLA_KEY} IN ({','.join('?' * len(f.sla))})")
        params += list(f.sla)
    if f.assignee == "mine":
        clauses.append("c.assignee = ?")
        params.append(f.me)
    elif f.assignee == "unassigned":
        clauses.append("c.assignee IS NULL")
    for column, value in (("category", f.category), ("product_id", f.product), ("platform", f.platform)):
        if value:
            clauses.append(_review_clause(column))
            params.append(value)
    return clauses, params


def encode_cursor(row: sqlite3.Row) -> str:
    key = [row["priority"], row["tier_key"], row["due_key"], row["id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("cursor: not a cursor this page gave out") from None
    if (not isinstance(key, list) or len(key) != 4 or not isinstance(key[0], str) or not isinstance(key[1], int)
            or not isinstance(key[2], str) or not isinstance(key[3], int)):
        raise BadRequest("cursor: not a cursor this page gave out")
    return key


def queue_page(conn: sqlite3.Connection, f: QueueFilter, *, after: str | None = None,
               limit: int = PAGE_SIZE) -> QueuePage:
    """One page of the queue in queue order, starting after `after` (a cursor), with the newest
    review of each case."""
    clauses, params = _where(f)
    if after:
        clauses.append(f"(c.priority, {TIER_KEY}, {DUE_KEY}, c.id) > (?, ?, ?, ?)")
        params += decode_cursor(after)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT c.*, {TIER_KEY} AS tier_key, {DUE_KEY} AS due_key FROM cases c{where}"
        f" ORDER BY c.priority, tier_key, due_key, c.id LIMIT ?",
        [*params, limit + 1],
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    latest = _latest_reviews(conn, [r["id"] for r in rows])
    return QueuePage([QueueRow(r, latest.get(r["id"])) for r in rows],
                     encode_cursor(rows[-1]) if more and rows else None)


def _latest_reviews(conn: sqlite3.Connection, case_ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    if not case_ids:
        return {}
    marks = ",".join("?" * len(case_ids))
    out: dict[int, sqlite3.Row] = {}
    for r in conn.execute(
        f"SELECT id, case_id, platform, review_id, text, rating, customer_name, product_id, product_name, category,"
        f" created_at FROM reviews WHERE case_id IN ({marks}) ORDER BY created_at, id", list(case_ids)
    ):
        out[r["case_id"]] = r  # ascending: the last one kept is the newest
    return out


def filter_counts(conn: sqlite3.Connection, f: QueueFilter, *, top_values: int = 30) -> dict[str, dict[str, int]]:
    """For each facet, how many cases each of its options would show, the other facets' choices
    applied (a facet's own choice is ignored, so its options stay visible). Category, product and
    platform list their most frequent values (at most `top_values`)."""
    counts: dict[str, dict[str, int]] = {}

    def grouped(facet: str, expr: str, join: str = "", count: str = "COUNT(*)") -> dict[str, int]:
        clauses, params = _where(f.without(facet))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = (f"SELECT {expr} AS k, {count} AS n FROM cases c{join}{where} GROUP BY k ORDER BY n DESC LIMIT ?")
        return {str(k): n for k, n in conn.execute(sql, [*params, top_values]) if k is not None}

    counts["status"] = grouped("status", "c.status")
    counts["priority"] = grouped("priority", "c.priority")
    counts["sla"] = grouped("sla", SLA_KEY)
    counts["cause"] = grouped("cause", "j.value", ", json_each(c.causes) j")
    clauses, params = _where(f.without("assignee"))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    mine, unassigned, total = conn.execute(
        f"SELECT COALESCE(SUM(c.assignee = ?), 0), COALESCE(SUM(c.assignee IS NULL), 0), COUNT(*) FROM cases c{where}",
        [f.me, *params],
    ).fetchone()
    counts["assignee"] = {"mine": mine, "unassigned": unassigned, "all": total}
    distinct = "COUNT(DISTINCT c.id)"
    counts["category"] = grouped("category", "r.category", " JOIN reviews r ON r.case_id = c.id", distinct)
    counts["product"] = grouped("product", "r.product_id", " JOIN reviews r ON r.case_id = c.id", distinct)
    counts["platform"] = grouped("platform", "r.platform", " JOIN reviews r ON r.case_id = c.id", distinct)
    return counts


def product_names(conn: sqlite3.Connection, product_ids: Sequence[str]) -> dict[str, str]:
    """A display name per product id (its most recent review's product_name)."""
    out: dict[str, str] = {}
    for pid in product_ids:
        row = conn.execute(
            "SELECT product_name FROM reviews WHERE product_id = ? AND product_name IS NOT NULL"
            " ORDER BY created_at DESC LIMIT 1", (pid,)
        ).fetchone()
        out[pid] = row[0] if row else pid
    return out
