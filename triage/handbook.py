"""The reply handbook (客服应答手册): standard replies per complaint cause, written by supervisors.

Replies are versioned and append-only (`handbook_replies`): saving a reply adds a row with the
next version of its `reply_key`; retiring one adds a version marked `retired`. The newest version
of a key is the reply as it stands; older versions stay for the record (who wrote what, when).

Bodies carry placeholders in braces, filled per case by `fill`: only the names in
`PLACEHOLDERS` are allowed (a typo is refused when saving, not discovered by a customer), and
filling is a plain substitution, never `str.format`, so a body cannot reach attributes of its values.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from classifier.causes import CAUSES
from triage.db import transaction
from triage.errors import Conflict, NotFound, ValidationFailed
from triage.timeutil import from_db, to_db

__all__ = [
    "MAX_BODY",
    "MAX_TITLE",
    "PLACEHOLDERS",
    "Reply",
    "current_replies",
    "fill",
    "get_reply",
    "reply_history",
    "retire_reply",
    "save_reply",
]

# Placeholder -> what the editor calls it.
PLACEHOLDERS: dict[str, str] = {
    "customer_name": "顾客昵称",
    "product_name": "商品名称",
    "order_id": "订单号",
    "agent_name": "客服名字",
}
MAX_TITLE = 60
MAX_BODY = 2000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Reply:
    id: int
    reply_key: str
    cause: str
    title: str
    body: str
    version: int
    retired: bool
    author: str
    created_at: datetime


def _from_row(row: sqlite3.Row) -> Reply:
    return Reply(row["id"], row["reply_key"], row["cause"], row["title"], row["body"], row["version"],
                 bool(row["retired"]), row["author"], from_db(row["created_at"]))


_CURRENT = (
    "SELECT h.* FROM handbook_replies h"
    " WHERE h.version = (SELECT MAX(version) FROM handbook_replies x WHERE x.reply_key = h.reply_key)"
)


def current_replies(conn: sqlite3.Connection, causes: tuple[str, ...] | list[str] | None = None, *,
                    include_retired: bool = False) -> list[Reply]:
    """The newest version of every reply (of `causes`, if given), in cause order, then by title."""
    rows = [_from_row(r) for r in conn.execute(_CURRENT)]
    wanted = set(causes) if causes is not None else None
    order = {c: i for i, c in enumerate(CAUSES)}
    return sorted(
        (r for r in rows if (include_retired or not r.retired) and (wanted is None or r.cause in wanted)),
        key=lambda r: (order.get(r.cause, len(order)), r.title, r.reply_key),
    )


def get_reply(conn: sqlite3.Connection, reply_key: str) -> Reply:
    row = conn.execute(
        "SELECT * FROM handbook_replies WHERE reply_key = ? ORDER BY version DESC LIMIT 1", (reply_key,)
    ).fetchone()
    if row is None:
        raise NotFound(f"handbook reply {reply_key!r} not found")
    return _from_row(row)


def reply_history(conn: sqlite3.Connection, reply_key: str) -> list[Reply]:
    """Every version of a reply, newest first."""
    return [_from_row(r) for r in conn.execute(
        "SELECT * FROM handbook_replies WHERE reply_key = ? ORDER BY version DESC", (reply_key,))]


def _check(cause: str, title: str, body: str) -> None:
    items = []
    if cause not in CAUSES:
        items.append({"field": "cause", "message": f"原因必须是 {', '.join(CAUSES)} 之一"})
    if not 1 <= len(title) <= MAX_TITLE:
        items.append({"field": "title", "message": f"标题需 1–{MAX_TITLE} 个字"})
    if not 1 <= len(body) <= MAX_BODY:
        items.append({"field": "body", "message": f"正文需 1–{MAX_BODY} 个字"})
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(body)} - set(PLACEHOLDERS))
    if unknown:
        allowed = "、".join("{" + k + "}" for k in PLACEHOLDERS)
        items.append({"field": "body", "message": f"未知占位符 {{{unknown[0]}}}，可用：{allowed}"})
    if items:
        raise ValidationFailed(items, code="invalid_reply")


def _new_key(conn: sqlite3.Connection, cause: str) -> str:
    n = conn.execute("SELECT COUNT(DISTINCT reply_key) FROM handbook_replies WHERE cause = ?", (cause,)).fetchone()[0]
    while True:
        n += 1
        key = f"{cause}-{n}"
        if conn.execute("SELECT 1 FROM handbook_replies WHERE reply_key = ?", (key,)).fetchone() is None:
            return key


def save_reply(conn: sqlite3.Connection, *, cause: str, title: str, body: str, author: str, now: datetime,
               reply_key: str | None = None, expected_version: int | None = None) -> Reply:
    """Add a reply (no `reply_key`) or a new version of one. `expected_version`, when given, must
    be the version the editor started from: a concurrent edit is refused, not overwritten."""
    title, body = title.strip(), body.strip()
    _check(cause, title, body)
    with transaction(conn):
        if reply_key is None:
            reply_key, version = _new_key(conn, cause), 1
        else:
            latest = conn.execute("SELECT MAX(version) FROM handbook_replies WHERE reply_key = ?",
                                  (reply_key,)).fetchone()[0]
            if latest is None:
                raise NotFound(f"handbook reply {reply_key!r} not found")
            if expected_version is not None and latest != expected_version:
                raise Conflict(f"handbook reply {reply_key!r} changed (version {latest}, expected {expected_version})")
            version = latest + 1
        conn.execute(
            "INSERT INTO handbook_replies (reply_key, cause, title, body, version, retired, author, created_at)"
            " VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (reply_key, cause, title, body, version, author, to_db(now)),
        )
    return get_reply(conn, reply_key)


def retire_reply(conn: sqlite3.Connection, reply_key: str, *, author: str, now: datetime) -> Reply:
    """Take a reply out of use (a new version marked retired; its text stays on record)."""
    with transaction(conn):
        latest = get_reply(conn, reply_key)
        if not latest.retired:
            conn.execute(
                "INSERT INTO handbook_replies (reply_key, cause, title, body, version, retired, author, created_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (reply_key, latest.cause, latest.title, latest.body, latest.version + 1, author, to_db(now)),
            )
    return get_reply(conn, reply_key)


def fill(body: str, values: Mapping[str, str | None]) -> str:
    """`body` with each known placeholder replaced by its value; a missing value leaves a readable
    gap marker (【顾客昵称】) for the agent to fill by hand, never the raw `{customer_name}`."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = values.get(name)
        return value if value else f"【{PLACEHOLDERS[name]}】"

    return _PLACEHOLDER.sub(one, body)
