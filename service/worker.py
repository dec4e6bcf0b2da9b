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
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from triage.config import Settings
from triage.jobs.enqueue import APPLY_QUEUE, SCORE_QUEUE, SLA_QUEUE

__all__ = ["ROLES", "run_worker"]

log = logging.getLogger(__name__)

ROLES: dict[str, tuple[str, ...]] = {
    "score": (SCORE_QUEUE,),
    # Apply before SLA before scoring: storing finished work first keeps the pending set small.
    "db": (APPLY_QUEUE, SLA_QUEUE),
    "all": (APPLY_QUEUE, SLA_QUEUE, SCORE_QUEUE),
}


def _warm_model() -> None:
    from classifier import get_classifier

    model = get_classifier()
    model.predict_many(["物流太慢了，包装也破了"])  # also loads the tokenizer's dictionary
    log.info("model %s loaded", model.version)


def run_worker(settings: Settings, role: str = "score", burst: bool = False) -> int:
    """Run a worker for `role` until SIGTERM/SIGINT (or, with `burst`, until the queues are empty)."""
    from rq import SimpleWorker

    from triage.jobs import context
    from triage.redis_conn import connect_redis

    if role not in ROLES:
        print(f"triage worker: unknown role {role!r} (score, db, all)", file=sys.stderr)
        return 2
    if not settings.redis_url:
        print("triage worker: REDIS_URL is not set (`triage serve` runs an embedded Redis and its own workers)",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    redis = connect_redis(settings.redis_url)
    context.configure(settings)
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
    worker = SimpleWorker(
        list(ROLES[role]),
        connection=redis,
        name=f"triage-{role}-{socket.gethostname()}-{os.getpid()}",
    )
    if sweeper is not None:
        # Its first pass waits one interval, so when work() forks the scheduler process the
        # thread is idle in a wait, not in the middle of a database call.
        sweeper.start()
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        if sweeper is not None:
            sweeper.stop()
    return 0

