"""Storing validated reviews: one transaction per batch, idempotent on (platform, review_id).

A redelivered review is a duplicate: not stored again, so never re-scored and never the cause of
a second case. A repeat inside one batch is a duplicate of its first occurrence. Scoring is
handed to the pipeline only after the commit (`enqueue_after_commit`).

With ``claim=True`` (the webhook and the importer, when Redis is configured) the new reviews are
stored already claimed for scoring: each chunk of `DEFAULT_BATCH_SIZE` gets a score job id, and
``enqueued_at``/``score_job``/``attempts`` are written by the INSERT itself. So one request takes
SQLite's write lock exactly once (store and claim together), and a request with nothing new
claims nothing. If the enqueue after the commit fails, the claimed reviews are picked up by the
recovery sweep once their claim is older than `triage.pipeline.GRACE` (their job is not in Redis).
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis

from triage.db import transaction
from triage.pipeline import DEFAULT_BATCH_SIZE, Claim, enqueue_claims, enqueue_pending, new_job_id
from triage.timeutil import to_db
from triage.validation import Review

__all__ = ["IngestResult", "Outcome", "enqueue_after_commit", "ingest"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    platform: str
    review_id: str
    status: Literal["accepted", "duplicate"]
    pk: int | None = None  # reviews.id of a newly stored review


@dataclass(frozen=True)
class IngestResult:
    reviews: tuple[Outcome, ...]
    claims: tuple[Claim, ...] = ()  # score jobs claimed in the same transaction, to enqueue after it

    @property
    def accepted(self) -> int:
        return sum(1 for o in self.reviews if o.status == "accepted")

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.reviews if o.status == "duplicate")

    def to_json(self) -> dict[str, Any]:
        """The webhook's 202 body."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "reviews": [{"platform": o.platform, "review_id": o.review_id, "status": o.status} for o in self.reviews],
        }


_INSERT_REVIEW = """
    INSERT INTO reviews (platform, review_id, text, rating, customer_id, customer_name, customer_ltv,
                         product_id, product_name, category, order_id, created_at, received_at,
                         enqueued_at, score_job, attempts)
    VALUES (:platform, :review_id, :text, :rating, :customer_id, :customer_name, :customer_ltv,
            :product_id, :product_name, :category, :order_id, :created_at, :received_at,
            :enqueued_at, :score_job, :attempts)
    ON CONFLICT (platform, review_id) DO NOTHING
    RETURNING id
"""

# The newest review's name and LTV win, so importing old reviews cannot overwrite fresher values.
# The stored times are fixed-width UTC text, so text comparison is time comparison.
_UPSERT_CUSTOMER = """
    INSERT INTO customers (customer_id, name, ltv, first_seen_at, last_seen_at)
    VALUES (:customer_id, :customer_name, :customer_ltv, :created_at, :created_at)
    ON CONFLICT (customer_id) DO UPDATE SET
        name = CASE WHEN excluded.last_seen_at >= customers.last_seen_at
                    THEN coalesce(excluded.name, customers.name)
                    ELSE coalesce(customers.name, excluded.name) END,
        ltv = CASE WHEN excluded.last_seen_at >= customers.last_seen_at
                   THEN coalesce(excluded.ltv, customers.ltv)
                   ELSE coalesce(customers.ltv, excluded.ltv) END,
        first_seen_at = min(customers.first_seen_at, excluded.first_seen_at),
        last_seen_at = max(customers.last_seen_at, excluded.last_seen_at)
"""


def _row(review: Review, received_at: str) -> dict[str, Any]:
    return {
        "platform": review.platform,
        "review_id": review.review_id,
        "text": review.text,
        "rating": review.rating,
        "customer_id": review.customer_id,
        "customer_name": review.customer_name,
        "customer_ltv": review.customer_ltv,
        "product_id": review.product_id,
        "product_name": review.product_name,
        "category": review.category,
        "order_id": review.order_id,
        "created_at": to_db(review.created_at) if review.created_at else received_at,
        "received_at": received_at,
    }


def ingest(
    conn: sqlite3.Connection, reviews: Sequence[Review], received_at: dt.datetime, *, claim: bool = False
) -> IngestResult:
    """Store a validated batch in one transaction; outcomes in input order.

    New reviews are `pending`; without `claim` not yet enqueued, with it claimed for scoring in
    the same transaction (see the module docstring). Duplicates change nothing, not even the
    customer record. `received_at` (aware) also stands in for a missing `created_at`."""
    received = to_db(received_at)
    outcomes: list[Outcome] = []
    claims: list[Claim] = []
    customers: list[dict[str, Any]] = []
    with transaction(conn):
        for review in reviews:
            row = _row(review, received)
            if claim:
                if not claims or len(claims[-1].items) >= DEFAULT_BATCH_SIZE:
                    claims.append(Claim(new_job_id(), []))
                row.update(enqueued_at=received, score_job=claims[-1].job_id, attempts=1)
            else:
                row.update(enqueued_at=None, score_job=None, attempts=0)
            # fetchall, not fetchone: the statement must finish before the next one runs.
            stored = conn.execute(_INSERT_REVIEW, row).fetchall()
            if not stored:
                outcomes.append(Outcome(review.platform, review.review_id, "duplicate"))
                continue
            customers.append(row)
            pk = stored[0][0]
            if claim:
                claims[-1].items.append([pk, review.text])
            outcomes.append(Outcome(review.platform, review.review_id, "accepted", pk))
        # In input order, so the newest-wins rule sees the batch as it came.
        conn.executemany(_UPSERT_CUSTOMER, customers)
    return IngestResult(tuple(outcomes), tuple(c for c in claims if c.items))


def enqueue_after_commit(
    conn: sqlite3.Connection, redis_client: redis.Redis | None, result: IngestResult | None = None
) -> int | None:
    """Hand reviews to the scoring queue; the number enqueued, or None if it could not.

    With the `result` of an ``ingest(..., claim=True)``: its claimed jobs, no database access.
    Without: claims and enqueues whatever is pending and unclaimed (`enqueue_pending`).

    Called after the commit, so the reviews are safe whatever happens here: a Redis outage is
    logged, not raised (the caller has already earned its 202), and the recovery sweep enqueues
    the reviews once Redis is back; so is a database too busy for the claim."""
    if redis_client is None:
        log.info("no Redis configured; pending reviews wait for the recovery sweep")
        return None
    try:
        if result is not None and result.claims:
            return enqueue_claims(redis_client, result.claims)
        return enqueue_pending(conn, redis_client)
    except (redis.RedisError, OSError, sqlite3.OperationalError) as exc:
        # OperationalError: the claim could not get the write lock in time (busy database). Its
        # transaction rolled back, so the reviews stay unclaimed for the next enqueue or sweep.
        log.warning("could not enqueue scoring jobs (%s); the recovery sweep will retry", exc)
        return None
