"""Helpers for the supervisor console's tests: people, tokens bound to them, a signed-in client."""

from __future__ import annotations

import sqlite3

from tests import web_support
from triage.agents import add_agent
from triage.tokens import create_token

PEOPLE = {
    "li": ("li.agent", "agent-pass-1", "agent", "白班"),
    "wang": ("wang.agent", "agent-pass-2", "agent", "夜班"),
    "zhao": ("zhao.supervisor", "super-pass-1", "supervisor", None),
    "root": ("root.admin", "admin-pass-1", "admin", None),
}


def add_people(conn: sqlite3.Connection) -> None:
    for username, password, role, shift in PEOPLE.values():
        add_agent(conn, username, password, role)
        conn.execute("UPDATE agents SET shift = ? WHERE username = ?", (shift, username))


def token_for(conn: sqlite3.Connection, who: str | None) -> str:
    """A live API token acting as PEOPLE[who], or a read-only one for None."""
    return create_token(conn, f"token-{who}", agent=None if who is None else PEOPLE[who][0])[1]


def sign_in(client, who: str) -> None:
    web_support.sign_in(client, PEOPLE[who][0])
