"""GET /healthz tells whether reviews are being scored, not only whether the parts answer:
pending work's age, live workers per role, a database held by another writer."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess

import pytest

from tests.pipeline_support import add_reviews, review
from triage.db import connect
from triage.timeutil import to_db, utcnow


def live_worker(redis_conn, queues: str, *, pid: int | None = None) -> str:
    """Register an rq worker hash as a worker process of this host would."""
    name = f"w-{queues}-{pid or os.getpid()}"
    redis_conn.sadd("rq:workers", name)
    redis_conn.hset(f"rq:worker:{name}", mapping={
        "hostname": socket.gethostname(), "pid": pid or os.getpid(), "queues": queues,
        "last_heartbeat": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    return name


@pytest.fixture()
def workers(redis_conn):
    live_worker(redis_conn, "score")
    live_worker(redis_conn, "apply,sla")


def test_healthy_reports_pending_work_and_live_workers(client, workers, db, redis_conn):
    add_reviews(db, [review("r1", "物流太慢了")], now=utcnow() - dt.timedelta(seconds=30))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["workers"] == {"score": 1, "db": 1}
    assert body["pending"]["count"] == 1 and 29 <= body["pending"]["oldest_age_seconds"] < 60


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_no_live_scoring_worker_is_503(client, redis_conn, db):
    dead = subprocess.Popen(["true"])
    dead.wait()
    live_worker(redis_conn, "score", pid=dead.pid)  # killed: its registration outlives it
    live_worker(redis_conn, "apply,sla")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["workers.score"]
    assert response.get_json()["workers"] == {"score": 0, "db": 1}


def test_pending_work_older_than_the_bound_is_503(settings, migrated_template, workers, monkeypatch, db):
    from web import create_app

    monkeypatch.setenv("TRIAGE_HEALTH_MAX_PENDING_AGE", "120")
    app = create_app(settings)
    add_reviews(db, [review("r1", "物流太慢了")], now=utcnow() - dt.timedelta(minutes=3))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["down"] == ["scoring"]
    db.execute("UPDATE reviews SET received_at = ?", (to_db(utcnow() - dt.timedelta(seconds=60)),))
    assert app.test_client().get("/healthz").status_code == 200


def test_a_bad_bound_stops_the_app_at_start(settings, monkeypatch):
    from triage.config import ConfigError
    from web import create_app

    monkeypatch.setenv("TRIAGE_HEALTH_MAX_PENDING_AGE", "soon")
    with pytest.raises(ConfigError, match="TRIAGE_HEALTH_MAX_PENDING_AGE"):
        create_app(settings)


def test_a_database_held_by_another_writer_is_busy(client, workers, db, settings):
    other = connect(settings.db_path)
    other.execute("BEGIN IMMEDIATE")
    try:
        response = client.get("/healthz")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert (response.get_json()["db"], response.get_json()["down"]) == ("busy", ["db"])
    assert response.headers["Retry-After"]
