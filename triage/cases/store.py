"""Case rows: reading them, the audit trail, pauses, stored SLA clocks, and opening or joining a case.

`add_review` and `refresh_sla` are building blocks for bigger operations (applying a batch of
scores, an SLA check, a transition) and run inside the caller's transaction.

SLA clocks start when the case opens. A priority raise recomputes both dues from that original
start with the new priority's targets.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from classifier.causes import CAUSES
from triage import sla
from triage.cases.clocks import CLOCKS, Clocks, compute_clocks
from triage.errors import Conflict
from triage.timeutil import from_db, to_db, to_wire

__all__ = [
    "ACTIVE_STATUSES",
    "STATUSES",
    "SYSTEM",
    "AddResult",
    "add_event",
    "add_review",
    "get_case",
    "higher_priority",
    "load_pauses",
    "load_pauses_of",
    "ordered_causes",
    "refresh_sla",
    "row_clocks",
]

# The schema's CHECK constraint and its one-active-case-per-customer index say the same.
STATUSES = ("open", "claimed", "contacted", "waiting_customer", "resolved", "closed")
ACTIVE_STATUSES = ("open", "claimed", "contacted", "waiting_customer")
SYSTEM = "system"
_PRIORITY_RANK = {"P1": 0, "P2": 1, "P3": 2}
_ESCALATING = ("at_risk", "breached")  # states worth an audit event when a clock enters them


class AddResult(NamedTuple):
    case_id: int
    opened: bool
    priority_changed: bool  # joined and raised the case's priority (its SLA dues moved)

    @property
    def sla_changed(self) -> bool:
        return self.opened or self.priority_changed


def higher_priority(a: str, b: str) -> str:
    return a if _PRIORITY_RANK[a] <= _PRIORITY_RANK[b] else b


def get_case(conn: sqlite3.Connection, case_id: int) -> sqlite3.Row | None:
    """The case's row, or None; an id beyond SQLite's 64-bit integers is no case (not an OverflowError)."""
    if not -(2**63) <= case_id < 2**63:
        return None
    return conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()


def load_pauses(conn: sqlite3.Connection, case_id: int) -> list[sla.Pause]:
    rows = conn.execute(
        "SELECT paused_at, resumed_at FROM case_pauses WHERE case_id = ? ORDER BY paused_at", (case_id,)
    )
    return [(from_db(r["paused_at"]), from_db(r["resumed_at"])) for r in rows]


def load_pauses_of(conn: sqlite3.Connection, case_ids: Sequence[int]) -> dict[int, list[sla.Pause]]:
    """Pauses of several cases in one query: {case id: pauses in order} (every id present)."""
    pauses: dict[int, list[sla.Pause]] = {i: [] for i in case_ids}
    if case_ids:
        marks = ",".join("?" * len(case_ids))
        for r in conn.execute(
            # In the index's order (case, then time): no sort, whatever the number of cases.
            f"SELECT case_id, paused_at, resumed_at FROM case_pauses WHERE case_id IN ({marks})"
            " ORDER BY case_id, paused_at",
            list(case_ids),
        ):
            pauses[r["case_id"]].append((from_db(r["paused_at"]), from_db(r["resumed_at"])))
    return pauses


def add_event(
    conn: sqlite3.Connection,
    case_id: int,
    kind: str,
    now: datetime,
    actor: str = SYSTEM,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event to the case's trail (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO case_events (case_id, at, actor, kind, from_status, to_status, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (case_id, to_db(now), actor, kind, from_status, to_status,
         json.dumps(detail, ensure_ascii=False) if detail is not None else None),
    )


# --------------------------------------------------------------------------------------------
# Stored SLA clocks


def row_clocks(row: sqlite3.Row | dict[str, Any], pauses: Sequence[sla.Pause], policy: sla.SlaPolicy,
               now: datetime) -> Clocks:
    """The clocks of a stored case (its row and pauses) as seen at `now`."""
    return compute_clocks(
        priority=row["priority"],
        started_at=from_db(row["sla_started_at"]),
        first_contacted_at=from_db(row["first_contacted_at"]),
        resolved_at=from_db(row["resolved_at"]),
        active=row["status"] in ACTIVE_STATUSES,
        pauses=pauses,
        policy=policy,
        now=now,
    )


def _store_clocks(conn: sqlite3.Connection, row: sqlite3.Row, clocks: Clocks, now: datetime) -> list[tuple[str, str]]:
    """Write dues, states and the next check; audit each clock entering at_risk or breached."""
    changes = []
    for clock in CLOCKS:
        before, after = row[f"sla_{clock}"], getattr(clocks, clock)
        if before != after:
            changes.append((clock, after))
            if after in _ESCALATING:
                due = getattr(clocks, f"{clock}_due")
                add_event(conn, row["id"], f"sla_{after}", now, detail={"clock": clock, "due": to_wire(due)})
    conn.execute(
        "UPDATE cases SET first_contact_due = ?, resolution_due = ?, sla_first_contact = ?, sla_resolution = ?,"
        " sla_next_check_at = ? WHERE id = ?",
        (
            _db_or_none(clocks.first_contact_due),
            _db_or_none(clocks.resolution_due),
            clocks.first_contact,
            clocks.resolution,
            _db_or_none(clocks.next_check),
            row["id"],
        ),
    )
    return changes


def refresh_sla(conn: sqlite3.Connection, case_id: int, now: datetime, policy: sla.SlaPolicy) -> list[tuple[str, str]]:
    """Recompute and store a case's clocks at `now` (inside the caller's transaction).

    Returns the (clock, new state) pairs that changed.
    """
    row = get_case(conn, case_id)
    if row is None:
        return []
    return _store_clocks(conn, row, row_clocks(row, load_pauses(conn, case_id), policy, now), now)


def _db_or_none(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


# --------------------------------------------------------------------------------------------
# Opening and joining


def ordered_causes(causes: Iterable[str]) -> list[str]:
    """A case's causes: the known ones in their fixed order, then any others sorted."""
    wanted = set(causes)
    return [c for c in CAUSES if c in wanted] + sorted(wanted - set(CAUSES))


def add_review(
    conn: sqlite3.Connection,
    *,
    review_pk: int,
    customer_id: str,
    priority: str,
    risk: float,
    causes: Sequence[str],
    now: datetime,
    policy: sla.SlaPolicy,
    refresh: bool = True,
) -> AddResult:
    """Put an at-risk review into its customer's active case, opening one if there is none.

    Returns (case id, opened, priority changed). Race-safe without relying on the caller's lock: the insert yields
    to the partial unique index (one active case per customer) and the loser joins the winner.
    The caller links the review (reviews.case_id). ``refresh=False`` leaves the SLA clocks to
    the caller, who must `refresh_sla` the case before committing (a batch does it once per case).
    """
    cur = conn.execute(
        "INSERT INTO cases (customer_id, priority, status, causes, risk, opened_at, updated_at, sla_started_at)"
        " VALUES (?, ?, 'open', ?, ?, ?, ?, ?)"
        " ON CONFLICT (customer_id) WHERE status NOT IN ('resolved', 'closed') DO NOTHING",
        (customer_id, priority, json.dumps(ordered_causes(causes)), risk, to_db(now), to_db(now), to_db(now)),
    )
    if cur.rowcount == 1:
        case_id = int(cur.lastrowid)
        _show_review(conn, case_id, review_pk)
        add_event(conn, case_id, "opened", now, to_status="open",
                  detail={"review_pk": review_pk, "priority": priority, "risk": round(risk, 4)})
        if refresh:
            refresh_sla(conn, case_id, now, policy)
        return AddResult(case_id, True, False)
    row = conn.execute(
        "SELECT * FROM cases WHERE customer_id = ? AND status NOT IN ('resolved', 'closed')", (customer_id,)
    ).fetchone()
    if row is None:  # only if the active case was resolved between the two statements
        raise Conflict(f"customer {customer_id!r}: active case changed concurrently")
    raised = _join(conn, row, review_pk, priority, risk, causes, now, policy, refresh)
    _show_review(conn, row["id"], review_pk)
    return AddResult(row["id"], False, raised)


def _show_review(conn: sqlite3.Connection, case_id: int, review_pk: int) -> None:
    # The queue shows (and filters on) the product, category and platform of the latest review.
    conn.execute(
        "UPDATE cases SET (product_id, category, platform) = (SELECT product_id, category, platform FROM reviews"
        " WHERE id = ?) WHERE id = ?",
        (review_pk, case_id),
    )


def _join(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    review_pk: int,
    priority: str,
    risk: float,
    causes: Sequence[str],
    now: datetime,
    policy: sla.SlaPolicy,
    refresh: bool,
) -> bool:
    case_id = row["id"]
    new_priority = higher_priority(row["priority"], priority)
    merged = ordered_causes([*json.loads(row["causes"]), *causes])
    conn.execute(
        "UPDATE cases SET priority = ?, causes = ?, risk = MAX(risk, ?), updated_at = ?, version = version + 1"
        " WHERE id = ?",
        (new_priority, json.dumps(merged), risk, to_db(now), case_id),
    )
    add_event(conn, case_id, "review_added", now,
              detail={"review_pk": review_pk, "priority": priority, "risk": round(risk, 4)})
    if new_priority != row["priority"]:
        add_event(conn, case_id, "priority_changed", now,
                  detail={"from": row["priority"], "to": new_priority, "review_pk": review_pk})
        if refresh:
            refresh_sla(conn, case_id, now, policy)
        return True
    return False
