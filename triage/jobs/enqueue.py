"""rq job functions (module level, so rq can import them by name) and the helpers that enqueue them.

| queue   | job                     | runs on                              |
|---------|-------------------------|--------------------------------------|
| `score` | `score_batch(items)`    | any machine; Redis only, no database |
| `apply` | `apply_scores(results)`, `fail_reviews(pks, error)` | the database host |
| `sla`   | `check_case_sla(case_id)`, `deliver_outbox()`       | the database host |

Scoring machines import this module without a database, so it imports only rq and pure modules
at the top; the database side is imported inside the jobs that run on the database host.

Idempotency: `score_batch` enqueues its `apply_scores` under the id ``apply-<score job id>``
(``unique``), so a score job that runs twice enqueues one apply; `apply_scores` touches only
reviews still pending; SLA checks are recomputations and their ids name the due moment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry, get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job

from triage.timeutil import to_wire, utcnow

__all__ = [
    "APPLY_QUEUE",
    "SCORE_QUEUE",
    "SLA_QUEUE",
    "apply_scores",
    "check_case_sla",
    "deliver_outbox",
    "enqueue_apply",
    "enqueue_delivery",
    "enqueue_score",
    "fail_reviews",
    "on_score_failure",
    "retry_policy",
    "schedule_case_checks",
    "score_batch",
    "score_items",
]

log = logging.getLogger(__name__)

SCORE_QUEUE, APPLY_QUEUE, SLA_QUEUE = "score", "apply", "sla"
# A batch of 100 scores in ~30 ms; the timeout only bounds a pathological batch or a hung model.
SCORE_TIMEOUT = 120
APPLY_TIMEOUT = 300
# Finished job records stay an hour: recovery asks Redis whether a review's job is still alive.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600
SLA_RESULT_TTL = 600


def retry_policy() -> Retry:
    return Retry(max=3, interval=[10, 30, 60])


# --------------------------------------------------------------------------------------------
# Scoring (pure: Redis in, Redis out)


def score_items(items: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Score [[review_pk, text], ...]; one result dict per item, in order.

    A batch the model cannot score as a whole is retried item by item, so one bad text fails
    alone ({"pk", "error"}) instead of taking 99 good ones with it. A model that cannot load
    raises: that is the job's failure, and rq retries it.
    """
    from classifier import get_classifier

    model = get_classifier()
    pks = [int(pk) for pk, _ in items]
    texts = [str(text) for _, text in items]
    try:
        predictions: list[Any] = model.predict_many(texts)
    except Exception:
        log.exception("batch of %d failed as a whole; scoring item by item", len(texts))
        predictions = []
        for text in texts:
            try:
                predictions.append(model.predict_many([text])[0])
            except Exception as exc:
                predictions.append(exc)
    results = []
    for pk, prediction in zip(pks, predictions, strict=True):
        if isinstance(prediction, Exception):
            results.append({"pk": pk, "error": f"scoring failed: {type(prediction).__name__}: {prediction}"[:500]})
        else:
            results.append({"pk": pk, "model_version": model.version, **prediction.to_json()})
    return results


def score_batch(items: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The `score` job: score the items and enqueue `apply_scores` for the database host."""
    results = score_items(items)
    job = get_current_job()
    apply_id = None
    if job is not None:
        apply_id = f"apply-{job.id}"
        enqueue_apply(job.connection, results, apply_id)
    failed = sum(1 for r in results if "error" in r)
    return {"scored": len(results) - failed, "failed": failed, "apply_job": apply_id}


def enqueue_score(redis: Redis, items: Sequence[Sequence[Any]], job_id: str) -> Job:
    return Queue(SCORE_QUEUE, connection=redis).enqueue(
        score_batch,
        [[int(pk), text] for pk, text in items],
        job_id=job_id,
        retry=retry_policy(),
        on_failure=Callback(on_score_failure),
        job_timeout=SCORE_TIMEOUT,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=f"score {len(items)} reviews",
    )


def enqueue_apply(redis: Redis, results: Sequence[Mapping[str, Any]], job_id: str) -> Job | None:
    """Enqueue `apply_scores`; None if a job with this id exists (an earlier run of the same
    score job enqueued it already)."""
    try:
        return Queue(APPLY_QUEUE, connection=redis).enqueue(
            apply_scores,
            list(results),
            job_id=job_id,
            unique=True,
            retry=retry_policy(),
            job_timeout=APPLY_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            description=f"apply {len(results)} scores",
        )
    except DuplicateJobError:
        return None


def on_score_failure(job: Job, connection: Redis, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """rq failure callback: once a score job has no retries left, its reviews fail for good.

    Runs on the scoring machine, so it does not write the database itself: it asks the database
    host to, through the `apply` queue.
    """
    if job.retries_left:
        return
    pks = [int(pk) for pk, _ in job.args[0]]
    error = f"scoring failed after retries: {exc_type.__name__ if exc_type else 'error'}: {exc_value}"[:500]
    try:
        Queue(APPLY_QUEUE, connection=connection).enqueue(
            fail_reviews, pks, error, job_id=f"fail-{job.id}", unique=True, retry=retry_policy(),
            result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
        )
    except DuplicateJobError:
        pass


# --------------------------------------------------------------------------------------------
# Database host


def _job_redis() -> Redis | None:
    job = get_current_job()
    return job.connection if job is not None else None


def apply_scores(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `apply` job: store scores and explanations, then risk and cases; arm SLA timers."""
    from triage import context
    from triage.apply import apply_results, cached_ltv_threshold

    settings = context.settings()
    conn = context.db()
    now = utcnow()
    outcome = apply_results(
        conn,
        results,
        now=now,
        policy=context.policy(),
        ltv_threshold=cached_ltv_threshold(conn, settings.db_path),
        webhook_url=settings.escalation_webhook_url,
    )
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, outcome.checks, now)
        if outcome.escalated:
            enqueue_delivery(redis)
    return outcome.summary()


def fail_reviews(pks: Sequence[int], error: str) -> int:
    """The `apply` job a scoring machine enqueues when a batch failed for good."""
    from triage import context
    from triage.apply import mark_failed

    return mark_failed(context.db(), pks, error)


def check_case_sla(case_id: int) -> dict[str, Any]:
    """The `sla` job, enqueued for the moment a clock changes state."""
    from triage import context
    from triage.timers import check_case

    settings = context.settings()
    now = utcnow()
    next_check, escalated = check_case(context.db(), case_id, now, context.policy(),
                                       settings.escalation_webhook_url)
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, {case_id: next_check}, now)
        if escalated:
            enqueue_delivery(redis)
    return {"case_id": case_id, "next_check": to_wire(next_check), "escalated": escalated}


def deliver_outbox() -> dict[str, int]:
    """The `sla` job that sends due escalation webhooks (the sweep does it too)."""
    from triage import context
    from triage.escalation import deliver_due

    settings = context.settings()
    delivered, failed = deliver_due(context.db(), utcnow(), settings.webhook_secrets[0])
    return {"delivered": delivered, "failed": failed}


def enqueue_delivery(redis: Redis) -> None:
    try:
        Queue(SLA_QUEUE, connection=redis).enqueue(
            deliver_outbox, job_id=f"outbox-{int(utcnow().timestamp())}", unique=True, result_ttl=SLA_RESULT_TTL
        )
    except DuplicateJobError:
        pass


def _whole_second_after(moment: datetime) -> datetime:
    # rq's scheduled registry keeps whole seconds (truncated); rounding up means a timer never
    # fires before its moment.
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), UTC)


def schedule_case_checks(redis: Redis, checks: Mapping[int, datetime | None], now: datetime) -> int:
    """Arm `check_case_sla` for each case's next SLA moment (None: nothing to arm). One round trip.

    The job id names the case and the moment, so arming the same moment twice is one job, and a
    check that runs reschedules under a new id.
    """
    queue = Queue(SLA_QUEUE, connection=redis)
    armed = 0
    with redis.pipeline() as pipe:
        for case_id, moment in checks.items():
            if moment is None:
                continue
            at = _whole_second_after(moment)
            job_id = f"sla-{case_id}-{int(at.timestamp())}"
            if at <= now:
                queue.enqueue(check_case_sla, case_id, job_id=job_id, retry=retry_policy(),
                              result_ttl=SLA_RESULT_TTL, pipeline=pipe)
            else:
                queue.enqueue_at(at, check_case_sla, case_id, job_id=job_id, retry=retry_policy(),
                                 result_ttl=SLA_RESULT_TTL, pipeline=pipe)
            armed += 1
        pipe.execute()
    return armed
