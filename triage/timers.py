"""SLA timers on the database host: bring a case's clocks up to date and escalate P1 breaches.

A check is idempotent and correct at any moment, so it does not matter who runs it or how
often: the rq job scheduled for the case's next transition (`triage.jobs.database.check_case_sla`), the
periodic sweep over ``cases.sla_next_check_at <= now`` (the safety net when a timer was lost
with Redis), or `triage.apply` right after a case changed.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from triage import cases
from triage.db import transaction
from triage.escalation import escalate_breach
from triage.sla import SlaPolicy
from triage.timeutil import from_db, to_db

__all__ = ["check_case", "check_case_in_tx", "due_case_ids"]


def check_case_in_tx(
    conn: sqlite3.Connection, case_id: int, now: datetime, policy: SlaPolicy, webhook_url: str | None,
    *, wecom_url: str | None = None,
) -> tuple[datetime | None, int]:
    """Refresh the clocks and escalate (inside the caller's transaction).

    Returns (next check, escalations made now).
    """
    cases.refresh_sla(conn, case_id, now, policy)
    row = cases.get_case(conn, case_id)
    if row is None:
        return None, 0
    escalated = 0
    breached = [c for c in ("first_contact", "resolution") if row[f"sla_{c}"] == "breached"]
    if row["priority"] == "P1" and breached:
        case = cases.case_to_json(conn, row, now, policy)
        for clock in breached:
            escalated += escalate_breach(conn, case, clock, now, webhook_url=webhook_url, wecom_url=wecom_url)
    return from_db(row["sla_next_check_at"]), escalated


def check_case(
    conn: sqlite3.Connection, case_id: int, now: datetime, policy: SlaPolicy, webhook_url: str | None,
    *, wecom_url: str | None = None,
) -> tuple[datetime | None, int]:
    with transaction(conn):
        return check_case_in_tx(conn, case_id, now, policy, webhook_url, wecom_url=wecom_url)


def due_case_ids(conn: sqlite3.Connection, now: datetime, limit: int = 1000) -> list[int]:
    """Cases whose next SLA change is due by `now` (the sweep's work list)."""
    rows = conn.execute(
        "SELECT id FROM cases WHERE sla_next_check_at IS NOT NULL AND sla_next_check_at <= ?"
        " ORDER BY sla_next_check_at LIMIT ?",
        (to_db(now), limit),
    )
    return [r["id"] for r in rows]
