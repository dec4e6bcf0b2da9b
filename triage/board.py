"""The supervisors' live board, read side: workload per agent, the unassigned queue by priority,
the cases at risk or breached right now, and the filter a bulk reassignment moves.

Every count reads the active cases only (``status`` open, claimed, contacted, waiting_customer;
the partial index ``cases_board``) and says *breached* and *at risk* by `triage.metrics.cases`'
rules as of `now`, so the board agrees with the stats API and the weekly report to the second.
Reassigning is not done here: the board calls `triage.cases.actions.bulk_assign`, which audits
every move in the case's timeline.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage.cases.store import ACTIVE_STATUSES
from triage.errors import ValidationFailed
from triage.metrics.cases import at_risk_sql, breached_sql, next_due_sql, stored_at_risk_sql
from triage.sla import PRIORITIES
from triage.timeutil import from_db, to_db

__all__ = [
    "MAX_BULK",
    "SLA_FILTERS",
    "UNASSIGNED",
    "AgentLoad",
    "CaseFilter",
    "UrgentCase",
    "matching_cases",
    "unassigned_by_priority",
    "urgent_cases",
    "workload",
]

MAX_BULK = 500  # one reassignment moves at most this many cases; narrow the filter for more
UNASSIGNED = "-"  # the filter value for "nobody holds it"
SLA_FILTERS = ("breached", "at_risk", "ok")
_ACTIVE = "status IN ('open', 'claimed', 'contacted', 'waiting_customer')"
# Breached and at risk of one case with the breach rules evaluated once (they are most of a
# count's cost over tens of thousands of active cases): a breached case adds 1, one at risk
# (not breached, a running clock stored at_risk) adds 2**32; `_unpack` splits the sum.
_PACKED = f"(CASE WHEN {breached_sql()} THEN 1 WHEN {stored_at_risk_sql()} THEN {1 << 32} ELSE 0 END)"


def _unpack(total: int | None) -> tuple[int, int]:
    """(at risk, breached) from a sum of `_PACKED`."""
    return divmod(total or 0, 1 << 32)


@dataclass(frozen=True)
class AgentLoad:
    username: str
    claimed: int  # held, not contacted yet (status claimed)
    open: int  # every active case the agent holds
    at_risk: int
    breached: int


def workload(conn: sqlite3.Connection, now: datetime, agents: list[str]) -> list[AgentLoad]:
    """Active cases per assignee: `agents` first, in their order (zeros included), then anyone else
    still holding cases (a disabled agent's leftovers must stay visible)."""
    rows = conn.execute(
        f"""
        SELECT assignee, SUM(status = 'claimed') AS claimed, COUNT(*) AS open, SUM({_PACKED}) AS packed
        FROM cases INDEXED BY cases_board
        WHERE assignee IS NOT NULL AND {_ACTIVE}
        GROUP BY assignee
        """,
        {"now": to_db(now)},
    ).fetchall()
    found = {r["assignee"]: AgentLoad(r["assignee"], r["claimed"], r["open"], *_unpack(r["packed"])) for r in rows}
    loads = [found.pop(name, AgentLoad(name, 0, 0, 0, 0)) for name in agents]
    return loads + [found[name] for name in sorted(found)]


def unassigned_by_priority(conn: sqlite3.Connection, now: datetime) -> dict[str, dict[str, int]]:
    """{priority: {"total", "at_risk", "breached"}} over active cases nobody holds; every priority present."""
    # One index range per priority (a correlated subquery) instead of a GROUP BY, which would sort.
    values = ", ".join(f"(:p{i})" for i in range(len(PRIORITIES)))
    rows = conn.execute(
        f"""
        WITH p(priority) AS (VALUES {values})
        SELECT p.priority, (SELECT json_array(COUNT(*), COALESCE(SUM({_PACKED}), 0))
                            FROM cases INDEXED BY cases_board
                            WHERE assignee IS NULL AND {_ACTIVE} AND priority = p.priority)
        FROM p
        """,
        {"now": to_db(now), **{f"p{i}": p for i, p in enumerate(PRIORITIES)}},
    ).fetchall()
    counts = {}
    for priority, packed in rows:
        total, both = json.loads(packed)
        at_risk, breached = _unpack(both)
        counts[priority] = {"total": total, "at_risk": at_risk, "breached": breached}
    return counts


@dataclass(frozen=True)
class UrgentCase:
    id: int
    customer_id: str
    priority: str
    status: str
    assignee: str | None
    causes: list[str]
    state: str  # "breached" | "at_risk"
    due: datetime | None  # the due time of the clock it is racing (past for a breach)
    clock: str  # "first_contact" | "resolution"


def urgent_cases(conn: sqlite3.Connection, now: datetime, *, limit: int = 50) -> tuple[list[UrgentCase], int]:
    """Active cases breached or at risk at `now`, soonest due first (the longest overdue on top,
    then those about to breach); and how many there are in all."""
    params = {"now": to_db(now), "limit": limit}
    # breached, or at risk (= not breached and stored at_risk): breached or stored at_risk.
    condition = f"{_ACTIVE} AND ({breached_sql()} OR {stored_at_risk_sql()})"
    # Order and pick from the covering index alone; only the page's rows are read from the table.
    total = conn.execute(f"SELECT COUNT(*) FROM cases INDEXED BY cases_board WHERE {condition}", params).fetchone()[0]
    picked = conn.execute(
        f"""
        SELECT id, {breached_sql()} AS breached, {next_due_sql()} AS due
        FROM cases INDEXED BY cases_board
        WHERE {condition}
        ORDER BY due IS NULL, due, id
        LIMIT :limit
        """,
        params,
    ).fetchall()
    details = {r["id"]: r for r in conn.execute(
        f"SELECT id, customer_id, priority, status, assignee, causes, first_contacted_at FROM cases"
        f" WHERE id IN ({','.join('?' * len(picked))})", [p["id"] for p in picked])} if picked else {}
    cases = []
    for p in picked:
        r = details[p["id"]]
        cases.append(UrgentCase(r["id"], r["customer_id"], r["priority"], r["status"], r["assignee"],
                                _causes(r["causes"]), "breached" if p["breached"] else "at_risk", from_db(p["due"]),
                                "first_contact" if r["first_contacted_at"] is None else "resolution"))
    return cases, total


def _causes(value: str | None) -> list[str]:
    try:
        causes = json.loads(value or "[]")
    except ValueError:
        return []
    return [c for c in causes if isinstance(c, str)]


@dataclass(frozen=True)
class CaseFilter:
    """Which active cases a bulk reassignment moves. None means any.

    assignee: a username, or `UNASSIGNED` for cases nobody holds; priority: P1/P2/P3;
    status: an active status; sla: breached / at_risk / ok (neither) as of `now`.
    """

    assignee: str | None = None
    priority: str | None = None
    status: str | None = None
    sla: str | None = None

    @classmethod
    def parse(cls, values: dict[str, Any]) -> CaseFilter:
        """From form fields (blank = any); raises ValidationFailed naming each bad field."""
        clean = {k: (str(values.get(k) or "").strip() or None) for k in ("assignee", "priority", "status", "sla")}
        items = []
        for name, allowed in (("priority", PRIORITIES), ("status", ACTIVE_STATUSES), ("sla", SLA_FILTERS)):
            if clean[name] is not None and clean[name] not in allowed:
                items.append({"field": name, "message": f"must be one of {', '.join(allowed)}"})
        if items:
            raise ValidationFailed(items, "bad filter", code="invalid_filter")
        return cls(**clean)

    @property
    def is_empty(self) -> bool:
        return not any((self.assignee, self.priority, self.status, self.sla))

    def where(self) -> tuple[str, dict[str, Any]]:
        parts, params = [_ACTIVE], {}
        if self.assignee == UNASSIGNED:
            parts.append("assignee IS NULL")
        elif self.assignee is not None:
            parts.append("assignee = :assignee")
            params["assignee"] = self.assignee
        if self.priority is not None:
            parts.append("priority = :priority")
            params["priority"] = self.priority
        if self.status is not None:
            parts.append("status = :status")
            params["status"] = self.status
        if self.sla == "breached":
            parts.append(breached_sql())
        elif self.sla == "at_risk":
            parts.append(at_risk_sql())
        elif self.sla == "ok":
            parts.append(f"NOT {breached_sql()} AND NOT {at_risk_sql()}")
        return " AND ".join(parts), params


def matching_cases(conn: sqlite3.Connection, case_filter: CaseFilter, now: datetime, *,
                   limit: int = MAX_BULK) -> tuple[list[int], int]:
    """Ids of the active cases the filter selects (at most `limit`, soonest due first) and their count."""
    where, params = case_filter.where()
    params = {**params, "now": to_db(now), "limit": limit}
    total = conn.execute(f"SELECT COUNT(*) FROM cases INDEXED BY cases_board WHERE {where}", params).fetchone()[0]
    ids = [r[0] for r in conn.execute(
        f"SELECT id FROM cases INDEXED BY cases_board WHERE {where} ORDER BY {next_due_sql()} IS NULL, {next_due_sql()}, id LIMIT :limit",
        params,
    )]
    return ids, total
