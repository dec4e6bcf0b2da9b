"""`triage token create NAME`: the token alone on stdout (pipe-friendly), the notes on stderr."""

from __future__ import annotations

import sys

from triage.config import Settings
from triage.db import open_db
from triage.errors import ValidationFailed
from triage.tokens import create_token

__all__ = ["cli_create_token"]


def cli_create_token(settings: Settings, name: str) -> int:
    conn = open_db(settings.db_path)
    try:
        token_id, token = create_token(conn, name)
    except ValidationFailed:
        print("triage: token name must not be blank", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(token)
    print(
        f"Created API token #{token_id} {name.strip()!r}. It is shown only this once; "
        "send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0
