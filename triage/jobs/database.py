"""Database-host jobs: apply scores, SLA checks, escalation delivery, failed reviews.

They run where the SQLite file is (`triage worker --role db`, or inside `triage serve`) and take
their settings, connection and SLA policy from `triage.jobs.context`, which the worker configures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry
from rq.utils import now as rq_now
from rq.utils import utcformat

from triage.alerts.jobs import run_detection
from triage.apply import ApplyOutcome, apply_results, cached_ltv_threshold, mark_failed
from triage.db import transaction
from triage.escalation import deliver_due
from triage.jobs import context
from triage.jobs.enqueue import (
    APPLY_RESULT_TTL,
    APPLY_SCORES,
    enqueue_delivery,
    enqueue_detect_alerts,
    schedule_case_checks,
)
from triage.timers import check_case, check_case_in_tx
from triage.timeutil import to_wire, utcnow

log = logging.getLogger(__name__)

__all__ = ["PACE", "Pace", "apply_scores", "check_case_sla", "check_cases_sla", "deliver_outbox", "detect_alerts",
           "fail_reviews", "set_apply_hold"]


def _job_redis() -> Redis | None:
    job = get_current_job()
    return job.connection if job is not None else None


# An apply job also takes the `apply_scores` jobs queued behind it (up to this many results in
# all) and stores them in its own transaction: one COMMIT, one job's worth of rq bookkeeping, one
# round of SLA and alert scheduling for the lot. Bounded because the transaction holds the write
# lock that webhook requests wait for (~40 ms per 100 results on a loaded machine): 200 keeps
# a webhook's worst wait for the lock under the 100 ms its p95 is held to, and most of the saving
# (COMMIT per review 52 µs at 100 results, ~30 at 200, 23 at 500).
DRAIN_MAX_RESULTS = 200
# How many queued jobs are looked at for it (the head of the apply queue).
DRAIN_LOOKAHEAD = 16

# What is drained is stored in transactions sized by time, not only by count, while requests are
# about (one waited for or held the write lock in the last REQUESTS_RECENT_SECONDS): a webhook
# that asks for the lock while an apply transaction holds it waits for the rest of that
# transaction, and the time per result varies (the machine's load, how many reviews open cases),
# so each holds the lock for about APPLY_HOLD_SECONDS, sized from the hold times measured before it
# (`triage.db.Connection.last_hold_seconds`); between two, requests go first (`triage.write_priority`).
# A transaction has a fixed cost (~4 ms: COMMIT's page writes, the batch's reads; 414 µs of CPU per
# review at 200 results, 464 at 100, 554 at 25: docs/benchmarks.md), hence a floor of
# APPLY_MIN_RESULTS, and with no request about the whole drain in one transaction.
APPLY_HOLD_SECONDS = 0.04
APPLY_MIN_RESULTS = 25
REQUESTS_RECENT_SECONDS = 1.0


def apply_scores(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `apply` job: store scores and explanations, then risk and cases; arm SLA timers.

    It takes the `apply_scores` jobs waiting behind it in the queue along (`DRAIN_MAX_RESULTS`):
    their results are applied in this job's transaction, and once it has committed those jobs are
    taken off the queue and recorded as finished. A crash before that leaves them queued, to run
    again (applying is idempotent: only reviews still pending are touched). If the combined batch
    fails, this job's own results are applied alone, so one bad job never holds up the others.
    """
    job = get_current_job()
    redis = job.connection if job is not None else None
    taken: list[tuple[Job, Sequence[Mapping[str, Any]]]] = []
    if job is not None:
        try:
            taken = _queued_applies(job, DRAIN_MAX_RESULTS - len(results))
        except Exception:  # never fail an apply for the batching: apply this job's results alone
            log.exception("could not read the queued apply jobs; applying this job's results alone")
    batch = [*results, *(result for _, more in taken for result in more)]
    committed = ApplyOutcome()  # what transactions of the batch committed before any failure
    try:
        outcome, now = _apply_paced(batch, committed)
    except Exception:
        if not taken:
            raise
        log.exception("applying %d queued jobs together failed; applying job %s alone", len(taken), job.id)
        taken = []
        outcome, now = _apply_paced(results)
        # The batch's committed transactions stay (their rows are no longer pending, so the rerun
        # skips them): their follow-ups (SLA checks, deliveries, alert detection) are this job's too.
        _add(outcome, committed)
    if redis is not None:
        if taken:
            _finish_taken(job, taken)
        schedule_case_checks(redis, outcome.checks, now)
        if outcome.escalated:
            enqueue_delivery(redis)
        if outcome.alert_counts:
            try:
                enqueue_detect_alerts(redis, now)
            except Exception:  # never fail an apply for the alerts: the sweep judges dirty products too
                log.exception("could not enqueue alert detection; the sweep will run it")
    summary = outcome.summary()
    if taken:
        summary["jobs"] = 1 + len(taken)
    return summary


class Pace:
    """How many results one apply transaction takes to hold the write lock about `hold` seconds:
    a moving average of the seconds per result the last transactions held it (per process)."""

    def __init__(self, hold: float = APPLY_HOLD_SECONDS, least: int = APPLY_MIN_RESULTS,
                 most: int = DRAIN_MAX_RESULTS) -> None:
        self.hold = hold
        self.least = least
        self.most = most
        self.per_result: float | None = None  # unknown until a transaction measured it

    def size(self) -> int:
        if self.hold <= 0:
            return self.most
        if self.per_result is None:
            return self.least
        return max(self.least, min(self.most, int(self.hold / max(self.per_result, 1e-6))))

    def observe(self, results: int, held: float) -> None:
        if results <= 0 or held <= 0:
            return
        seen = held / results
        self.per_result = seen if self.per_result is None else 0.7 * self.per_result + 0.3 * seen


PACE = Pace()


def set_apply_hold(seconds: float) -> None:
    """This process's hold budget for apply transactions (`TRIAGE_APPLY_HOLD_MS`, read by the
    worker); 0 sizes them by count alone (`DRAIN_MAX_RESULTS`), as before the budget."""
    PACE.hold = seconds


def _apply_paced(results: Sequence[Mapping[str, Any]],
                 total: ApplyOutcome | None = None) -> tuple[ApplyOutcome, datetime]:
    """`_apply` in consecutive transactions of `PACE.size()` results each while requests are about
    (`DRAIN_MAX_RESULTS` while none are), in order: the same rows as one transaction gives (as the
    jobs one after another would leave them), with the write lock let go for waiting requests in
    between. A crash between two leaves the rest for the job's next run (applying is idempotent);
    the outcomes are summed into `total` as each transaction commits.

    The results are taken in the order of their reviews' `created_at`, as one transaction applies
    them: a customer's earlier complaints count toward the risk and priority of the later ones,
    and reviews sent newest first (as platforms list them) must not be cut the other way round."""
    total = ApplyOutcome() if total is None else total
    now = utcnow()
    start = 0
    conn = context.db()
    priority = getattr(conn, "write_priority", None)
    if len(results) > 1:
        results = _in_review_order(conn, results)
    while start < len(results) or start == 0:
        paced = priority is None or priority.requests_seen(REQUESTS_RECENT_SECONDS)
        part = results[start:start + (PACE.size() if paced else PACE.most)]
        outcome, now = _apply(part)
        PACE.observe(len(part), getattr(context.db(), "last_hold_seconds", 0.0))
        _add(total, outcome)
        start += max(len(part), 1)
    return total, now


def _in_review_order(conn, results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """`results` sorted by their reviews' `created_at` (then id), stably: several results for one
    review keep their order (the first that fits is applied). Read outside the write lock."""
    pks = list(dict.fromkeys(int(r["pk"]) for r in results))
    order: dict[int, int] = {}
    for chunk in range(0, len(pks), 500):
        part = pks[chunk:chunk + 500]
        marks = ",".join("?" * len(part))
        order.update((pk, (created_at or "", pk)) for pk, created_at in conn.execute(
            f"SELECT id, created_at FROM reviews WHERE id IN ({marks})", part))
    missing = ("\uffff", 0)  # a review no longer there: last, where `_apply` will find nothing to do
    return sorted(results, key=lambda r: order.get(int(r["pk"]), missing))


def _add(total: ApplyOutcome, outcome: ApplyOutcome) -> None:
    total.scored += outcome.scored
    total.failed += outcome.failed
    total.skipped += outcome.skipped
    total.checks.update(outcome.checks)
    total.escalated += outcome.escalated
    total.alert_counts += outcome.alert_counts


def _apply(results: Sequence[Mapping[str, Any]]) -> tuple[ApplyOutcome, datetime]:
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
        wecom_url=settings.wecom_webhook_url,
    )
    return outcome, now


def _queued_applies(job: Job, room: int) -> list[tuple[Job, Sequence[Mapping[str, Any]]]]:
    """The `apply_scores` jobs waiting at the head of this job's queue, in order and up to `room`
    results in all, with their results (one round trip for the ids, one for the jobs). The run
    stops at any other job (a `fail_reviews`, a due detection), so queue order between kinds holds."""
    if room <= 0:
        return []
    queue_key = f"rq:queue:{job.origin}"
    ids = [i.decode() if isinstance(i, bytes) else i for i in job.connection.lrange(queue_key, 0, DRAIN_LOOKAHEAD - 1)]
    ids = [i for i in ids if i != job.id]
    if not ids:
        return []
    taken = []
    for other in type(job).fetch_many(ids, connection=job.connection, serializer=job.serializer):
        if other is None or other.func_name != APPLY_SCORES or other.get_status(refresh=False) != JobStatus.QUEUED:
            break  # only the unbroken run of apply jobs at the head: no job overtakes another kind
        results = other.args[0] if other.args else []
        if len(results) > room:
            break
        taken.append((other, results))
        room -= len(results)
    return taken


def _finish_taken(job: Job, taken: Sequence[tuple[Job, Any]]) -> None:
    """Take jobs whose results this job committed off the queue, recorded as finished by it."""
    queue_key = f"rq:queue:{job.origin}"
    registry = FinishedJobRegistry(job.origin, connection=job.connection, job_class=type(job),
                                   serializer=job.serializer)
    ended = utcformat(rq_now())
    with job.connection.pipeline() as pipe:
        for other, _ in taken:
            pipe.lrem(queue_key, 1, other.id)
            pipe.hset(other.key, mapping={"status": JobStatus.FINISHED.value, "ended_at": ended,
                                          "applied_by": job.id})
            pipe.expire(other.key, APPLY_RESULT_TTL)
            registry.add(other, APPLY_RESULT_TTL, pipeline=pipe)
        pipe.execute()


def fail_reviews(pks: Sequence[int], error: str) -> int:
    """The `apply` job a scoring machine enqueues when a batch failed for good."""
    return mark_failed(context.db(), pks, error)


def check_case_sla(case_id: int) -> dict[str, Any]:
    """The `sla` job, enqueued for the moment a clock changes state."""
    settings = context.settings()
    now = utcnow()
    next_check, escalated = check_case(context.db(), case_id, now, context.policy(),
                                       settings.escalation_webhook_url, wecom_url=settings.wecom_webhook_url)
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, {case_id: next_check}, now)
        if escalated:
            enqueue_delivery(redis)
    return {"case_id": case_id, "next_check": to_wire(next_check), "escalated": escalated}


def check_cases_sla(case_ids: Sequence[int]) -> dict[str, Any]:
    """The `sla` job for several cases due at the same moment: each checked as `check_case_sla`
    would, in one transaction; their next moments armed together."""
    settings = context.settings()
    now = utcnow()
    conn = context.db()
    checks: dict[int, Any] = {}
    escalated = 0
    with transaction(conn):
        for case_id in case_ids:
            checks[case_id], count = check_case_in_tx(conn, int(case_id), now, context.policy(),
                                                      settings.escalation_webhook_url,
                                                      wecom_url=settings.wecom_webhook_url)
            escalated += count
    redis = _job_redis()
    if redis is not None:
        schedule_case_checks(redis, checks, now)
        if escalated:
            enqueue_delivery(redis)
    return {"cases": len(checks), "escalated": escalated}


def deliver_outbox() -> dict[str, int]:
    """The `sla` job that sends due escalation webhooks (the sweep does it too)."""
    settings = context.settings()
    delivered, failed = deliver_due(context.db(), utcnow(), settings.webhook_secrets[0])
    return {"delivered": delivered, "failed": failed}


def detect_alerts() -> dict[str, Any]:
    """The alerts job (debounced after applies): judge the products and categories with new counts."""
    settings = context.settings()
    outcome = run_detection(context.db(), utcnow(), settings)
    redis = _job_redis()
    if redis is not None:
        if outcome.notified:
            enqueue_delivery(redis)
        if outcome.more:
            enqueue_detect_alerts(redis, utcnow())
    return outcome.summary()
