"""Helpers for the pipeline tests (jobs, cases, SLA): reviews in, queues drained, tables read."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sqlite3
from collections.abc import Iterable
from typing import Any

import redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from triage.ingest import ingest
from triage.jobs.enqueue import APPLY_QUEUE, SCORE_QUEUE, SLA_QUEUE
from triage.timeutil import UTC
from triage.validation import validate_batch

ALL_QUEUES = (APPLY_QUEUE, SLA_QUEUE, SCORE_QUEUE)
# Thursday 2026-11-26 10:00 in Shanghai: inside the default calendar's 09:00-22:00 hours.
T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

COMPLAINTS = (
    "用了三天就坏了，插上电一点反应都没有，质量太差了，要求退货！",
    "物流太慢了，等了一个星期才到，包装也破了",
    "颜色和图片完全不一样，尺码也不对，和描述根本不符",
    "收到就是坏的，联系客服两天没人回复，非常生气",
)
PRAISE = (
    "很好用，做工扎实，推荐购买",
    "质量很好，物流也快，好评",
    "包装精美，送人很有面子，非常满意",
)


def review(review_id: str, text: str, customer_id: str = "c1", **extra: Any) -> dict[str, Any]:
    return {"review_id": str(review_id), "text": text, "customer_id": customer_id, "product_id": "p1", **extra}


def add_reviews(conn: sqlite3.Connection, raws: Iterable[dict[str, Any]], now: dt.datetime = T0) -> list[int]:
    """Store webhook review objects through the real ingest; their reviews.id, in order."""
    result = ingest(conn, validate_batch(list(raws)), now)
    return [o.pk for o in result.reviews if o.pk is not None]


def drain(redis_conn: redis.Redis, queues: Iterable[str] = ALL_QUEUES) -> None:
    """Run every job that is due, in this process, until the queues are empty."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker(list(queues), connection=redis_conn).work(
            burst=True, with_scheduler=True, logging_level=logging.WARNING
        )
    finally:  # rq installs its own handlers; give pytest its Ctrl-C back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def make_scheduled_due(redis_conn: redis.Redis, queue: str) -> int:
    """Move every job scheduled on `queue` (retries, timers) to "due now": time travel for rq."""
    registry = ScheduledJobRegistry(queue=Queue(queue, connection=redis_conn))
    ids = registry.get_job_ids()
    if ids:
        redis_conn.zadd(registry.key, dict.fromkeys(ids, 0))
    return len(ids)


def statuses(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM reviews GROUP BY status")}


def snapshot(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every row of the tables the pipeline writes, for "nothing changed" comparisons."""
    tables = ("reviews", "cases", "case_events", "case_pauses", "notifications", "outbox", "customers")
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}


def stored(db, who: str) -> dict[str, list[tuple]]:
    """What applying (one job, jobs drained together, paced transactions) left for customers `<who>*`, with the customer prefix taken off."""
    like = f"{who}%"
    return {
        "reviews": [tuple(r) for r in db.execute(
            "SELECT substr(review_id, 2), status, sentiment, risk, priority, case_id IS NOT NULL FROM reviews"
            " WHERE customer_id LIKE ? ORDER BY id", (like,))],
        "cases": [tuple(r) for r in db.execute(
            "SELECT substr(customer_id, 2), priority, causes, risk, version, status, priority_reasons, value_tier"
            " FROM cases WHERE customer_id LIKE ? ORDER BY customer_id", (like,))],
        "events": [tuple(r) for r in db.execute(
            "SELECT substr(c.customer_id, 2), e.kind, e.to_status FROM case_events e JOIN cases c ON c.id = e.case_id"
            " WHERE c.customer_id LIKE ? ORDER BY e.id", (like,))],
    }
