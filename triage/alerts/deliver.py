"""Telling people about a new alert: the signed webhook and the enterprise WeChat group robot.

Both go through the outbox (`triage.escalation.deliver_due`): rows are written in the transaction
that opens the alert, keyed ``alert:<id>:opened`` (and ``...:wecom``), and sent later with retries
and backoff by the outbox job and the sweep. Nothing here touches the network, so a slow or dead
receiver never holds up scoring or detection.

- Signed webhook (`TRIAGE_ALERT_WEBHOOK_URL`): ``{"event": "alert.opened", "at", "alert": <the
  contract's alert object>}``, signed like the escalation webhook (``X-Triage-Timestamp``,
  ``X-Triage-Signature: sha256=HMAC(first webhook secret, "<ts>." + body)``, ``X-Triage-Delivery``).
- 企业微信群机器人 (`TRIAGE_WECOM_WEBHOOK_URL`, the robot's ``.../cgi-bin/webhook/send?key=...``
  address): ``{"msgtype": "markdown", "markdown": {"content": ...}}``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from classifier.causes import CAUSE_NAMES_ZH
from triage.alerts.store import add_alert_event
from triage.timeutil import to_db, to_wire

__all__ = ["alert_payload", "queue_alert_notifications", "wecom_alert_message"]

# The robot truncates markdown beyond 4096 bytes; stay well inside it.
_MAX_CONTENT_BYTES = 3500


def alert_payload(alert: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"event": "alert.opened", "at": to_wire(now), "alert": alert}


def _md(value: Any) -> str:
    # Product ids and categories come from connectors: no markdown links, headings or font tags.
    text = str(value if value is not None else "—")
    for ch in "\\`*_[]<>#":
        text = text.replace(ch, " ")
    return text.replace("\n", " ")[:120]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def wecom_alert_message(alert: dict[str, Any]) -> dict[str, Any]:
    """The group robot's markdown for a new alert (Chinese, for the ops group chat)."""
    cause = CAUSE_NAMES_ZH.get(alert["cause"], alert["cause"])
    listing = alert["cause"] == "description_mismatch"
    title = "详情页审核" if listing else "差评预警"
    where = f"商品 {_md(alert['product_id'])}" if alert["product_id"] is not None else f"类目 {_md(alert['category'])}"
    lines = [
        f"### <font color=\"warning\">{title}</font>：{where}",
        f"> 原因：**{cause}**",
        f"> 类目：{_md(alert.get('category'))}",
        f"> 差评数：{alert['count']}（比例 {_pct(alert['rate'])}，平时 {_pct(alert['baseline_rate'])}）",
    ]
    if alert.get("terms"):
        lines.append(f"> 高频词：{'、'.join(_md(t) for t in alert['terms'][:6])}")
    lines.append(f"> 预警编号：#{alert['id']}，{alert['opened_at']}")
    if listing:
        lines.append("请核对详情页的图片与描述。")
    content = "\n".join(lines)
    while len(content.encode("utf-8")) > _MAX_CONTENT_BYTES:
        content = content[: len(content) - 100]
    return {"msgtype": "markdown", "markdown": {"content": content}}


def queue_alert_notifications(
    conn: sqlite3.Connection,
    alert: dict[str, Any],
    now: datetime,
    *,
    webhook_url: str | None,
    wecom_url: str | None,
) -> int:
    """Put the new alert's messages in the outbox (inside the caller's transaction); returns how many."""
    queued = 0
    key = f"alert:{alert['id']}:opened"
    for url, payload, dedupe in (
        (webhook_url, alert_payload(alert, now), key),
        (wecom_url, wecom_alert_message(alert), f"{key}:wecom"),
    ):
        if not url:
            continue
        cur = conn.execute(
            "INSERT INTO outbox (created_at, url, payload, next_attempt_at, dedupe_key) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (dedupe_key) DO NOTHING",
            (to_db(now), url, json.dumps(payload, ensure_ascii=False), to_db(now), dedupe),
        )
        queued += cur.rowcount
    if queued:
        add_alert_event(conn, alert["id"], "notified", now,
                        detail={"webhook": bool(webhook_url), "wecom": bool(wecom_url)})
    return queued
