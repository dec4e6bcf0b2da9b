"""Agents (the people who work the case queue): creation, password checks, the CLI.

Passwords are hashed with Werkzeug's scrypt (salted); only the hash is stored.
"""

from __future__ import annotations

import functools
import getpass
import re
import sqlite3
import sys
from dataclasses import dataclass
from typing import TextIO

from werkzeug.security import check_password_hash, generate_password_hash

from triage.config import Settings
from triage.db import open_db, transaction
from triage.errors import Conflict, ValidationFailed
from triage.timeutil import to_db, utcnow

__all__ = ["ROLES", "Agent", "add_agent", "authenticate", "cli_add_agent", "get_agent"]

ROLES = ("agent", "supervisor", "admin")
# Werkzeug's scrypt (salted, memory-hard). Tests may lower the cost; stored hashes name their
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


def read_password(stdin: TextIO) -> str:
    """A TTY gets a hidden prompt (asked twice); a pipe gives its first line, without the newline."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first and getpass.getpass("Repeat password: ") != first:
            raise ValueError("the passwords do not match")
        return first
    return stdin.readline().rstrip("\r\n")


def cli_add_agent(
    settings: Settings, username: str, role: str, display_name: str | None = None, *, stdin: TextIO | None = None
) -> int:
    """`triage agent add USERNAME --role ROLE`: password from stdin. Exit 0, or 1 with a reason."""
    try:
        password = read_password(stdin or sys.stdin)
    except (ValueError, EOFError, KeyboardInterrupt) as exc:
        print(f"triage: {exc or 'no password given'}", file=sys.stderr)
        return 1
    if not password:
        print("triage: refusing an empty password (give it on stdin, e.g. `echo PASS | triage agent add ...`)",
              file=sys.stderr)
        return 1
    conn = open_db(settings.db_path)
    try:
        agent_id = add_agent(conn, username, password, role, display_name)
    except Conflict as exc:
        print(f"triage: {exc.message}", file=sys.stderr)
        return 1
    except ValidationFailed as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(f"Added {role} {username!r} (id {agent_id}).")
    return 0
