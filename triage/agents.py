"""Agents (the people who work the case queue): creation and password checks.

Passwords are hashed with scrypt (salted, `triage.passwords`); only the hash is stored.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass

from triage.db import transaction
from triage.errors import Conflict, ValidationFailed
from triage.passwords import check_password_hash, generate_password_hash
from triage.timeutil import to_db, utcnow

__all__ = ["ROLES", "Agent", "add_agent", "authenticate", "get_agent"]

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


def _from_row(row: sqlite3.Row) -> Agent:
    return Agent(row["id"], row["username"], row["role"], row["display_name"], bool(row["active"]))


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
    if not check_password_hash(row["password_hash"], password) or not row["active"]:
        return None
    return _from_row(row)

