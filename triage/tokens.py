"""API tokens: shown once, stored only as a SHA-256 hash.

A token without an agent is read-only (the read API). A token created for an agent acts as that
agent, with the agent's role, and may take case actions; disabling the agent stops its tokens
(they no longer verify), so a departed colleague's integration cannot act in their name.

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
    "revoke_tokens_named",
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
    agent_id: int | None = None  # None: a read-only token
    agent: str | None = None  # the agent's username
    role: str | None = None  # the agent's role, which the token acts with

    @property
    def read_only(self) -> bool:
        return self.agent_id is None

    def to_json(self) -> dict[str, object]:
        """The token's record (never the token itself)."""
        return {"id": self.id, "name": self.name, "agent": self.agent, "role": self.role,
                "created_at": _wire(self.created_at), "last_used_at": _wire(self.last_used_at),
                "revoked_at": _wire(self.revoked_at)}


def _wire(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_SELECT = ("SELECT t.*, a.username AS agent_username, a.role AS agent_role FROM api_tokens t"
           " LEFT JOIN agents a ON a.id = t.agent_id")


def _from_row(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        created_at=from_db(row["created_at"]),
        last_used_at=from_db(row["last_used_at"]),
        revoked_at=from_db(row["revoked_at"]),
        agent_id=row["agent_id"],
        agent=row["agent_username"],
        role=row["agent_role"],
    )


def create_token(conn: sqlite3.Connection, name: str, *, agent: str | None = None) -> tuple[int, str]:
    """(id, token). The token is returned this once and never stored.

    With `agent` (a username) the token acts as that agent; raises ValidationFailed for a blank
    name or an unknown or disabled agent.
    """
    name = name.strip()
    if not name:
        raise ValidationFailed([{"field": "name", "message": "must not be blank"}], code="invalid_token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(conn):
        agent_id = None
        if agent is not None:
            found = conn.execute("SELECT id, active FROM agents WHERE username = ?", (agent,)).fetchone()
            if found is None or not found["active"]:
                raise ValidationFailed([{"field": "agent", "message": f"no active agent {agent!r}"}],
                                       code="invalid_token")
            agent_id = found["id"]
        cur = conn.execute(
            "INSERT INTO api_tokens (name, token_hash, created_at, agent_id) VALUES (?, ?, ?, ?)",
            (name, hash_token(token), to_db(utcnow()), agent_id),
        )
    return int(cur.lastrowid), token


def verify_token(conn: sqlite3.Connection, token: str | None, *, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token `token` names, or None. Records its use at most once a minute.

    A token bound to an agent who has been disabled does not verify."""
    if not token:
        return None
    row = conn.execute(
        f"{_SELECT} WHERE t.token_hash = ? AND t.revoked_at IS NULL"
        " AND (t.agent_id IS NULL OR (a.active = 1 AND a.disabled_at IS NULL))",
        (hash_token(token),),
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


def revoke_tokens_named(conn: sqlite3.Connection, name: str, *, now: dt.datetime | None = None) -> int:
    """Revoke every live token called `name`; how many were revoked (0: none by that name)."""
    with transaction(conn):
        cur = conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                           (to_db(now or utcnow()), name.strip()))
    return cur.rowcount


def list_tokens(conn: sqlite3.Connection, *, include_revoked: bool = True) -> list[ApiToken]:
    """Every token's record (never the token itself), oldest first."""
    where = "" if include_revoked else " WHERE t.revoked_at IS NULL"
    return [_from_row(r) for r in conn.execute(f"{_SELECT}{where} ORDER BY t.id")]
