"""Agents (the people who work the case queue): accounts, password checks, shifts.

Passwords are hashed with scrypt (salted, `triage.passwords`); only the hash is stored.
A disabled agent (``active = 0``, ``disabled_at`` set) cannot sign in, is signed out on the next
request, cannot be assigned cases, and their API tokens stop working; enabling restores all of it.
Account management (`list_agents`, `disable_agent`, `enable_agent`, `set_password`, `set_shift`)
serves both the CLI and the accounts pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sqlite3
from dataclasses import dataclass

from triage.db import transaction
from triage.errors import Conflict, NotFound, ValidationFailed
from triage.passwords import check_password_hash, generate_password_hash
from triage.timeutil import from_db, to_db, to_wire, utcnow

__all__ = [
    "ROLES",
    "SHIFT_MAX_CHARS",
    "Agent",
    "add_agent",
    "authenticate",
    "disable_agent",
    "enable_agent",
    "get_agent",
    "list_agents",
    "record_login",
    "set_password",
    "set_shift",
]

SHIFT_MAX_CHARS = 32

ROLES = ("agent", "supervisor", "admin")
# scrypt (salted, memory-hard). Tests may lower the cost; stored hashes name their
# own method, so checking never depends on this setting.
PASSWORD_HASH_METHOD = "scrypt"
# Usernames appear in audit trails and as case assignees: no spaces, nothing to escape.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@functools.cache
def _dummy_hash() -> str:
    # Checked when the username is unknown, so that answer takes as long as a real check.
    return generate_password_hash("no such agent", method=PASSWORD_HASH_METHOD)


@dataclass(frozen=True)
class Agent:
    id: int
    username: str
    role: str
    display_name: str | None
    active: bool
    shift: str | None = None
    disabled_at: dt.datetime | None = None
    last_login_at: dt.datetime | None = None
    created_at: dt.datetime | None = None

    def to_json(self) -> dict[str, object]:
        return {"username": self.username, "role": self.role, "display_name": self.display_name,
                "active": self.active, "shift": self.shift, "disabled_at": to_wire(self.disabled_at),
                "last_login_at": to_wire(self.last_login_at), "created_at": to_wire(self.created_at)}


def _from_row(row: sqlite3.Row) -> Agent:
    return Agent(row["id"], row["username"], row["role"], row["display_name"],
                 bool(row["active"]) and row["disabled_at"] is None, row["shift"], from_db(row["disabled_at"]),
                 from_db(row["last_login_at"]), from_db(row["created_at"]))


def _check(username: str, password: str, role: str) -> None:
    items = []
    if not _USERNAME.fullmatch(username):
        items.append(
            {"field": "username", "message": "1–64 characters: letters, digits, '.', '_', '@', '-' (not first)"}
        )
    if not password:
        items.append({"field": "password", "message": "must not be empty"})
    if role not in ROLES:
        items.append({"field": "role", "message": f"must be one of {', '.join(ROLES)}"})
    if items:
        raise ValidationFailed(items, code="invalid_agent")


def add_agent(
    conn: sqlite3.Connection, username: str, password: str, role: str, display_name: str | None = None
) -> int:
    """The new agent's id. Raises ValidationFailed for bad input, Conflict if the username exists."""
    _check(username, password, role)
    password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
    try:
        with transaction(conn):
            cur = conn.execute(
                "INSERT INTO agents (username, password_hash, role, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
                (username, password_hash, role, display_name or None, to_db(utcnow())),
            )
    except sqlite3.IntegrityError as exc:
        if "agents.username" in str(exc):
            raise Conflict(f"agent {username!r} already exists") from exc
        raise
    return int(cur.lastrowid)


def get_agent(conn: sqlite3.Connection, username: str) -> Agent | None:
    row = conn.execute("SELECT * FROM agents WHERE username = ?", (username,)).fetchone()
    return _from_row(row) if row else None


def authenticate(conn: sqlite3.Connection, username: str, password: str) -> Agent | None:
    """The active agent with these credentials, or None (unknown, inactive or wrong password)."""
    row = conn.execute("SELECT * FROM agents WHERE username = ?", (username,)).fetchone()
    if row is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(row["password_hash"], password):
        return None
    agent = _from_row(row)
    return agent if agent.active else None


def list_agents(conn: sqlite3.Connection, *, include_disabled: bool = True) -> list[Agent]:
    """Every agent, by username."""
    where = "" if include_disabled else " WHERE active = 1 AND disabled_at IS NULL"
    return [_from_row(r) for r in conn.execute(f"SELECT * FROM agents{where} ORDER BY username")]


def _change(conn: sqlite3.Connection, username: str, sql: str, params: tuple) -> None:
    with transaction(conn):
        cur = conn.execute(f"UPDATE agents SET {sql} WHERE username = ?", (*params, username))
    if cur.rowcount != 1:
        raise NotFound(f"no agent {username!r}")


def disable_agent(conn: sqlite3.Connection, username: str, *, now: dt.datetime | None = None) -> None:
    """Disable the account (see the module docstring). Raises NotFound. Disabling twice keeps the
    first time."""
    _change(conn, username, "active = 0, disabled_at = COALESCE(disabled_at, ?)", (to_db(now or utcnow()),))


def enable_agent(conn: sqlite3.Connection, username: str) -> None:
    """Undo `disable_agent`. Raises NotFound."""
    _change(conn, username, "active = 1, disabled_at = NULL", ())


def set_password(conn: sqlite3.Connection, username: str, password: str) -> None:
    """Replace the agent's password (a reset by an admin, or the CLI). Raises ValidationFailed for an
    empty password, NotFound for an unknown agent."""
    if not password:
        raise ValidationFailed([{"field": "password", "message": "must not be empty"}], code="invalid_agent")
    _change(conn, username, "password_hash = ?", (generate_password_hash(password, method=PASSWORD_HASH_METHOD),))


def set_shift(conn: sqlite3.Connection, username: str, shift: str | None) -> None:
    """Put the agent on a shift (e.g. 白班, 夜班); None or blank takes them off any."""
    shift = shift.strip() if shift else None
    if shift and len(shift) > SHIFT_MAX_CHARS:
        raise ValidationFailed([{"field": "shift", "message": f"at most {SHIFT_MAX_CHARS} characters"}],
                               code="invalid_agent")
    _change(conn, username, "shift = ?", (shift or None,))


def record_login(conn: sqlite3.Connection, username: str, *, now: dt.datetime | None = None) -> None:
    """Remember the agent's last sign-in (shown on the accounts page)."""
    with transaction(conn):
        conn.execute("UPDATE agents SET last_login_at = ? WHERE username = ?", (to_db(now or utcnow()), username))
