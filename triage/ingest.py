"""Storing validated reviews: one transaction per batch, idempotent on (platform, review_id).

A redelivered review with the same text and rating is a duplicate: not stored again, so never
re-scored and never the cause of a second case. An identical repeat inside one batch is a
duplicate of its first occurrence (a changed one, an update of it).

The same (platform, review_id) with a changed text or rating is an **update** (the customer edited
the review, or added a 追评): the stored content and its scores move to ``review_revisions``
(revision n), the review takes the new content as revision n + 1, goes back to ``pending`` and is
scored again through the normal pipeline; its case, if it has one, gets a ``review_revised``
event. What the new scores mean for the case (已改评, a raised priority, a new case) is decided
where scores are applied (`triage.apply`). Other fields of an update (names, LTV, product name,
category, order) replace the stored ones when given.

Scoring is handed to the pipeline only after the commit (`enqueue_after_commit`).

With ``claim=True`` (the webhook and the importer, when Redis is configured) new and updated
reviews are stored already claimed for scoring: each chunk of `DEFAULT_BATCH_SIZE` gets a score
job id, and ``enqueued_at``/``score_job``/``attempts`` are written by the INSERT (or the update's
UPDATE) itself. So one request takes SQLite's write lock exactly once (store and claim together),
and a request of duplicates claims nothing. If the enqueue after the commit fails, the claimed reviews are picked up by the
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

from triage.cases.store import add_event
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
    status: Literal["accepted", "duplicate", "updated"]
    pk: int | None = None  # reviews.id of a newly stored (or updated) review


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

    @property
    def updated(self) -> int:
        return sum(1 for o in self.reviews if o.status == "updated")

    @property
    def to_score(self) -> int:
        """Reviews this batch left pending: new ones and updated ones."""
        return self.accepted + self.updated

    def to_json(self) -> dict[str, Any]:
        """The webhook's 202 body."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "reviews": [{"platform": o.platform, "review_id": o.review_id, "status": o.status} for o in self.reviews],
        }


_COLUMNS = ("platform", "review_id", "text", "rating", "customer_id", "customer_name", "customer_ltv",
            "product_id", "product_name", "category", "order_id", "created_at", "received_at",
            "enqueued_at", "score_job", "attempts")
_ROW = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
# Rows per INSERT statement: a request's reviews go in one statement (the webhook takes at most 500);
# an import's larger batches in several.
_INSERT_CHUNK = 500


def _insert_sql(rows: int) -> str:
    # One statement for many rows: SQLite inserts VALUES rows in order, so a key repeated inside the
    # batch is inserted from its first occurrence and its repeats meet the conflict, as they would
    # one statement at a time. RETURNING lists only the rows inserted (in no promised order, hence
    # the key with the id).
    return (f"INSERT INTO reviews ({', '.join(_COLUMNS)}) VALUES {', '.join([_ROW] * rows)}"
            " ON CONFLICT (platform, review_id) DO NOTHING RETURNING id, platform, review_id")


# The newest review's name and LTV win, so importing old reviews cannot overwrite fresher values.
# The stored times are fixed-width UTC text, so text comparison is time comparison. One statement
# for a whole batch: SQLite upserts VALUES rows in order, so a customer twice in a batch is
# inserted by its first review and updated by the second, as two statements would.
_UPSERT_CUSTOMERS = """
    INSERT INTO customers (customer_id, name, ltv, first_seen_at, last_seen_at)
    VALUES {rows}
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


def _upsert_customers(conn: sqlite3.Connection, customers: Sequence[tuple[Any, ...]]) -> None:
    # One statement per chunk rather than executemany: inside the transaction every statement
    # step gives up the GIL, and each time the request's thread waits for the web's other threads
    # (validating their own batches) to hand it back, holding the write lock all along.
    for start in range(0, len(customers), _INSERT_CHUNK):
        chunk = customers[start:start + _INSERT_CHUNK]
        conn.execute(_UPSERT_CUSTOMERS.format(rows=", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))),
                     [value for row in chunk for value in row])


def _values(review: Review, received_at: str, enqueued_at: str | None, score_job: str | None,
            attempts: int) -> tuple[Any, ...]:
    """The row of `review` in `_COLUMNS` order."""
    return (review.platform, review.review_id, review.text, review.rating, review.customer_id,
            review.customer_name, review.customer_ltv, review.product_id, review.product_name, review.category,
            review.order_id, to_db(review.created_at) if review.created_at else received_at, received_at,
            enqueued_at, score_job, attempts)


def ingest(
    conn: sqlite3.Connection, reviews: Sequence[Review], received_at: dt.datetime, *, claim: bool = False
) -> IngestResult:
    """Store a validated batch in one transaction; outcomes in input order.

    New and updated reviews are `pending`; without `claim` not yet enqueued, with it claimed for
    scoring in the same transaction (see the module docstring). Duplicates change nothing, not
    even the customer record. `received_at` (aware) also stands in for a missing `created_at`.

    The new reviews are inserted by one statement per chunk of `_INSERT_CHUNK` (one for a webhook
    request), not one per review: the transaction, and with it the write lock every other writer
    waits for, is held for as short a time as the rows allow."""
    received = to_db(received_at)
    # Each chunk of DEFAULT_BATCH_SIZE reviews (by position in the request) gets its own score job;
    # a job whose reviews all turn out duplicates is never enqueued.
    job_ids = [new_job_id() for _ in range(0, len(reviews), DEFAULT_BATCH_SIZE)] if claim else []
    rows = [
        _values(review, received, received, job_ids[i // DEFAULT_BATCH_SIZE], 1) if claim
        else _values(review, received, None, None, 0)
        for i, review in enumerate(reviews)
    ]
    outcomes: list[Outcome] = []
    customers: list[tuple[Any, ...]] = []
    items_by_job: dict[str, list[list[Any]]] = {job_id: [] for job_id in job_ids}
    claimed: dict[int, list[Any]] = {}
    with transaction(conn):
        inserted: dict[tuple[str, str], int] = {}
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start:start + _INSERT_CHUNK]
            params = [value for row in chunk for value in row]
            for pk, platform, review_id in conn.execute(_insert_sql(len(chunk)), params).fetchall():
                inserted[(platform, review_id)] = pk
        for review, row in zip(reviews, rows, strict=True):
            # pop: a repeat of the key later in the batch is judged against what is stored by then.
            pk = inserted.pop((review.platform, review.review_id), None)
            if pk is not None:
                status: Literal["accepted", "updated"] = "accepted"
            else:
                pk, status = _update_if_changed(conn, dict(zip(_COLUMNS, row, strict=True)), received_at), "updated"
                if pk is None:
                    outcomes.append(Outcome(review.platform, review.review_id, "duplicate"))
                    continue
            customers.append((row[4], row[5], row[6], row[11], row[11]))
            if claim:
                if pk in claimed:
                    # Updated again in the same batch: one score of its latest text, under its first claim.
                    item = claimed[pk]
                    item[1] = review.text
                    conn.execute("UPDATE reviews SET score_job = ? WHERE id = ?", (item[2], pk))
                else:
                    claimed[pk] = item = [pk, review.text, row[14]]
                    items_by_job[row[14]].append(item)
            outcomes.append(Outcome(review.platform, review.review_id, status, pk))
        # In input order, so the newest-wins rule sees the batch as it came.
        _upsert_customers(conn, customers)
    claims = tuple(Claim(job_id, [[pk, text] for pk, text, _ in items])
                   for job_id, items in items_by_job.items() if items)
    return IngestResult(tuple(outcomes), claims)


def _update_if_changed(conn: sqlite3.Connection, row: dict[str, Any], received_at: dt.datetime) -> int | None:
    """Store a changed redelivery as the review's next revision; its pk, or None for a duplicate."""
    old = conn.execute(
        "SELECT * FROM reviews WHERE platform = :platform AND review_id = :review_id", row
    ).fetchone()
    if old is None or (old["text"] == row["text"] and old["rating"] == row["rating"]):
        return None
    conn.execute(
        "INSERT INTO review_revisions (review_pk, revision, text, rating, received_at, sentiment, negative_prob,"
        " causes, complaints, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (old["id"], old["revision"], old["text"], old["rating"], old["received_at"], old["sentiment"],
         old["negative_prob"], old["causes"], old["complaints"], old["model_version"]),
    )
    # Back to pending with no scores (the old ones live on in review_revisions); the case link
    # stays, so the re-scored revision is judged against its case.
    conn.execute(
        """UPDATE reviews SET text = :text, rating = :rating, revision = revision + 1, received_at = :received_at,
               customer_name = COALESCE(:customer_name, customer_name),
               customer_ltv = COALESCE(:customer_ltv, customer_ltv),
               product_name = COALESCE(:product_name, product_name), category = COALESCE(:category, category),
               order_id = COALESCE(:order_id, order_id),
               status = 'pending', enqueued_at = :enqueued_at, score_job = :score_job, attempts = :attempts,
               error = NULL,
               sentiment = NULL, negative_prob = NULL, causes = NULL, cause_probs = NULL, terms = NULL,
               complaints = NULL, model_version = NULL, scored_at = NULL, risk = NULL, risk_factors = NULL,
               priority = NULL
           WHERE id = :pk""",
        {**row, "pk": old["id"]},
    )
    if old["case_id"] is not None:
        conn.execute("UPDATE cases SET version = version + 1, updated_at = ? WHERE id = ?",
                     (to_db(received_at), old["case_id"]))
        add_event(conn, old["case_id"], "review_revised", received_at, detail={
            "review": f"{old['platform']}/{old['review_id']}", "review_pk": old["id"],
            "revision": old["revision"] + 1, "previous_rating": old["rating"], "rating": row["rating"],
            "previous_sentiment": old["sentiment"], "text_changed": old["text"] != row["text"],
        })
    return int(old["id"])


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
