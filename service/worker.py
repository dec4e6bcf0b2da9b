"""`triage worker`: an rq worker (with scheduler) for one role.

| role    | queues                | where                       | touches                 |
|---------|-----------------------|-----------------------------|-------------------------|
| `score` | score                 | any machine, any number     | Redis only, never SQLite |
| `db`    | apply, sla (+ sweep)  | the database host, exactly one | SQLite and Redis     |
| `all`   | apply, sla, score     | one machine doing both      | SQLite and Redis        |

Jobs run in the worker process itself (rq's SimpleWorker) rather than in a fork per job:

* the model is loaded once, before the first job, and stays warm — a fork per job would inherit
  it too, but costs 10-20 ms of fork and copy-on-write per job, which at ~30 ms of scoring per
  batch of 100 is a large share of the throughput on a small machine;
* the database host keeps one SQLite connection for all its jobs;
* what a fork would protect against is covered elsewhere: rq still enforces job timeouts
  (SIGALRM), and if a job takes the whole process down, the supervisor (`triage serve`,
  systemd) restarts it and the recovery sweep re-enqueues the reviews it held.

The db role runs recovery at start, then a sweeper thread (see `triage.pipeline`).

Scheduler locks: rq gives each queue's schedule (retries, SLA timers) to one worker's scheduler
through a lock in Redis. A scheduler killed outright leaves its lock held for up to a minute, and
rq only tries again at its maintenance pass (every 10 minutes by default), so a restarted worker
would run without a scheduler that long. Here a worker releases locks whose holder is dead
(`triage.liveness`) before it starts its scheduler and at each maintenance pass, which runs every
`MAINTENANCE_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping

from triage.config import Settings
from triage.jobs.enqueue import APPLY_QUEUE, SCORE_QUEUE, SLA_QUEUE

__all__ = ["MAINTENANCE_SECONDS", "ROLES", "apply_hold_seconds", "run_worker"]

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 30

ROLES: dict[str, tuple[str, ...]] = {
    "score": (SCORE_QUEUE,),
    # Apply before SLA before scoring: storing finished work first keeps the pending set small.
    "db": (APPLY_QUEUE, SLA_QUEUE),
    "all": (APPLY_QUEUE, SLA_QUEUE, SCORE_QUEUE),
}


def apply_hold_seconds(env: Mapping[str, str]) -> float | None:
    """`TRIAGE_APPLY_HOLD_MS`: how long one apply transaction of the db worker aims to hold the
    write lock (None, unset: `triage.jobs.database.APPLY_HOLD_SECONDS`; 0 = sized by count alone)."""
    raw = (env.get("TRIAGE_APPLY_HOLD_MS") or "").strip()
    if not raw:
        return None
    try:
        ms = int(raw)
    except ValueError:
        ms = -1
    if ms < 0:
        raise ValueError(f"TRIAGE_APPLY_HOLD_MS={raw!r}: use a whole number of milliseconds, 0 or more")
    return ms / 1000


def _warm_model() -> None:
    from classifier import get_classifier

    model = get_classifier()
    model.predict_many(["物流太慢了，包装也破了"])  # also loads the tokenizer's dictionary
    log.info("model %s loaded", model.version)


def _worker_class():
    from rq import SimpleWorker

    from triage.liveness import release_stale_scheduler_locks

    class Worker(SimpleWorker):
        """SimpleWorker that takes over the scheduler locks of dead schedulers (module docstring)."""

        def _free_stale_scheduler_locks(self) -> None:
            try:
                freed = release_stale_scheduler_locks(self.connection, self.queue_names())
            except Exception:  # Redis trouble: rq's own loop reports and retries it
                log.exception("could not check the scheduler locks")
                return
            if freed:
                log.warning("released scheduler locks of a dead scheduler: %s", ", ".join(freed))

        def _start_scheduler(self, *args, **kwargs):
            self._free_stale_scheduler_locks()
            return super()._start_scheduler(*args, **kwargs)

        def run_maintenance_tasks(self):
            scheduler = self.scheduler
            if scheduler is not None and (scheduler._process is None or not scheduler._process.is_alive()):
                self._free_stale_scheduler_locks()
            return super().run_maintenance_tasks()

    return Worker


def run_worker(settings: Settings, role: str = "score", burst: bool = False, nice: int = 0) -> int:
    """Run a worker for `role` until SIGTERM/SIGINT (or, with `burst`, until the queues are empty),
    `nice` steps below its starting priority (`service.niceness`)."""
    from service.logs import job_logs_wanted, setup_logging
    from service.niceness import lower_priority
    from triage.jobs import context
    from triage.liveness import WORKER_TTL
    from triage.redis_conn import connect_redis

    if role not in ROLES:
        print(f"triage worker: unknown role {role!r} (score, db, all)", file=sys.stderr)
        return 2
    hold = None
    if role in ("db", "all"):  # only the db worker applies: a typo there must not stop scoring too
        try:
            hold = apply_hold_seconds(os.environ)
        except ValueError as exc:
            print(f"triage worker: {exc}", file=sys.stderr)
            return 2
    if not settings.redis_url:
        print("triage worker: REDIS_URL is not set (`triage serve` runs an embedded Redis and its own workers)",
              file=sys.stderr)
        return 2
    setup_logging()
    lower_priority(nice)  # before the model loads: the scheduler process and sweeper thread inherit it
    redis = connect_redis(settings.redis_url)
    context.configure(settings)
    if role in ("db", "all") and hold is not None:
        from triage.jobs.database import set_apply_hold

        set_apply_hold(hold)
    sweeper = None
    if role in ("score", "all"):
        _warm_model()
    if role in ("db", "all"):
        from triage.pipeline import Sweeper, sweep

        # Catch up before taking new work: reviews a dead worker or a lost Redis left pending,
        # SLA moments that passed while no worker ran, undelivered escalations.
        report = sweep(context.db(), redis, settings, policy=context.policy())
        log.info("start-up sweep: %s", report)
        from triage.reports.schedule import schedule_weekly

        # The Monday 09:00 report re-arms itself; scheduling at every start keeps exactly one
        # pending run (deterministic job id) and catches up a Monday missed while nothing ran.
        schedule_weekly(redis, timezone=settings.timezone)
        context.close_db()  # no open SQLite connection across the scheduler's fork
        if not burst:
            sweeper = Sweeper(settings, context.policy())
    from triage.jobs.kept_payload import KeptPayloadJob

    worker = _worker_class()(
        list(ROLES[role]),
        connection=redis,
        job_class=KeptPayloadJob,  # a finished job's payload is not compressed again
        name=f"triage-{role}-{socket.gethostname()}-{os.getpid()}",
        worker_ttl=WORKER_TTL,
        maintenance_interval=MAINTENANCE_SECONDS,
    )
    if sweeper is not None:
        # Its first pass waits one interval, so when work() forks the scheduler process the
        # thread is idle in a wait, not in the middle of a database call.
        sweeper.start()
    profiler = _profiler(role)
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO" if job_logs_wanted() else "WARNING")
    finally:
        if sweeper is not None:
            sweeper.stop()
        if profiler is not None:
            profiler()
    return 0


def _profiler(role: str):
    """With TRIAGE_PROFILE_DIR set (benchmarks), profile this worker's job thread with cProfile,
    timed by the thread's CPU clock (waits for Redis, the write lock or the disk cost nothing);
    returns the function that stops it and writes `<dir>/worker-<role>-<pid>.prof`."""
    where = os.environ.get("TRIAGE_PROFILE_DIR")
    if not where:
        return None
    import cProfile
    import time
    from pathlib import Path

    profile = cProfile.Profile(time.thread_time)
    profile.enable()

    def stop() -> None:
        profile.disable()
        Path(where).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(Path(where) / f"worker-{role}-{os.getpid()}.prof"))

    return stop

