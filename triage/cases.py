"""Complaint cases: one per customer while unresolved, their life cycle, SLA clocks and audit trail.

`transition` is a whole operation and runs its own transaction. `add_review` and `refresh_sla`
are building blocks for bigger operations (applying a batch of scores, an SLA check) and run
inside the caller's transaction.

Life cycle
----------
::

    open ──claim──▶ claimed ──▶ contacted ──▶ waiting_customer ──▶ contacted
      ▲               │            │                  │
      └───release─────┘            ▼                  ▼
                                resolved ◀────────────┘
                                   │  ╲──reopen──▶ contacted
                                   ▼
                                 closed (final)

* ``claimed`` sets the assignee (the given one, else the actor); ``claimed → open`` releases it.
* Entering ``contacted`` the first time records ``first_contacted_at`` (the first-contact clock
  stops there).
* ``waiting_customer`` opens a pause of both clocks (a ``case_pauses`` row); leaving it closes
  the pause and the dues move later by the paused business time.
* ``resolved`` records ``resolved_at`` (and an optional resolution: refund, resend, apology,
  explained, other). Reopening (``resolved → contacted``, the customer is not satisfied) clears
  it: the resolution clock was never really stopped, so the time spent "resolved" counts. A
  reopen is refused while the customer has another active case (one active case per customer).
* ``closed`` is final; a later complaint by the customer opens a new case.

Every change is an append-only ``case_events`` row (opened, review_added, priority_changed,
status_changed, sla_at_risk, sla_breached; `triage.escalation` adds escalated) with actor and
time. ``cases.version`` grows with every change an agent cares about (not with SLA state), and
`transition` refuses a stale ``expected_version`` (optimistic locking for the agents' queue).

SLA clocks start when the case opens. A priority raise recomputes both dues from that original
start with the new priority's targets.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from classifier.causes import CAUSES
from triage import sla
from triage.db import transaction
from triage.errors import Conflict, NotFound
from triage.timeutil import from_db, to_db, to_wire, wire_from_db

__all__ = [
    "ACTIVE_STATUSES",
    "RESOLUTIONS",
    "STATUSES",
    "TRANSITIONS",
    "AddResult",
    "Clocks",
    "InvalidTransition",
    "VersionConflict",
    "add_event",
    "add_review",
    "case_to_json",
    "cases_to_json",
    "compute_clocks",
    "get_case",
    "higher_priority",
    "load_pauses",
    "refresh_sla",
    "transition",
]

STATUSES = ("open", "claimed", "contacted", "waiting_customer", "resolved", "closed")
ACTIVE_STATUSES = ("open", "claimed", "contacted", "waiting_customer")
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"claimed"}),
    "claimed": frozenset({"open", "contacted"}),
    "contacted": frozenset({"waiting_customer", "resolved"}),
    "waiting_customer": frozenset({"contacted", "resolved"}),
    "resolved": frozenset({"closed", "contacted"}),
    "closed": frozenset(),
}
RESOLUTIONS = ("refund", "resend", "apology", "explained", "other")
_PRIORITY_RANK = {"P1": 0, "P2": 1, "P3": 2}
_CLOCKS = ("first_contact", "resolution")
_ESCALATING = ("at_risk", "breached")  # states worth an audit event when a clock enters them
SYSTEM = "system"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class VersionConflict(Conflict):
    code = "version_conflict"


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
    return conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()


def load_pauses(conn: sqlite3.Connection, case_id: int) -> list[sla.Pause]:
    rows = conn.execute(
        "SELECT paused_at, resumed_at FROM case_pauses WHERE case_id = ? ORDER BY paused_at", (case_id,)
    )
    return [(from_db(r["paused_at"]), from_db(r["resumed_at"])) for r in rows]


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
# SLA clocks


@dataclass(frozen=True)
class Clocks:
    first_contact_due: datetime | None  # None while a pause stops the clock short of its target
    resolution_due: datetime | None
    first_contact: sla.ClockState
    resolution: sla.ClockState
    next_check: datetime | None  # next instant a running clock changes state


def compute_clocks(
    *,
    priority: str,
    started_at: datetime,
    first_contacted_at: datetime | None,
    resolved_at: datetime | None,
    active: bool,
    pauses: Sequence[sla.Pause],
    policy: sla.SlaPolicy,
    now: datetime,
) -> Clocks:
    """Both clocks of a case as seen at `now`. Pure (and memoized: a batch opens many cases with
    the same start, priority and `now`, and the calendar walk is the costly part of applying)."""
    return _compute_clocks(_Identity(policy), priority, started_at, first_contacted_at, resolved_at, active,
                           tuple(pauses), now)


class _Identity:
    """Hashes a policy by identity (it holds dicts), so it can be part of a cache key."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


@functools.lru_cache(maxsize=4096)
def _compute_clocks(
    policy_ref: _Identity,
    priority: str,
    started_at: datetime,
    first_contacted_at: datetime | None,
    resolved_at: datetime | None,
    active: bool,
    pauses: tuple[sla.Pause, ...],
    now: datetime,
) -> Clocks:
    policy: sla.SlaPolicy = policy_ref.obj  # type: ignore[assignment]
    targets = policy.targets[priority]
    calendar, fraction = policy.calendar, policy.at_risk_fraction
    done = {"first_contact": first_contacted_at, "resolution": resolved_at}
    target = {"first_contact": targets.first_contact, "resolution": targets.resolution}
    dues = {c: sla.due_at(started_at, target[c], calendar, pauses) for c in _CLOCKS}
    states = {c: sla.clock_state(started_at, target[c], done[c], now, calendar, pauses, fraction) for c in _CLOCKS}
    upcoming = []
    if active:
        for c in _CLOCKS:
            if done[c] is None:
                moment = sla.next_transition(started_at, target[c], now, calendar, pauses, fraction)
                if moment is not None:
                    upcoming.append(moment)
    return Clocks(dues["first_contact"], dues["resolution"], states["first_contact"], states["resolution"],
                  min(upcoming, default=None))


def _clocks_for(row: sqlite3.Row | dict[str, Any], pauses: Sequence[sla.Pause], policy: sla.SlaPolicy,
                now: datetime) -> Clocks:
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
    for clock in _CLOCKS:
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
    return _store_clocks(conn, row, _clocks_for(row, load_pauses(conn, case_id), policy, now), now)


def _db_or_none(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


# --------------------------------------------------------------------------------------------
# Opening and joining


def _ordered_causes(causes: Iterable[str]) -> list[str]:
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
        (customer_id, priority, json.dumps(_ordered_causes(causes)), risk, to_db(now), to_db(now), to_db(now)),
    )
    if cur.rowcount == 1:
        case_id = int(cur.lastrowid)
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
    return AddResult(row["id"], False, raised)


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
    merged = _ordered_causes([*json.loads(row["causes"]), *causes])
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


# --------------------------------------------------------------------------------------------
# Life cycle


def transition(
    conn: sqlite3.Connection,
    case_id: int,
    to_status: str,
    actor: str,
    now: datetime,
    *,
    policy: sla.SlaPolicy | None = None,
    expected_version: int | None = None,
    assignee: str | None = None,
    resolution: str | None = None,
    note: str | None = None,
) -> sqlite3.Row:
    """Move a case to `to_status` (see the module docstring), audit it, and return the new row.

    Raises NotFound, VersionConflict (stale `expected_version`), InvalidTransition, or Conflict
    (a reopen while the customer has another active case). The caller on the web side should
    then schedule `triage.jobs.schedule_case_checks` for the row's ``sla_next_check_at``; the
    periodic sweep catches it otherwise.
    """
    if policy is None:
        from triage import context

        policy = context.policy()
    if resolution is not None and resolution not in RESOLUTIONS:
        raise InvalidTransition(f"unknown resolution {resolution!r}; expected one of {', '.join(RESOLUTIONS)}")
    with transaction(conn):
        row = get_case(conn, case_id)
        if row is None:
            raise NotFound(f"case {case_id} not found")
        if expected_version is not None and row["version"] != expected_version:
            raise VersionConflict(f"case {case_id} changed (version {row['version']}, expected {expected_version})")
        current = row["status"]
        if to_status not in TRANSITIONS.get(current, frozenset()):
            allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing (final)"
            raise InvalidTransition(f"case {case_id}: {current} → {to_status} is not allowed; {current} → {allowed}")
        changes = _status_changes(row, to_status, actor, assignee, resolution, now)
        sets = ", ".join(f"{column} = ?" for column in changes)
        try:
            cur = conn.execute(
                f"UPDATE cases SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
                (*changes.values(), case_id, row["version"]),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"case {case_id}: the customer already has another active case") from None
        if cur.rowcount != 1:
            raise VersionConflict(f"case {case_id} changed concurrently")
        if current == "waiting_customer":
            conn.execute("UPDATE case_pauses SET resumed_at = ? WHERE case_id = ? AND resumed_at IS NULL",
                         (to_db(now), case_id))
        if to_status == "waiting_customer":
            conn.execute("INSERT INTO case_pauses (case_id, paused_at) VALUES (?, ?)", (case_id, to_db(now)))
        detail = {k: v for k, v in (("assignee", changes.get("assignee")), ("resolution", resolution),
                                    ("note", note)) if v is not None}
        add_event(conn, case_id, "status_changed", now, actor, from_status=current, to_status=to_status,
               detail=detail or None)
        changed = refresh_sla(conn, case_id, now, policy)
        if row["priority"] == "P1" and any(state == "breached" for _, state in changed):
            # The db host escalates P1 breaches; make its sweep look at this case right away.
            conn.execute("UPDATE cases SET sla_next_check_at = ? WHERE id = ?", (to_db(now), case_id))
        return get_case(conn, case_id)


def _status_changes(row: sqlite3.Row, to_status: str, actor: str, assignee: str | None, resolution: str | None,
                    now: datetime) -> dict[str, Any]:
    current, stamp = row["status"], to_db(now)
    changes: dict[str, Any] = {"status": to_status, "updated_at": stamp}
    if to_status == "claimed":
        changes.update(assignee=assignee or actor, claimed_at=stamp)
    elif current == "claimed" and to_status == "open":
        changes.update(assignee=None, claimed_at=None)
    elif to_status == "contacted":
        if row["first_contacted_at"] is None:
            changes["first_contacted_at"] = stamp
        if current == "resolved":  # reopen
            changes.update(resolved_at=None, resolution=None)
    elif to_status == "resolved":
        changes.update(resolved_at=stamp, resolution=resolution)
    elif to_status == "closed":
        changes["closed_at"] = stamp
    return changes


# --------------------------------------------------------------------------------------------
# JSON (the contract's case object)


def cases_to_json(
    conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], now: datetime, policy: sla.SlaPolicy | None = None
) -> list[dict[str, Any]]:
    """The contract's case objects for `rows`, SLA states computed for `now` (right even before a
    timer job has fired). Three queries whatever the number of rows, each in its index's order
    (by case, then time), so none sorts."""
    if policy is None:
        from triage import context

        policy = context.policy()
    ids = [row["id"] for row in rows]
    review_ids: dict[int, list[str]] = {i: [] for i in ids}
    pauses: dict[int, list[sla.Pause]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for r in conn.execute(f"SELECT case_id, review_id FROM reviews WHERE case_id IN ({marks}) ORDER BY case_id, id", ids):
            review_ids[r["case_id"]].append(r["review_id"])
        for r in conn.execute(
            f"SELECT case_id, paused_at, resumed_at FROM case_pauses WHERE case_id IN ({marks})"
            " ORDER BY case_id, paused_at", ids
        ):
            pauses[r["case_id"]].append((from_db(r["paused_at"]), from_db(r["resumed_at"])))
    out = []
    for row in rows:
        clocks = _clocks_for(row, pauses[row["id"]], policy, now)
        out.append(
            {
                "id": row["id"],
                "customer_id": row["customer_id"],
                "priority": row["priority"],
                "status": row["status"],
                "causes": json.loads(row["causes"]),
                "review_ids": review_ids[row["id"]],
                "assignee": row["assignee"],
                "first_contact_due": to_wire(clocks.first_contact_due),
                "resolution_due": to_wire(clocks.resolution_due),
                "first_contacted_at": wire_from_db(row["first_contacted_at"]),
                "resolved_at": wire_from_db(row["resolved_at"]),
                "sla": {"first_contact": clocks.first_contact, "resolution": clocks.resolution},
                # Beyond the contract: what the agents' queue needs.
                "risk": round(row["risk"], 4),
                "opened_at": wire_from_db(row["opened_at"]),
                "updated_at": wire_from_db(row["updated_at"]),
                "version": row["version"],
            }
        )
    return out


def case_to_json(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime,
                 policy: sla.SlaPolicy | None = None) -> dict[str, Any]:
    return cases_to_json(conn, [row], now, policy)[0]
