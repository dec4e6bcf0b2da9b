"""`triage agent add USERNAME --role ROLE [--name NAME] [--shift SHIFT]` (the password comes from stdin)
and `triage agent shift USERNAME SHIFT|--none`."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from triage.agents import add_agent
from triage.config import Settings
from triage.db import open_db
from triage.errors import Conflict, NotFound, ValidationFailed
from triage.roster import set_shift
from triage.sla import load_policy

__all__ = ["cli_add_agent", "cli_set_shift", "read_password"]


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
    """Exit 0, or 1 with a reason on stderr."""
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


def cli_set_shift(settings: Settings, username: str, shift: str | None) -> int:
    """Exit 0, or 1 with a reason on stderr (unknown agent or shift)."""
    shifts = load_policy(settings.sla_policy_path, settings.timezone).shifts
    conn = open_db(settings.db_path)
    try:
        set_shift(conn, username, shift, shifts)
    except (NotFound, ValidationFailed) as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(f"{username!r} is now on {shift!r}." if shift else f"{username!r} is on no shift now.")
    return 0
