"""Escalations: notifications for supervisors and the signed outgoing webhook (an outbox).

Both are written in the same transaction as the SLA state that causes them, keyed by a
``dedupe_key`` (``case:<id>:breach:<clock>``), so a timer job and a sweep that both see a breach
produce one notification and one webhook between them.

Delivery (`deliver_due`) happens outside any transaction: POST the stored payload with the inbound
contract's headers (``X-Triage-Timestamp``, ``X-Triage-Signature: sha256=HMAC(first webhook
secret, "<ts>." + body)``); a 2xx marks it delivered. Otherwise it is retried with exponential
backoff — 30 s, 1 min, 2 min, ... capped at 1 h — and given up after `MAX_DELIVERY_ATTEMPTS`
(about 5 hours of trying); ``last_error`` keeps the reason. Delivery is at-least-once: each POST
carries ``X-Triage-Delivery: <outbox id>``, the same on every retry, for receivers to deduplicate.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from triage.cases import add_event
from triage.signing import sign
from triage.timeutil import to_db, to_wire

__all__ = ["MAX_DELIVERY_ATTEMPTS", "RejectedDelivery", "backoff", "deliver_due", "escalate_breach", "http_post",
           "wecom_breach_message"]

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 12
DELIVERY_TIMEOUT_SECONDS = 5
_BACKOFF_BASE = timedelta(seconds=30)
_BACKOFF_CAP = timedelta(hours=1)
# How long a deliverer owns a row it is sending; longer than any send can take.
_LEASE = timedelta(minutes=2)
_CLOCK_LABEL = {"first_contact": "首次联系", "resolution": "解决"}

Sender = Callable[[str, bytes, dict[str, str]], int]  # (url, body, headers) -> HTTP status


def escalate_breach(
    conn: sqlite3.Connection,
    case: dict[str, Any],
    clock: str,
    now: datetime,
    *,
    webhook_url: str | None,
    wecom_url: str | None = None,
) -> bool:
    """Escalate a breached clock of a P1 case (inside the caller's transaction).

    `case` is the contract's case object (`triage.cases.case_to_json`). Returns True if this call
    escalated, False if the breach was escalated before.
    """
    key = f"case:{case['id']}:breach:{clock}"
    message = f"P1 工单 #{case['id']}（客户 {case['customer_id']}）{_CLOCK_LABEL.get(clock, clock)}已超时"
    cur = conn.execute(
        "INSERT INTO notifications (at, kind, case_id, message, dedupe_key) VALUES (?, 'sla_breached', ?, ?, ?)"
        " ON CONFLICT (dedupe_key) DO NOTHING",
        (to_db(now), case["id"], message, key),
    )
    if cur.rowcount != 1:
        return False
    conn.execute("UPDATE cases SET escalated_at = COALESCE(escalated_at, ?) WHERE id = ?", (to_db(now), case["id"]))
    add_event(conn, case["id"], "escalated", now, detail={"clock": clock, "webhook": bool(webhook_url)})
    if webhook_url:
        payload = {"event": "case.sla_breached", "clock": clock, "at": to_wire(now), "case": case}
        conn.execute(
            "INSERT INTO outbox (created_at, url, payload, next_attempt_at, dedupe_key) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (dedupe_key) DO NOTHING",
            (to_db(now), webhook_url, json.dumps(payload, ensure_ascii=False), to_db(now), key),
        )
    if wecom_url:
        conn.execute(
            "INSERT INTO outbox (created_at, url, payload, next_attempt_at, dedupe_key) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (dedupe_key) DO NOTHING",
            (to_db(now), wecom_url, json.dumps(wecom_breach_message(case, clock, now), ensure_ascii=False),
             to_db(now), f"{key}:wecom"),
        )
    return True


def wecom_breach_message(case: dict[str, Any], clock: str, now: datetime) -> dict[str, Any]:
    """The enterprise WeChat group robot's markdown message for a P1 breach."""
    causes = "、".join(case.get("causes") or []) or "—"
    content = (
        f"### <font color=\"warning\">P1 工单超时</font>\n"
        f"> 工单：#{case['id']}\n"
        f"> 客户：{_md(case.get('customer_id'))}\n"
        f"> 超时：{_CLOCK_LABEL.get(clock, clock)}\n"
        f"> 原因：{_md(causes)}\n"
        f"> 处理人：{_md(case.get('assignee') or '未分配')}\n"
        f"> 时间：{to_wire(now)}"
    )
    return {"msgtype": "markdown", "markdown": {"content": content}}


def _md(value: Any) -> str:
    # Connector-supplied text must not turn into markdown links or headings in the group chat.
    text = str(value if value is not None else "")
    for ch in "\\`*_[]<>#":
        text = text.replace(ch, " ")
    return text.replace("\n", " ")[:200]


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones (1 -> 30 s, doubling, at most 1 h)."""
    return min(_BACKOFF_BASE * (2 ** max(attempts - 1, 0)), _BACKOFF_CAP)


class RejectedDelivery(Exception):
    """A 2xx answer whose JSON body reports an error (the WeChat robot's ``errcode``)."""


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            status = response.status
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code
    # The enterprise WeChat robot answers 200 with {"errcode": 45009, "errmsg": ...} when it refuses
    # (rate limit, bad key): that is a failed attempt to retry, not a delivery.
    try:
        parsed = json.loads(answer) if answer else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errcode") not in (None, 0):
        raise RejectedDelivery(f"errcode {parsed.get('errcode')}: {str(parsed.get('errmsg'))[:200]}")
    return status


def deliver_due(
    conn: sqlite3.Connection,
    now: datetime,
    secret: str,
    *,
    send: Sender = http_post,
    limit: int = 50,
) -> tuple[int, int]:
    """Try the outbox rows due at `now`; returns (delivered, failed attempts).

    No transaction is held across the network call; each outcome is written on its own.
    """
    rows = conn.execute(
        "SELECT id, url, payload, attempts FROM outbox WHERE delivered_at IS NULL AND attempts < ?"
        " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        (MAX_DELIVERY_ATTEMPTS, to_db(now), limit),
    ).fetchall()
    delivered = failed = 0
    for row in rows:
        # Lease the row before the network call: the sweeper thread and the deliver_outbox job may
        # both be here, and only the one whose UPDATE matches sends. A crash mid-send leaves the
        # lease to expire, so delivery stays at-least-once; X-Triage-Delivery lets receivers dedupe.
        leased = conn.execute(
            "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND delivered_at IS NULL AND next_attempt_at <= ?",
            (to_db(now + _LEASE), row["id"], to_db(now)),
        )
        if leased.rowcount != 1:
            continue
        body = row["payload"].encode("utf-8")
        # Signed at send time, not sweep time, so a slow batch never eats the receiver's 300 s tolerance.
        headers = {"Content-Type": "application/json", "X-Triage-Delivery": str(row["id"]), **sign(body, secret)}
        try:
            status = send(row["url"], body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # any network trouble is a failed attempt, retried later
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row["attempts"] + 1
        if error is None:
            conn.execute("UPDATE outbox SET attempts = ?, delivered_at = ?, last_error = NULL WHERE id = ?",
                         (attempts, to_db(now), row["id"]))
            delivered += 1
        else:
            conn.execute("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                         (attempts, to_db(now + backoff(attempts)), error, row["id"]))
            failed += 1
            log.warning("escalation webhook %s attempt %d failed: %s", row["url"], attempts, error)
    return delivered, failed
