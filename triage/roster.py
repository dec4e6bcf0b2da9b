"""Who works which shift: agents' shift membership (`agents.shift`) and the roster the board shows.

The shift names come from the policy's shift calendar (`triage.shifts`); an agent may have no
shift (NULL) until a supervisor sets one. A case's shift in the metrics is the shift it was
opened in, not its agent's: membership says whom a supervisor coaches for which shift.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from triage.db import transaction
from triage.errors import NotFound, ValidationFailed
from triage.shifts import ShiftCalendar

__all__ = ["RosterEntry", "roster", "set_shift"]


@dataclass(frozen=True)
class RosterEntry:
    username: str
    display_name: str | None
    role: str
    shift: str | None


def roster(conn: sqlite3.Connection, *, roles: tuple[str, ...] = ("agent",)) -> list[RosterEntry]:
    """Active agents with `roles`, by shift then name (no shift last)."""
    marks = ",".join("?" * len(roles))
    rows = conn.execute(
        f"SELECT username, display_name, role, shift FROM agents"
        f" WHERE role IN ({marks}) AND active = 1 AND disabled_at IS NULL"
        f" ORDER BY shift IS NULL, shift, username",
        roles,
    )
    return [RosterEntry(r["username"], r["display_name"], r["role"], r["shift"]) for r in rows]


def set_shift(conn: sqlite3.Connection, username: str, shift: str | None, calendar: ShiftCalendar) -> None:
    """Put an agent on `shift` (a name in `calendar`), or on none with None.

    Raises ValidationFailed for an unknown shift, NotFound for an unknown agent.
    """
    if shift is not None and calendar.get(shift) is None:
        raise ValidationFailed([{"field": "shift", "message": f"unknown shift {shift!r}; the shifts are "
                                 + ", ".join(calendar.names)}], code="invalid_shift")
    with transaction(conn):
        cur = conn.execute("UPDATE agents SET shift = ? WHERE username = ?", (shift, username))
    if cur.rowcount != 1:
        raise NotFound(f"agent {username!r} not found")
