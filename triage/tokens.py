"""API tokens for the read API: shown once, stored only as a SHA-256 hash.

Verification looks the token up by its hash, so no comparison ever runs against a stored secret
and timing reveals nothing useful. Tokens are 256-bit random values, so a plain (unsalted)
SHA-256 is enough: there is no dictionary to attack.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import sqlite3
from dataclasses import dataclass

from triage.db import busy_timeout, is_busy, transaction
from triage.errors import ValidationFailed
from triage.timeutil import from_db, to_db, utcnow

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "verify_token",
]

# A recognisable prefix lets secret scanners and humans spot a leaked token.
TOKEN_PREFIX = "trg_"
# Recording every use would turn each read into a write; once a minute is enough to audit.
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)
LAST_USED_WAIT_MS = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _from_row(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        created_at=from_db(row["created_at"]),
        last_used_at=from_db(row["last_used_at"]),
        revoked_at=from_db(row["revoked_at"]),
    )


def create_token(conn: sqlite3.Connection, name: str) -> tuple[int, str]:
    """(id, token). The token is returned this once and never stored."""
    name = name.strip()
    if not name:
        raise ValidationFailed([{"field": "name", "message": "must not be blank"}], code="invalid_token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)",
            (name, hash_token(token), to_db(utcnow())),
        )
    return int(cur.lastrowid), token


def verify_token(conn: sqlite3.Connection, token: str | None, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token `token` names, or None. Records its use at most once a minute."""
    if not token:
        return None
    row = conn.execute(
        "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (hash_token(token),)
    ).fetchone()
    if row is None:
        return None
    now = now or utcnow()
    cutoff = to_db(now - LAST_USED_GRANULARITY)
    if row["last_used_at"] is None or row["last_used_at"] <= cutoff:
        _record_use(conn, row["id"], to_db(now), cutoff)
    return _from_row(row)


def _record_use(conn: sqlite3.Connection, token_id: int, now: str, cutoff: str) -> None:
    # Bookkeeping must not make a read wait for, or fail on, another writer's lock (WAL readers
    # never do): a short wait, and a use left unrecorded until the next request if it is busy.
    try:
        with busy_timeout(conn, LAST_USED_WAIT_MS):
            # The condition sits in the UPDATE itself, so concurrent requests cannot both write.
            conn.execute(
                "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
                (now, token_id, cutoff),
            )
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
        log.info("token %s: last use not recorded, the database is busy", token_id)


def revoke_token(conn: sqlite3.Connection, token_id: int) -> bool:
    """Revoke a token; False if there is no such live token."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (to_db(utcnow()), token_id)
        )
    return cur.rowcount == 1


def list_tokens(conn: sqlite3.Connection) -> list[ApiToken]:
    return [_from_row(r) for r in conn.execute("SELECT * FROM api_tokens ORDER BY id")]
