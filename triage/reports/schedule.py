"""The weekly publishing job: every Monday 09:00 in TRIAGE_TIMEZONE, publish last week's report.

Wiring: the database host's worker calls `schedule_weekly(queue_or_redis, timezone=...)` once at start-up.
That schedules `publish_last_week(week=...)` with rq's `enqueue_at` for the next Monday 09:00
local time; the job publishes, then schedules the following Monday's run itself. Job ids are
deterministic (`weekly-report-2026-W48`, named after the week to publish), so calling
`schedule_weekly` on every start, from any number of workers, leaves one scheduled job per
Monday, not many.

If the publishing time of the last complete week has passed (the service was down on Monday
morning), `schedule_weekly` also enqueues that week's publication at once; publishing is
idempotent, so this is harmless when the report already exists. Weeks missed before that are
not back-filled: publish them by hand with `triage report weekly --week ...` if wanted.

A report is frozen once published, so the job does not publish while reviews of the week are
still `pending` (the first start of a fresh database, a scoring backlog, a lost Redis being
recovered): it tries again `WAIT_FOR_PENDING` later, at most `MAX_WAITS` times, and then publishes
what there is (the recovery sweep turns a review that cannot be scored into `failed` well
within that time).

The job touches SQLite, so it runs on the `sla` queue, which only the database host serves.
The due time is Monday 09:00 wall-clock time in the zone, recomputed each week, so it stays at
09:00 local across DST changes in zones that have them.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import redis
from rq import Queue, get_current_job
from rq.job import Job

from triage.jobs.enqueue import SLA_QUEUE
from triage.reports.weeks import IsoWeek, last_complete_week
from triage.timeutil import UTC, utcnow

__all__ = [
    "MAX_WAITS",
    "PUBLISH_AT",
    "QUEUE_NAME",
    "WAIT_FOR_PENDING",
    "job_id_for",
    "next_publish_time",
    "pending_reviews",
    "publish_last_week",
    "publish_time",
    "schedule_weekly",
]

log = logging.getLogger(__name__)

QUEUE_NAME = SLA_QUEUE  # served only by the database host's worker (role db/all)
WAIT_FOR_PENDING = timedelta(minutes=5)
MAX_WAITS = 12  # an hour
PUBLISH_AT = time(9, 0)  # Monday, local time
JOB_TIMEOUT = 600  # seconds; a million-review week takes a few


def job_id_for(week: IsoWeek) -> str:
    return f"weekly-report-{week}"


def publish_time(week: IsoWeek, zone: ZoneInfo) -> datetime:
    """When `week`'s report is due: the Monday after it, 09:00 local (UTC)."""
    monday = week.next().monday
    local = datetime.combine(monday, PUBLISH_AT).replace(tzinfo=zone)
    return local.astimezone(UTC)


def next_publish_time(now: datetime, zone: ZoneInfo) -> tuple[datetime, IsoWeek]:
    """The first Monday 09:00 local strictly after `now`, and the week that run publishes."""
    week = last_complete_week(now, zone)
    if publish_time(week, zone) <= now:
        week = week.next()
    return publish_time(week, zone), week


def schedule_weekly(
    queue_or_redis: Queue | redis.Redis,
    now: datetime | None = None,
    *,
    timezone: str,
    catch_up: bool = True,
) -> Job:
    """Schedule the next Monday-09:00 publication; returns the scheduled job.

    `timezone` is the configured TRIAGE_TIMEZONE (the caller's settings). With
    `catch_up`, the last week whose publishing time has passed is also enqueued to publish now
    (a no-op when it is published already; see the module doc).
    """
    queue = queue_or_redis if isinstance(queue_or_redis, Queue) else Queue(QUEUE_NAME, connection=queue_or_redis)
    zone = ZoneInfo(timezone)
    now = now or utcnow()
    run_at, week = next_publish_time(now, zone)
    job = queue.enqueue_at(
        run_at,
        publish_last_week,
        week=str(week),
        job_id=job_id_for(week),
        job_timeout=JOB_TIMEOUT,
        description=f"publish weekly report {week}",
    )
    if catch_up:
        missed = week.previous()
        queue.enqueue(
            publish_last_week,
            week=str(missed),
            reschedule=False,
            job_id=f"{job_id_for(missed)}-catch-up",
            job_timeout=JOB_TIMEOUT,
            description=f"publish weekly report {missed} (catch-up)",
        )
    return job


def pending_reviews(conn: sqlite3.Connection, week: IsoWeek, zone: ZoneInfo) -> int:
    """How many of `week`'s reviews (by created_at) are not scored or failed yet."""
    start, end = week.db_bounds(zone)
    return conn.execute(
        "SELECT COUNT(*) FROM reviews WHERE created_at >= ? AND created_at < ? AND status = 'pending'", (start, end)
    ).fetchone()[0]


def publish_last_week(week: str | None = None, *, reschedule: bool = True, waited: int = 0) -> str:
    """rq job: publish `week` (default: the last complete week now) and schedule the next run.

    Settings and the SQLite connection come from `triage.jobs.context`, like every job on the
    database host. Returns the week; publishing a week that already is changes nothing. While
    the week has pending reviews the job re-enqueues itself instead (module docstring).
    """
    from triage.jobs import context
    from triage.reports.store import get_published, publish_weekly

    settings = context.settings()
    conn = context.db()
    now = utcnow()
    target = IsoWeek.parse(week) if week else last_complete_week(now, settings.zone)
    job = get_current_job()
    if reschedule and job is not None:
        schedule_weekly(
            Queue(job.origin, connection=job.connection), now, timezone=settings.timezone, catch_up=False
        )
    pending = 0 if get_published(conn, target) is not None else pending_reviews(conn, target, settings.zone)
    if pending and job is not None and waited < MAX_WAITS:
        log.info("weekly report %s: %d reviews still pending; trying again in %s", target, pending, WAIT_FOR_PENDING)
        Queue(job.origin, connection=job.connection).enqueue_in(
            WAIT_FOR_PENDING,
            publish_last_week,
            week=str(target),
            reschedule=False,
            waited=waited + 1,
            job_id=f"{job_id_for(target)}-wait-{waited + 1}",
            job_timeout=JOB_TIMEOUT,
            description=f"publish weekly report {target} (waiting for pending reviews)",
        )
        return str(target)
    publish_weekly(conn, target, settings.timezone, now=now, shifts=context.policy().shifts)
    return str(target)
