"""Recovery believes a job is alive only when Redis really holds it, and a dead worker or
scheduler is recognised at once (triage.pipeline, triage.liveness)."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from tests.pipeline_support import add_reviews, review
from triage import liveness, pipeline
from triage.jobs import enqueue
from triage.timeutil import utcnow


def later(delta: dt.timedelta) -> dt.datetime:
    return utcnow() + delta + dt.timedelta(seconds=1)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def one_job(db, redis_conn, n: int = 3) -> Job:
    add_reviews(db, [review(f"r{i}", "物流太慢了，等了一个星期", customer_id=f"c{i}") for i in range(n)])
    pipeline.enqueue_pending(db, redis_conn)
    (job_id,) = {r[0] for r in db.execute("SELECT score_job FROM reviews")}
    return Job.fetch(job_id, connection=redis_conn)


def register_worker(redis_conn, name: str, *, pid: int, host: str | None = None,
                    beat: dt.datetime | None = None, queues: str = "score") -> None:
    redis_conn.sadd("rq:workers", name)
    redis_conn.hset(f"rq:worker:{name}", mapping={
        "hostname": host or socket.gethostname(), "pid": pid, "queues": queues,
        "last_heartbeat": (beat or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    })


def test_a_job_marked_queued_but_on_no_queue_is_re_enqueued(db, redis_conn):
    job = one_job(db, redis_conn)
    redis_conn.delete(f"rq:queue:{enqueue.SCORE_QUEUE}")  # the status hash survived, the queue entry did not
    assert job.get_status() == JobStatus.QUEUED
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 3


def test_a_job_marked_scheduled_but_in_no_registry_is_re_enqueued(db, redis_conn):
    job = one_job(db, redis_conn)
    redis_conn.delete(f"rq:queue:{enqueue.SCORE_QUEUE}")
    job.set_status(JobStatus.SCHEDULED)
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 3


def test_a_scheduled_retry_in_its_registry_is_left_alone(db, redis_conn):
    job = one_job(db, redis_conn)
    queue = Queue(enqueue.SCORE_QUEUE, connection=redis_conn)
    queue.remove(job.id)
    ScheduledJobRegistry(queue=queue).schedule(job, utcnow() + dt.timedelta(seconds=30))
    job.set_status(JobStatus.SCHEDULED)
    assert pipeline.recover(db, redis_conn, now=later(dt.timedelta(hours=1))) == 0


def started_by(job: Job, redis_conn, worker: str) -> None:
    Queue(enqueue.SCORE_QUEUE, connection=redis_conn).remove(job.id)
    job.worker_name = worker
    job.started_at = dt.datetime.now(dt.UTC)
    job.set_status(JobStatus.STARTED)
    job.save()


def test_a_job_whose_worker_died_on_this_host_is_re_enqueued_after_the_grace_period(db, redis_conn):
    job = one_job(db, redis_conn)
    register_worker(redis_conn, "w-dead", pid=dead_pid())
    started_by(job, redis_conn, "w-dead")
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 3


def test_a_job_whose_worker_lives_is_left_alone(db, redis_conn):
    import os

    job = one_job(db, redis_conn)
    register_worker(redis_conn, "w-live", pid=os.getpid())
    started_by(job, redis_conn, "w-live")
    assert pipeline.recover(db, redis_conn, now=later(pipeline.GRACE)) == 0


def test_a_remote_worker_is_dead_when_its_heartbeat_is_old(redis_conn):
    now = dt.datetime.now(dt.UTC)
    register_worker(redis_conn, "far-old", pid=1, host="elsewhere", beat=now - liveness.WORKER_STALE_AFTER * 2)
    register_worker(redis_conn, "far-new", pid=1, host="elsewhere", beat=now)
    assert not liveness.worker_alive(redis_conn, "far-old", now=now)
    assert liveness.worker_alive(redis_conn, "far-new", now=now)
    assert not liveness.worker_alive(redis_conn, "never-registered", now=now)


def test_live_workers_are_counted_per_role(redis_conn):
    import os

    register_worker(redis_conn, "s1", pid=os.getpid(), queues="score")
    register_worker(redis_conn, "s2", pid=dead_pid(), queues="score")
    register_worker(redis_conn, "d1", pid=os.getpid(), queues="apply,sla")
    assert liveness.live_workers(redis_conn) == {"score": 1, "db": 1}


def hold_lock(redis_conn, queue: str, holder: str, *, pid: int, host: str | None = None,
              beat: dt.datetime | None = None, ttl: int = 40) -> None:
    redis_conn.set(f"rq:scheduler-lock:{queue}", holder, ex=ttl)
    redis_conn.hset(f"rq:scheduler:{holder}", mapping={
        "name": holder, "hostname": host or socket.gethostname(), "pid": pid,
        "last_heartbeat": (beat or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    })


def test_a_dead_schedulers_lock_is_released(redis_conn):
    hold_lock(redis_conn, "score", "sched-dead", pid=dead_pid())
    assert liveness.release_stale_scheduler_locks(redis_conn, ["score"]) == ["score"]
    assert redis_conn.get("rq:scheduler-lock:score") is None


def test_a_silent_remote_schedulers_lock_is_released(redis_conn):
    old = dt.datetime.now(dt.UTC) - liveness.SCHEDULER_STALE_AFTER * 2
    hold_lock(redis_conn, "sla", "sched-far", pid=1, host="elsewhere", beat=old)
    hold_lock(redis_conn, "apply", "sched-far-live", pid=1, host="elsewhere")
    assert liveness.release_stale_scheduler_locks(redis_conn, ["sla", "apply"]) == ["sla"]


def test_a_living_or_just_acquired_schedulers_lock_is_kept(redis_conn):
    import os

    hold_lock(redis_conn, "score", "sched-me", pid=os.getpid())
    redis_conn.set("rq:scheduler-lock:apply", "sched-new", ex=61)  # taken a moment ago, no hash yet
    assert liveness.release_stale_scheduler_locks(redis_conn, ["score", "apply"]) == []


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_a_restarted_worker_takes_over_a_dead_schedulers_lock_at_once(db, redis_conn):
    from service.worker import _worker_class

    job = one_job(db, redis_conn)
    queue = Queue(enqueue.SCORE_QUEUE, connection=redis_conn)
    queue.remove(job.id)
    ScheduledJobRegistry(queue=queue).schedule(job, utcnow() - dt.timedelta(seconds=1))  # a retry, now due
    hold_lock(redis_conn, "score", "sched-killed", pid=dead_pid())
    worker = _worker_class()([enqueue.SCORE_QUEUE], connection=redis_conn)
    worker._start_scheduler(burst=True)  # what work() does first: take the locks, move due jobs
    assert job.id in queue.get_job_ids()


def test_a_real_rq_worker_is_counted_under_the_key_rq_lists_it_by(redis_conn):
    from rq import Worker

    worker = Worker([Queue(enqueue.SCORE_QUEUE, connection=redis_conn)], connection=redis_conn, name="real-scorer")
    worker.register_birth()
    try:
        assert liveness.live_workers(redis_conn)["score"] == 1
    finally:
        worker.register_death()
