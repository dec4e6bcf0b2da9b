"""`triage agent add|list|disable|enable|passwd|shift`: passwords come from stdin."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from triage.agents import (
    add_agent,
    disable_agent,
    enable_agent,
    get_agent,
    list_agents,
    set_password,
    set_shift,
)
from triage.config import Settings
from triage.db import open_db
from triage.errors import Conflict, NotFound, ValidationFailed
from triage.sla import load_policy

__all__ = ["cli_add_agent", "cli_list_agents", "cli_passwd", "cli_set_enabled", "cli_set_shift", "cli_unlock_agent", "read_password"]


def read_password(stdin: TextIO) -> str:
    """A TTY gets a hidden prompt (asked twice); a pipe gives its first line, without the newline."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first and getpass.getpass("Repeat password: ") != first:
            raise ValueError("the passwords do not match")
        return first
    return stdin.readline().rstrip("\r\n")


def cli_add_agent(
    settings: Settings, username: str, role: str, display_name: str | None = None, *, shift: str | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Exit 0, or 1 with a reason on stderr."""
    password = _password_from(stdin, "triage agent add ...")
    if password is None:
        return 1
    if shift and (problem := unknown_shift(settings, shift)):
        print(f"triage: {problem}", file=sys.stderr)
        return 1
    conn = open_db(settings.db_path)
    try:
        agent_id = add_agent(conn, username, password, role, display_name)
        if shift:
            set_shift(conn, username, shift)
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


def cli_list_agents(settings: Settings) -> int:
    conn = open_db(settings.db_path)
    try:
        agents = list_agents(conn)
    finally:
        conn.close()
    if not agents:
        print("no agents (add one with `triage agent add USERNAME --role agent`)", file=sys.stderr)
        return 0
    print(f"{'USERNAME':<20} {'ROLE':<11} {'SHIFT':<8} {'STATE':<9} LAST LOGIN")
    for a in agents:
        last = f"{a.last_login_at:%Y-%m-%d %H:%M}Z" if a.last_login_at else "never"
        print(f"{a.username:<20} {a.role:<11} {a.shift or '-':<8} {'active' if a.active else 'disabled':<9} {last}")
    return 0


def _run(settings: Settings, action, *args) -> int:
    conn = open_db(settings.db_path)
    try:
        action(conn, *args)
    except (NotFound, ValidationFailed) as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0


def cli_set_enabled(settings: Settings, username: str, *, enabled: bool) -> int:
    status = _run(settings, enable_agent if enabled else disable_agent, username)
    if status == 0:
        print(f"{'Enabled' if enabled else 'Disabled'} {username!r}.")
    return status


def cli_passwd(settings: Settings, username: str, *, stdin: TextIO | None = None) -> int:
    password = _password_from(stdin, "triage agent passwd NAME")
    if password is None:
        return 1
    status = _run(settings, set_password, username, password)
    if status == 0:
        print(f"Password of {username!r} changed.")
    return status


def unknown_shift(settings: Settings, shift: str) -> str | None:
    """Why `shift` is not a shift of the SLA policy's calendar, or None when it is one."""
    names = load_policy(settings.sla_policy_path, settings.timezone).shifts.names
    if shift.strip() in names:
        return None
    return f"unknown shift {shift!r}; the SLA policy's shifts are {', '.join(names)}"


def cli_set_shift(settings: Settings, username: str, shift: str) -> int:
    if shift.strip() and (problem := unknown_shift(settings, shift)):
        print(f"triage: {problem}", file=sys.stderr)
        return 1
    status = _run(settings, set_shift, username, shift)
    if status == 0:
        print(f"{username!r} is on shift {shift!r}." if shift.strip() else f"{username!r} is on no shift.")
    return status


def cli_unlock_agent(settings: Settings, username: str) -> int:
    """`triage agent unlock USERNAME`: lift a lockout after repeated failed sign-ins."""
    from triage.login_throttle import unlock_account

    conn = open_db(settings.db_path)
    try:
        if get_agent(conn, username) is None:
            print(f"triage: no agent {username!r}", file=sys.stderr)
            return 1
        was_locked = unlock_account(conn, username)
    finally:
        conn.close()
    print(f"Unlocked {username!r}." if was_locked else f"{username!r} was not locked; failed sign-ins forgotten.")
    return 0


def _password_from(stdin: TextIO | None, command: str) -> str | None:
    """The password given on stdin, or None after saying on stderr why there is none."""
    try:
        password = read_password(stdin or sys.stdin)
    except (ValueError, EOFError, KeyboardInterrupt) as exc:
        print(f"triage: {exc or 'no password given'}", file=sys.stderr)
        return None
    if not password:
        print(f"triage: refusing an empty password (give it on stdin, e.g. `echo PASS | {command}`)", file=sys.stderr)
        return None
    return password
