"""Queue names, the retry policy, and the functions that put jobs on the queues.

| queue   | job (dotted path)                                   | runs on                              |
|---------|-----------------------------------------------------|--------------------------------------|
| `score` | `triage.jobs.scoring.score_batch(items)`            | any machine; Redis only, no database |
| `apply` | `triage.jobs.database.apply_scores(results)`, `fail_reviews(pks, error)` | the database host |
| `sla`   | `triage.jobs.database.check_case_sla(case_id)`, `deliver_outbox()`       | the database host |

Jobs are enqueued by their dotted path, not by importing them: the web app, the database host
and a scoring machine handing its results on all enqueue, and none of them should load the other
hosts' code to do so (a scoring machine must not even import sqlite3). rq imports the job by that
path where it runs; `tests/` checks that every path here names a function.

Idempotency: `score_batch` enqueues its `apply_scores` under the id ``apply-<score job id>``
(``unique``), so a score job that runs twice enqueues one apply; `apply_scores` touches only
reviews still pending; SLA checks are recomputations and their ids name the due moment.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job

from triage.timeutil import utcnow

__all__ = [
    "ALERTS_DEBOUNCE_SECONDS",
    "APPLY_QUEUE",
    "APPLY_SCORES",
    "CHECK_CASES_SLA",
    "CHECK_CASE_SLA",
    "DELIVER_OUTBOX",
    "DETECT_ALERTS",
    "FAIL_REVIEWS",
    "JOB_PATHS",
    "ON_SCORE_FAILURE",
    "SCORE_BATCH",
    "SCORE_QUEUE",
    "SLA_QUEUE",
    "enqueue_apply",
    "enqueue_delivery",
    "enqueue_detect_alerts",
    "enqueue_failure",
    "enqueue_score",
    "retry_policy",
    "schedule_case_checks",
]

SCORE_QUEUE, APPLY_QUEUE, SLA_QUEUE = "score", "apply", "sla"

SCORE_BATCH = "triage.jobs.scoring.score_batch"
ON_SCORE_FAILURE = "triage.jobs.scoring.on_score_failure"
APPLY_SCORES = "triage.jobs.database.apply_scores"
FAIL_REVIEWS = "triage.jobs.database.fail_reviews"
CHECK_CASE_SLA = "triage.jobs.database.check_case_sla"
CHECK_CASES_SLA = "triage.jobs.database.check_cases_sla"
DELIVER_OUTBOX = "triage.jobs.database.deliver_outbox"
DETECT_ALERTS = "triage.jobs.database.detect_alerts"
JOB_PATHS = (SCORE_BATCH, ON_SCORE_FAILURE, APPLY_SCORES, FAIL_REVIEWS, CHECK_CASE_SLA, CHECK_CASES_SLA,
             DELIVER_OUTBOX, DETECT_ALERTS)
# Alert detection runs at most once per this many seconds however many apply batches land: the
# batches of one window share one job (its id names the window), which judges every product touched.
ALERTS_DEBOUNCE_SECONDS = 5

# A batch of 100 scores in ~30 ms; the timeout only bounds a pathological batch or a hung model.
SCORE_TIMEOUT = 120
APPLY_TIMEOUT = 300
# Finished job records stay an hour: recovery asks Redis whether a review's job is still alive.
RESULT_TTL = 3600
# Except an apply job's: it carries its batch's results (~75 KB per 100 reviews), an hour of which
# is gigabytes of Redis at a few thousand reviews/s. Recovery only needs it while its reviews are
# pending: once it finished they are stored, and a review still pending under an expired apply
# job was lost after all (re-scored, which is what recovery does for a missing job).
APPLY_RESULT_TTL = 600
FAILURE_TTL = 7 * 24 * 3600
SLA_RESULT_TTL = 600


def retry_policy() -> Retry:
    return Retry(max=3, interval=[10, 30, 60])


def enqueue_score(redis: Redis, items: Sequence[Sequence[Any]], job_id: str) -> Job:
    return Queue(SCORE_QUEUE, connection=redis).enqueue(
        SCORE_BATCH,
        [[int(pk), text] for pk, text in items],
        job_id=job_id,
        retry=retry_policy(),
        on_failure=Callback(ON_SCORE_FAILURE),
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
            APPLY_SCORES,
            list(results),
            job_id=job_id,
            unique=True,
            retry=retry_policy(),
            job_timeout=APPLY_TIMEOUT,
            result_ttl=APPLY_RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            description=f"apply {len(results)} scores",
        )
    except DuplicateJobError:
        return None


def enqueue_failure(redis: Redis, pks: Sequence[int], error: str, job_id: str) -> None:
    """Ask the database host to mark reviews failed for good (once per `job_id`)."""
    try:
        Queue(APPLY_QUEUE, connection=redis).enqueue(
            FAIL_REVIEWS, list(pks), error, job_id=job_id, unique=True, retry=retry_policy(),
            result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
        )
    except DuplicateJobError:
        pass


def enqueue_delivery(redis: Redis) -> None:
    try:
        Queue(SLA_QUEUE, connection=redis).enqueue(
            DELIVER_OUTBOX, job_id=f"outbox-{int(utcnow().timestamp())}", unique=True, result_ttl=SLA_RESULT_TTL
        )
    except DuplicateJobError:
        pass


def enqueue_detect_alerts(redis: Redis, now: datetime, *, delay: int = ALERTS_DEBOUNCE_SECONDS) -> bool:
    """Schedule the alerts job for the end of the current debounce window (once per window).

    Returns False if this window's job exists already. The job drains ``alert_dirty``, so work a
    lost job leaves behind is picked up by the next window's job or by the sweep.
    """
    window = math.floor(now.timestamp() / delay) * delay + delay
    at = datetime.fromtimestamp(window, UTC)
    try:
        Queue(APPLY_QUEUE, connection=redis).enqueue_at(
            at, DETECT_ALERTS, job_id=f"alerts-{window}", unique=True, retry=retry_policy(),
            job_timeout=APPLY_TIMEOUT, result_ttl=SLA_RESULT_TTL, failure_ttl=FAILURE_TTL,
            description="detect product alerts",
        )
    except DuplicateJobError:
        return False
    return True


def _whole_second_after(moment: datetime) -> datetime:
    # rq's scheduled registry keeps whole seconds (truncated); rounding up means a timer never
    # fires before its moment.
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), UTC)


def schedule_case_checks(redis: Redis, checks: Mapping[int, datetime | None], now: datetime) -> int:
    """Arm SLA checks for each case's next SLA moment (None: nothing to arm). One round trip.

    Cases due at the same (whole) second share one job, `check_cases_sla` (a batch of scores opens
    many cases at the same instant with the same priority, hence the same moments): one scheduled
    job per moment instead of one per case. A lone case keeps `check_case_sla`, whose id names the
    case and the moment, so arming the same moment twice is one job; a group's id names its moment
    and its cases. A check that runs reschedules under a new id. Returns how many cases were armed.
    """
    queue = Queue(SLA_QUEUE, connection=redis)
    by_second: dict[datetime, list[int]] = {}
    for case_id, moment in checks.items():
        if moment is not None:
            by_second.setdefault(_whole_second_after(moment), []).append(case_id)
    with redis.pipeline() as pipe:
        for at, case_ids in by_second.items():
            if len(case_ids) == 1:
                func, args, job_id = CHECK_CASE_SLA, (case_ids[0],), f"sla-{case_ids[0]}-{int(at.timestamp())}"
            else:
                ids = sorted(case_ids)
                digest = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:12]
                func, args, job_id = CHECK_CASES_SLA, (ids,), f"sla-many-{int(at.timestamp())}-{digest}"
            if at <= now:
                queue.enqueue(func, *args, job_id=job_id, retry=retry_policy(), result_ttl=SLA_RESULT_TTL,
                              pipeline=pipe)
            else:
                queue.enqueue_at(at, func, *args, job_id=job_id, retry=retry_policy(), result_ttl=SLA_RESULT_TTL,
                                 pipeline=pipe)
        pipe.execute()
    return sum(len(ids) for ids in by_second.values())
