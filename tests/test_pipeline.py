"""The pipeline end to end (triage.pipeline): enqueue once, recover from dead workers and lost Redis."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.registry import StartedJobRegistry

from tests.pipeline_support import COMPLAINTS, PRAISE, add_reviews, drain, review, statuses
from triage import pipeline
from triage.db import open_db
from triage.jobs import enqueue
from triage.timeutil import to_db, utcnow

TEXTS = COMPLAINTS + PRAISE


def some_reviews(n: int, customers: int = 5) -> list[dict]:
    return [review(f"r{i}", TEXTS[i % len(TEXTS)], customer_id=f"c{i % customers}") for i in range(n)]


def queued_pks(redis_conn) -> list[int]:
    queue = Queue(enqueue.SCORE_QUEUE, connection=redis_conn)
    return sorted(pk for job in queue.jobs for pk, _ in job.args[0])


def later(delta: dt.timedelta) -> dt.datetime:
    return utcnow() + delta + dt.timedelta(seconds=1)


@pytest.mark.slow  # the whole pipeline with the real model through real rq jobs
def test_webhook_to_case_end_to_end(job_context, db, redis_conn, client, signed, auth_headers):
    payload = {"reviews": [review("a1", COMPLAINTS[0], customer_id="vip", rating=1),
                           review("a2", COMPLAINTS[1], customer_id="vip", rating=2),
                           review("b1", PRAISE[0], customer_id="happy", rating=5)]}
    body, headers = signed(payload)
    assert client.post("/api/v1/webhooks/reviews", data=body, headers=headers).status_code == 202
    drain(redis_conn)
    a1 = client.get("/api/v1/reviews/default/a1", headers=auth_headers).get_json()
    b1 = client.get("/api/v1/reviews/default/b1", headers=auth_headers).get_json()
    assert (a1["status"], a1["sentiment"], b1["status"], b1["case_id"]) == ("scored", "negative", "scored", None)
    case = client.get(f"/api/v1/cases/{a1['case_id']}", headers=auth_headers).get_json()
    assert (case["customer_id"], case["review_ids"]) == ("vip", ["a1", "a2"])


def test_enqueue_claims_each_review_once(db, redis_conn):
    add_reviews(db, some_reviews(250))
    assert pipeline.enqueue_pending(db, redis_conn, batch_size=100) == 250
    assert pipeline.enqueue_pending(db, redis_conn, batch_size=100) == 0
    assert Queue(enqueue.SCORE_QUEUE, connection=redis_conn).count == 3


def test_concurrent_enqueuers_never_enqueue_a_review_twice(settings, db, redis_conn):
    pks = add_reviews(db, some_reviews(400))
    counts, barrier = [], threading.Barrier(4)

    def enqueuer():
        conn = open_db(settings.db_path)
        barrier.wait()
        counts.append(pipeline.enqueue_pending(conn, redis_conn, batch_size=30))
        conn.close()

    threads = [threading.Thread(target=enqueuer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 400
    assert queued_pks(redis_conn) == sorted(pks)


def test_redis_down_leaves_reviews_unclaimed_for_later(db, tmp_path):
    add_reviews(db, some_reviews(3))
    down = redis.Redis(unix_socket_path=str(tmp_path / "no-redis.sock"), retry=Retry(NoBackoff(), 0))
    assert pipeline.enqueue_pending(db, down) == 0
    assert db.execute("SELECT COUNT(*) FROM reviews WHERE enqueued_at IS NULL AND attempts = 0").fetchone()[0] == 3


def test_recovery_leaves_a_waiting_job_alone_however_old(db, redis_conn):
    add_reviews(db, some_reviews(10))
    pipeline.enqueue_pending(db, redis_conn)
    assert pipeline.recover(db, redis_conn, now=later(dt.timedelta(hours=6))) == 0
    assert Queue(enqueue.SCORE_QUEUE, connection=redis_conn).count == 1


@pytest.mark.slow
def test_lost_redis_then_recovery_scores_every_review_once(job_context, db, redis_conn):
    add_reviews(db, some_reviews(120))
    pipeline.enqueue_pending(db, redis_conn)
    redis_conn.flushdb()
    assert pipeline.recover(db, redis_conn, now=utcnow()) == 0  # within the grace period: not yet
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 120
    drain(redis_conn)
    assert statuses(db) == {"scored": 120}
    assert db.execute("SELECT MIN(attempts), MAX(attempts) FROM reviews").fetchone()[:] == (2, 2)
    events = db.execute("SELECT COUNT(*) FROM case_events WHERE kind IN ('opened', 'review_added')").fetchone()[0]
    assert events == db.execute("SELECT COUNT(*) FROM reviews WHERE case_id IS NOT NULL").fetchone()[0] > 0


@pytest.mark.slow
def test_worker_start_up_picks_up_what_a_lost_redis_dropped(job_context, settings, db, redis_conn):
    from service.worker import run_worker

    add_reviews(db, some_reviews(30))
    pipeline.enqueue_pending(db, redis_conn)
    redis_conn.flushdb()
    # As if the restart came a minute later (past the grace period).
    db.execute("UPDATE reviews SET enqueued_at = ?", (to_db(utcnow() - dt.timedelta(minutes=1)),))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_worker(settings, role="all", burst=True) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert statuses(db) == {"scored": 30}


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing(job_context, settings, db, redis_conn):
    long_text = ("".join(TEXTS) * 40)[:2000]
    add_reviews(db, [review(f"k{i}", f"{i} {long_text}", customer_id=f"c{i % 7}") for i in range(150)])
    pipeline.enqueue_pending(db, redis_conn, batch_size=150)  # one job, ~1.5 s of scoring
    env = {**os.environ, "TRIAGE_DB": str(settings.db_path), "REDIS_URL": settings.redis_url,
           "TRIAGE_WEBHOOK_SECRET": "x", "TRIAGE_VAR_DIR": str(settings.var_dir)}
    worker = subprocess.Popen([sys.executable, "-m", "triage", "worker", "--role", "score"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started = StartedJobRegistry(enqueue.SCORE_QUEUE, connection=redis_conn)
    try:
        deadline = time.monotonic() + 60
        while not started.get_job_ids() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.02)
        assert started.get_job_ids(), "the worker never started the job"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its scheduler: no clean-up of any kind
        worker.wait()
    drain(redis_conn)
    assert statuses(db) == {"pending": 150}  # the job died with its worker
    assert pipeline.recover(db, redis_conn, now=utcnow()) == 0  # claimed within the grace period
    # Its worker's pid is gone: dead once the grace period is over, not STALE_AFTER later.
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 150
    drain(redis_conn)
    assert statuses(db) == {"scored": 150}


def test_recovery_gives_up_after_the_documented_number_of_attempts(db, redis_conn):
    add_reviews(db, some_reviews(4))
    pipeline.enqueue_pending(db, redis_conn)
    db.execute("UPDATE reviews SET attempts = ?", (pipeline.MAX_ATTEMPTS,))
    redis_conn.flushdb()
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 0
    assert statuses(db) == {"failed": 4}
    error = db.execute("SELECT error FROM reviews LIMIT 1").fetchone()[0]
    assert f"after {pipeline.MAX_ATTEMPTS} attempts" in error
