"""From committed reviews to score jobs, and the sweep that makes sure none is ever stuck.

Enqueueing is claim-then-enqueue: a transaction stamps a batch of pending rows with
``enqueued_at`` and a fresh job id (``score_job``) — only rows nobody has claimed — and after the
commit the job goes to Redis. Concurrent web requests therefore never enqueue a review twice.

Recovery (`recover`) looks at pending reviews claimed more than `GRACE` ago and asks Redis about
their job. A job that is really waiting is left alone, so a long backlog is never enqueued twice:
"really" means its status says queued, scheduled or deferred *and* its id is on that queue or in
that registry (a status alone can outlive the queue entry: a Redis restarted from an older
snapshot, a worker killed between dequeue and start). A started job is alive while its worker is
(`triage.liveness`: on this host its pid, elsewhere its heartbeat) and for at most `STALE_AFTER`
(a hung job). The review is re-enqueued when its job is gone (Redis was lost or flushed, or the
web process died between commit and enqueue), failed, started by a dead worker, or finished
without its results being stored. Each claim counts in ``reviews.attempts``; a review still
pending after `MAX_ATTEMPTS` claims becomes ``failed`` with the reason in ``reviews.error``.

Timing (the promise: every accepted review scored within 90 s of a dead process coming back): the
sweep runs every `SWEEP_INTERVAL_SECONDS` (15 s) and looks at claims older than `GRACE` (20 s),
so a job lost or orphaned at any moment is re-enqueued within about 35 s of the db worker running,
and a restarted worker takes over a dead scheduler's lock at once (`service.worker`).

The periodic sweep (`sweep`) is recovery + the SLA safety net (cases whose next SLA change is
due) + escalation webhook delivery. It runs in a thread of the one db-role worker (`Sweeper`)
rather than as a repeating rq job, because it must survive exactly what it repairs: a repeating
job lives in Redis and would vanish with a lost Redis, while the thread lives next to SQLite.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis as redis_lib
from redis import Redis
from rq.job import Job, JobStatus

from triage.config import Settings
from triage.db import transaction
from triage.jobs.enqueue import enqueue_score, schedule_case_checks
from triage.liveness import worker_alive
from triage.sla import SlaPolicy
from triage.timeutil import to_db, utcnow

__all__ = [
    "GRACE",
    "MAX_ATTEMPTS",
    "STALE_AFTER",
    "SWEEP_INTERVAL_SECONDS",
    "Claim",
    "Sweeper",
    "enqueue_claims",
    "enqueue_pending",
    "new_job_id",
    "pending_backlog",
    "recover",
    "sweep",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100
GRACE = timedelta(seconds=20)
STALE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 5
SWEEP_INTERVAL_SECONDS = 15.0


def new_job_id() -> str:
    return f"score-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Claim:
    """A score job claimed in a committed transaction: its id and its [[review_pk, text], ...]."""

    job_id: str
    items: list[list[Any]]


def enqueue_claims(redis: Redis, claims: Sequence[Claim]) -> int:
    """Enqueue already-claimed score jobs (after their transaction committed); how many reviews.

    Raises Redis errors: the caller logs them, and the recovery sweep re-enqueues the reviews
    once their claim is older than `GRACE` (their job is not in Redis)."""
    total = 0
    for claim in claims:
        enqueue_score(redis, claim.items, claim.job_id)
        total += len(claim.items)
    return total


def _claim_unenqueued(conn: sqlite3.Connection, batch_size: int, now: datetime) -> tuple[str, list[list[Any]]]:
    job_id = new_job_id()
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, text FROM reviews WHERE status = 'pending' AND enqueued_at IS NULL ORDER BY id LIMIT ?",
            (batch_size,),
        ).fetchall()
        if rows:
            marks = ",".join("?" * len(rows))
            conn.execute(
                f"UPDATE reviews SET enqueued_at = ?, score_job = ?, attempts = attempts + 1"
                f" WHERE id IN ({marks}) AND enqueued_at IS NULL",
                [to_db(now), job_id, *(r["id"] for r in rows)],
            )
    return job_id, [[r["id"], r["text"]] for r in rows]


def _unclaim(conn: sqlite3.Connection, job_id: str) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE reviews SET enqueued_at = NULL, score_job = NULL, attempts = MAX(attempts - 1, 0)"
            " WHERE score_job = ? AND status = 'pending'",
            (job_id,),
        )


def enqueue_pending(
    conn: sqlite3.Connection, redis: Redis, *, batch_size: int = DEFAULT_BATCH_SIZE, now: datetime | None = None
) -> int:
    """Enqueue every pending review nobody has claimed yet, in score jobs of `batch_size`.

    Call it right after committing new reviews. Returns how many reviews were enqueued. Never
    raises for Redis trouble: the batch is unclaimed again, logged, and left to the next call or
    to the recovery sweep — the reviews are safe in the database either way.
    """
    total = 0
    while True:
        job_id, items = _claim_unenqueued(conn, batch_size, now or utcnow())
        if not items:
            return total
        try:
            enqueue_score(redis, items, job_id)
        except redis_lib.RedisError as exc:
            log.warning("could not enqueue %d reviews (%s); the recovery sweep will retry", len(items), exc)
            _unclaim(conn, job_id)
            return total
        total += len(items)


class _Waiting:
    """Membership of the queues and registries a waiting job must be in, read once per sweep."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queued: dict[str, set[str]] = {}

    def holds(self, job: Job, status: JobStatus) -> bool:
        origin = job.origin
        if status == JobStatus.QUEUED:
            if origin not in self._queued:
                ids = self.redis.lrange(f"rq:queue:{origin}", 0, -1)
                self._queued[origin] = {i.decode() if isinstance(i, bytes) else i for i in ids}
            return job.id in self._queued[origin]
        registry = {JobStatus.SCHEDULED: "scheduled", JobStatus.DEFERRED: "deferred"}[status]
        return self.redis.zscore(f"rq:{registry}:{origin}", job.id) is not None


def _alive(job: Job | None, now: datetime, stale_after: timedelta, waiting: _Waiting) -> bool | None:
    """True: still going; False: dead; None: finished (look at its apply job)."""
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return waiting.holds(job, status)
    if status == JobStatus.STARTED:
        started = job.started_at or job.enqueued_at
        if started is None or now - started.astimezone(now.tzinfo) >= stale_after:
            return False
        return worker_alive(waiting.redis, job.worker_name, now=now)
    if status == JobStatus.FINISHED:
        return None
    return False


def _dead_jobs(redis: Redis, job_ids: Sequence[str], now: datetime, stale_after: timedelta) -> set[str]:
    dead: set[str] = set()
    finished: list[str] = []
    waiting = _Waiting(redis)
    for job_id, job in zip(job_ids, Job.fetch_many(job_ids, connection=redis), strict=True):
        state = _alive(job, now, stale_after, waiting)
        if state is None:
            finished.append(job_id)
        elif not state:
            dead.add(job_id)
    apply_ids = [f"apply-{job_id}" for job_id in finished]
    for job_id, job in zip(finished, Job.fetch_many(apply_ids, connection=redis), strict=True):
        # Scored, and the results were stored (apply finished) or are on their way; a pending
        # review under a finished apply was never stored: score it again.
        if not _alive(job, now, stale_after, waiting):
            dead.add(job_id)
    return dead


def recover(
    conn: sqlite3.Connection,
    redis: Redis,
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    grace: timedelta = GRACE,
    max_attempts: int = MAX_ATTEMPTS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Re-enqueue pending reviews whose job is lost or dead (see the module docstring).

    Returns how many reviews were enqueued, counting never-enqueued ones it found.
    """
    now = now or utcnow()
    count = enqueue_pending(conn, redis, batch_size=batch_size, now=now)
    rows = conn.execute(
        "SELECT id, text, score_job, attempts FROM reviews WHERE status = 'pending' AND enqueued_at IS NOT NULL"
        " AND enqueued_at <= ? ORDER BY id",
        (to_db(now - grace),),
    ).fetchall()
    if not rows:
        return count
    job_ids = sorted({r["score_job"] for r in rows if r["score_job"]})
    dead = _dead_jobs(redis, job_ids, now, stale_after) if job_ids else set()
    orphans = [r for r in rows if not r["score_job"] or r["score_job"] in dead]
    give_up = [r for r in orphans if r["attempts"] >= max_attempts]
    retry = [r for r in orphans if r["attempts"] < max_attempts]
    if give_up:
        with transaction(conn):
            for r in give_up:
                conn.execute(
                    "UPDATE reviews SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'"
                    " AND score_job IS ?",
                    (f"not scored after {r['attempts']} attempts (last job {r['score_job']})", r["id"], r["score_job"]),
                )
        log.warning("gave up on %d reviews after %d attempts", len(give_up), max_attempts)
    for start in range(0, len(retry), batch_size):
        chunk = retry[start:start + batch_size]
        job_id = new_job_id()
        claimed: list[list[Any]] = []
        with transaction(conn):
            for r in chunk:
                # Compare-and-set on the old job id: a concurrent claimer wins, we skip the row.
                cur = conn.execute(
                    "UPDATE reviews SET enqueued_at = ?, score_job = ?, attempts = attempts + 1"
                    " WHERE id = ? AND status = 'pending' AND score_job IS ?",
                    (to_db(now), job_id, r["id"], r["score_job"]),
                )
                if cur.rowcount == 1:
                    claimed.append([r["id"], r["text"]])
        if claimed:
            enqueue_score(redis, claimed, job_id)
            count += len(claimed)
    if retry:
        log.info("recovery re-enqueued %d reviews", len(retry))
    return count


def pending_backlog(conn: sqlite3.Connection, now: datetime | None = None) -> tuple[int, float | None]:
    """(pending reviews, age in seconds of the oldest one since it was received, or None)."""
    from triage.timeutil import from_db

    count, oldest = conn.execute("SELECT COUNT(*), MIN(received_at) FROM reviews WHERE status = 'pending'").fetchone()
    if not count or oldest is None:
        return 0, None
    return int(count), max(((now or utcnow()) - from_db(oldest)).total_seconds(), 0.0)


def sweep(
    conn: sqlite3.Connection,
    redis: Redis,
    settings: Settings,
    *,
    policy: SlaPolicy,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One pass of the periodic sweep: recovery, due SLA checks, outbox delivery.

    Each part runs even if another fails (a Redis outage must not stop SLA escalations, which
    need only SQLite); failures are logged and the next pass tries again.
    """
    from triage.alerts.jobs import run_detection
    from triage.escalation import deliver_due
    from triage.timers import check_case, due_case_ids

    now = now or utcnow()
    report: dict[str, Any] = {"recovered": 0, "checked": 0, "escalated": 0, "delivered": 0}
    try:
        report["recovered"] = recover(conn, redis, now=now)
    except Exception:
        log.exception("recovery sweep failed")
    checks: dict[int, datetime | None] = {}
    try:
        for case_id in due_case_ids(conn, now):
            checks[case_id], escalated = check_case(conn, case_id, now, policy, settings.escalation_webhook_url,
                                                    wecom_url=settings.wecom_webhook_url)
            report["escalated"] += escalated
        report["checked"] = len(checks)
    except Exception:
        log.exception("SLA sweep failed")
    try:
        schedule_case_checks(redis, checks, now)  # re-arm timers a lost Redis took with it
    except Exception:
        log.exception("could not re-arm SLA timers")
    try:
        # Alerts whose debounced job a lost Redis took with it (run_detection only reads dirty scopes).
        report["alerts_opened"] = run_detection(conn, now, settings).summary()["opened"]
    except Exception:
        log.exception("alert detection sweep failed")
    try:
        report["delivered"], _ = deliver_due(conn, now, settings.webhook_secrets[0])
    except Exception:
        log.exception("outbox delivery failed")
    return report


class Sweeper:
    """Runs `sweep` every `interval` seconds in a daemon thread, with its own connections."""

    def __init__(self, settings: Settings, policy: SlaPolicy, *, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        self.settings = settings
        self.policy = policy
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="triage-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        from triage.db import open_db
        from triage.redis_conn import connect_redis

        assert self.settings.redis_url
        conn = redis = None
        try:
            # Wait first (the worker swept at start), and connect only then: nothing is open
            # when the worker forks its scheduler right after starting this thread.
            while not self._stop.wait(self.interval):
                try:
                    if conn is None:
                        conn = open_db(self.settings.db_path, role="apply")
                        redis = connect_redis(self.settings.redis_url)
                    report = sweep(conn, redis, self.settings, policy=self.policy)
                    if any(report.values()):
                        log.info("sweep: %s", report)
                except Exception:
                    log.exception("sweep failed")
        finally:
            if conn is not None:
                conn.close()
            if redis is not None:
                redis.close()
