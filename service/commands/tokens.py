"""`triage token create NAME [--agent USERNAME]`, `triage token list`, `triage token revoke NAME`.

`create` prints the token alone on stdout (pipe-friendly) and the notes on stderr.
"""

from __future__ import annotations

import sys

from triage.config import Settings
from triage.db import open_db
from triage.errors import ValidationFailed
from triage.tokens import create_token, list_tokens, revoke_tokens_named

__all__ = ["cli_create_token", "cli_list_tokens", "cli_revoke_token"]


def cli_create_token(settings: Settings, name: str, *, agent: str | None = None) -> int:
    conn = open_db(settings.db_path)
    try:
        token_id, token = create_token(conn, name, agent=agent)
    except ValidationFailed as exc:
        field = exc.items[0]["field"] if exc.items else ""
        if field == "name":
            print("triage: token name must not be blank", file=sys.stderr)
        else:
            print(f"triage: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(token)
    acts = f"acts as agent {agent!r} (case actions allowed)" if agent else "read-only"
    print(
        f"Created API token #{token_id} {name.strip()!r} ({acts}). It is shown only this once; "
        "send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0


def cli_list_tokens(settings: Settings) -> int:
    conn = open_db(settings.db_path)
    try:
        tokens = list_tokens(conn)
    finally:
        conn.close()
    if not tokens:
        print("no API tokens", file=sys.stderr)
        return 0
    print(f"{'ID':>4}  {'NAME':<24} {'ACTS AS':<16} {'CREATED':<20} {'LAST USED':<20} STATE")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}Z" if t.last_used_at else "never"
        acts = t.agent or "(read-only)"
        print(f"{t.id:>4}  {t.name:<24} {acts:<16} {t.created_at:%Y-%m-%d %H:%M}Z{'':<3} {used:<20} {state}")
    return 0


def cli_revoke_token(settings: Settings, name: str) -> int:
    conn = open_db(settings.db_path)
    try:
        count = revoke_tokens_named(conn, name)
    finally:
        conn.close()
    if not count:
        print(f"triage: no live token named {name!r} (see `triage token list`)", file=sys.stderr)
        return 1
    print(f"Revoked {count} token(s) named {name!r}.")
    return 0
