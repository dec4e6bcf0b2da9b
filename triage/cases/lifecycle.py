"""The life cycle of a case: its state machine and `transition`, a whole operation in its own transaction.

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
* ``resolved`` records ``resolved_at`` (and an optional resolution: refund, replacement, reship,
  coupon, explained, other — the contract's codes). Reopening (``resolved → contacted``, the customer is not satisfied) clears
  it: the resolution clock was never really stopped, so the time spent "resolved" counts. A
  reopen is refused while the customer has another active case (one active case per customer).
* ``closed`` is final; a later complaint by the customer opens a new case.

Every change is an append-only ``case_events`` row (opened, review_added, priority_changed,
status_changed, sla_at_risk, sla_breached; `triage.escalation` adds escalated) with actor and
time. ``cases.version`` grows with every change an agent cares about (not with SLA state), and
`transition` refuses a stale ``expected_version`` (optimistic locking for the agents' queue).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from triage import sla
from triage.cases.store import add_event, get_case, refresh_sla
from triage.db import transaction
from triage.errors import Conflict, NotFound
from triage.timeutil import to_db

__all__ = ["RESOLUTIONS", "TRANSITIONS", "InvalidTransition", "VersionConflict", "transition"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"claimed"}),
    "claimed": frozenset({"open", "contacted"}),
    "contacted": frozenset({"waiting_customer", "resolved"}),
    "waiting_customer": frozenset({"contacted", "resolved"}),
    "resolved": frozenset({"closed", "contacted"}),
    "closed": frozenset(),
}
# The contract's resolution codes: 退款, 换货, 补发, 优惠券补偿, 解释说明, 其他.
RESOLUTIONS = ("refund", "replacement", "reship", "coupon", "explained", "other")


class InvalidTransition(Conflict):
    """The case's state rules the change out (409). The body's error is the contract's "conflict";
    `reason` says which kind."""

    reason = "invalid_transition"


class VersionConflict(Conflict):
    """The caller's `version` is stale: someone changed the case since it was read (409)."""

    reason = "stale_version"


def transition(
    conn: sqlite3.Connection,
    case_id: int,
    to_status: str,
    actor: str,
    now: datetime,
    *,
    policy: sla.SlaPolicy,
    expected_version: int | None = None,
    assignee: str | None = None,
    resolution: str | None = None,
    note: str | None = None,
) -> sqlite3.Row:
    """Move a case to `to_status` (see the module docstring), audit it, and return the new row.

    Raises NotFound, VersionConflict (stale `expected_version`), InvalidTransition, or Conflict
    (a reopen while the customer has another active case). The caller on the web side should
    then schedule `triage.jobs.schedule_case_checks` for the row's ``sla_next_check_at``; the
    periodic sweep catches it otherwise. `policy` is the SLA policy the clocks are recomputed with.
    """
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
