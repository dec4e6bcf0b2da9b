"""The contact log of a case: every attempt to reach the customer, by whom, how, and how it went.

Storage only: `log_contact` runs inside the caller's transaction, so the agents' `contact`
action can log the attempt, move the case and audit it as one change.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage.cases.store import get_case
from triage.errors import NotFound, ValidationFailed
from triage.timeutil import from_db, to_db, to_wire

__all__ = ["CHANNELS", "OUTCOMES", "Contact", "list_contacts", "log_contact"]

# The contract's `contact` action fields.
CHANNELS = ("wecom", "phone", "im", "sms", "email")
OUTCOMES = ("reached", "no_answer", "message_sent", "replied")


@dataclass(frozen=True)
class Contact:
    id: int
    case_id: int
    at: datetime
    agent: str
    channel: str
    outcome: str
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "case_id": self.case_id, "at": to_wire(self.at), "agent": self.agent,
                "channel": self.channel, "outcome": self.outcome, "note": self.note}


def log_contact(
    conn: sqlite3.Connection,
    case_id: int,
    agent: str,
    channel: str,
    outcome: str,
    note: str | None,
    now: datetime,
) -> Contact:
    """Record one contact attempt (inside the caller's transaction) and return it.

    Raises ValidationFailed (code ``invalid_contact``) naming each bad field, NotFound for an
    unknown case. A blank note is stored as none.
    """
    problems = []
    if channel not in CHANNELS:
        problems.append({"field": "channel", "message": f"unknown channel {channel!r}; expected one of "
                                                       f"{', '.join(CHANNELS)}"})
    if outcome not in OUTCOMES:
        problems.append({"field": "outcome", "message": f"unknown outcome {outcome!r}; expected one of "
                                                       f"{', '.join(OUTCOMES)}"})
    if not agent:
        problems.append({"field": "agent", "message": "a contact is made by an agent"})
    if problems:
        raise ValidationFailed(problems, "invalid contact", code="invalid_contact")
    if get_case(conn, case_id) is None:
        raise NotFound(f"case {case_id} not found")
    note = note.strip() if note is not None else None
    cur = conn.execute(
        "INSERT INTO contacts (case_id, at, agent, channel, outcome, note) VALUES (?, ?, ?, ?, ?, ?)",
        (case_id, to_db(now), agent, channel, outcome, note or None),
    )
    return Contact(int(cur.lastrowid), case_id, from_db(to_db(now)), agent, channel, outcome, note or None)


def list_contacts(conn: sqlite3.Connection, case_id: int) -> list[Contact]:
    """The case's contact attempts, oldest first (an unknown case has none)."""
    rows = conn.execute(
        "SELECT id, case_id, at, agent, channel, outcome, note FROM contacts WHERE case_id = ? ORDER BY at, id",
        (case_id,),
    )
    return [Contact(r["id"], r["case_id"], from_db(r["at"]), r["agent"], r["channel"], r["outcome"], r["note"])
            for r in rows]
