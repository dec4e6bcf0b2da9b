"""Who works which shift: the roster the board shows (active agents with their `agents.shift`).

Shift names come from the policy's shift calendar (`triage.shifts`; `triage agent shift` checks
them, `triage.agents.set_shift` stores them); an agent may have no shift until one is set. A case's shift in the metrics is the shift it was
opened in, not its agent's: membership says whom a supervisor coaches for which shift.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["RosterEntry", "roster"]


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

