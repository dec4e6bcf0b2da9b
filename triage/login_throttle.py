"""Failed sign-ins: throttled per account and per address, accounts locked out after repeated
failures, and the admin's way to lift a lockout.

Policy (`LoginPolicy`, defaults):

* an account with `account_failures` (5) failed sign-ins within `window` (15 minutes) is locked
  for `lockout` (15 minutes): every attempt is refused, the right password too, without checking
  it. `unlock_account` (the `triage agent unlock` command, the account pages) lifts it at once;
* an address with `address_failures` (20) failed sign-ins within `window`, whatever usernames it
  tried, is refused until the oldest of them leaves the window (a guesser spraying one password
  over many accounts, or one account from many guesses);
* a success clears the account's failures.

Refused attempts are not checked against a password, so a locked account or a throttled address
costs no hashing. Unknown usernames count like known ones (the answer must not tell them apart).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from triage.db import transaction
from triage.timeutil import from_db, to_db, utcnow

__all__ = ["LoginPolicy", "LoginRefused", "check_login_allowed", "lockout_of", "record_login_failure",
           "record_login_success", "unlock_account"]


@dataclass(frozen=True)
class LoginPolicy:
    account_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class LoginRefused:
    """Why an attempt is refused before any password check: "account_locked" or "address_throttled"."""

    reason: str
    until: datetime

    def retry_after(self, now: datetime) -> int:
        return max(int((self.until - now).total_seconds()) + 1, 1)


def lockout_of(conn: sqlite3.Connection, username: str, now: datetime | None = None) -> datetime | None:
    """When the account's lockout ends, or None if it is not locked."""
    row = conn.execute("SELECT until FROM login_lockouts WHERE username = ?", (username,)).fetchone()
    if row is None:
        return None
    until = from_db(row[0])
    return until if until > (now or utcnow()) else None


def check_login_allowed(conn: sqlite3.Connection, username: str, address: str, *, now: datetime | None = None,
                        policy: LoginPolicy = LoginPolicy()) -> LoginRefused | None:
    now = now or utcnow()
    until = lockout_of(conn, username, now)
    if until is not None:
        return LoginRefused("account_locked", until)
    rows = conn.execute(
        "SELECT at FROM login_failures WHERE address = ? AND at > ? ORDER BY at DESC LIMIT ?",
        (address, to_db(now - policy.window), policy.address_failures),
    ).fetchall()
    if len(rows) >= policy.address_failures:
        return LoginRefused("address_throttled", from_db(rows[-1][0]) + policy.window)
    return None


def record_login_failure(conn: sqlite3.Connection, username: str, address: str, *, now: datetime | None = None,
                         policy: LoginPolicy = LoginPolicy()) -> datetime | None:
    """Count a failed sign-in; when it locks the account, the end of the lockout."""
    now = now or utcnow()
    since = to_db(now - policy.window)
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE at <= ?", (since,))
        conn.execute("INSERT INTO login_failures (username, address, at) VALUES (?, ?, ?)",
                     (username, address, to_db(now)))
        failures = conn.execute("SELECT COUNT(*) FROM login_failures WHERE username = ? AND at > ?",
                                (username, since)).fetchone()[0]
        if failures < policy.account_failures:
            return None
        until = now + policy.lockout
        conn.execute(
            "INSERT INTO login_lockouts (username, locked_at, until, failures) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (username) DO UPDATE SET locked_at = excluded.locked_at, until = excluded.until,"
            " failures = excluded.failures",
            (username, to_db(now), to_db(until), failures),
        )
        conn.execute("DELETE FROM login_failures WHERE username = ?", (username,))
    return until


def record_login_success(conn: sqlite3.Connection, username: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM login_failures WHERE username = ?", (username,))


def unlock_account(conn: sqlite3.Connection, username: str) -> bool:
    """Lift the account's lockout and forget its failures; whether it was locked."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM login_lockouts WHERE username = ?", (username,))
        conn.execute("DELETE FROM login_failures WHERE username = ?", (username,))
    return cur.rowcount > 0
