"""The webhook's write path: one write transaction per request, store and claim together."""

from __future__ import annotations

import sqlite3

import pytest
from rq import Queue
from rq.job import Job, JobStatus

import web.db
from triage import db as triage_db

URL = "/api/v1/webhooks/reviews"


@pytest.fixture()
def statements(monkeypatch) -> list[str]:
    """Every SQL statement the web app's connections run, in order."""
    seen: list[str] = []

    def traced(path):
        conn = triage_db.connect(path)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(web.db, "connect", traced)
    return seen


@pytest.fixture()
def post(client, signed, redis_conn):
    def send(payload):
        body, headers = signed(payload)
        response = client.post(URL, data=body, headers=headers)
        assert response.status_code == 202
        return response

    return send


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("BEGIN")]


def test_a_webhook_request_takes_the_write_lock_once(post, make_review, statements):
    post({"reviews": [make_review(review_id=f"r{i}", customer_id=f"c{i}") for i in range(3)]})
    assert writes(statements) == ["BEGIN IMMEDIATE"]
    assert not [s for s in statements if s.startswith("UPDATE reviews")]  # the claim is in the INSERT


def test_new_reviews_are_stored_already_claimed_by_their_score_job(post, make_review, settings, redis_conn):
    post({"reviews": [make_review(review_id="a"), make_review(review_id="b")]})
    conn = sqlite3.connect(settings.db_path)
    rows = conn.execute("SELECT id, enqueued_at, score_job, attempts FROM reviews ORDER BY id").fetchall()
    [job] = Queue("score", connection=redis_conn).get_jobs()
    assert {r[2] for r in rows} == {job.id}
    assert all(r[1] is not None and r[3] == 1 for r in rows)
    assert [pk for pk, _ in job.args[0]] == [r[0] for r in rows]


def test_a_big_batch_is_claimed_in_score_jobs_of_at_most_100(post, make_review, redis_conn):
    post({"reviews": [make_review(review_id=f"r{i}", customer_id=f"c{i}") for i in range(250)]})
    sizes = sorted(len(job.args[0]) for job in Queue("score", connection=redis_conn).get_jobs())
    assert sizes == [50, 100, 100]


def test_a_request_of_duplicates_claims_nothing(post, make_review, statements, redis_conn):
    post(make_review(review_id="a"))
    statements.clear()
    post(make_review(review_id="a"))
    assert writes(statements) == ["BEGIN IMMEDIATE"]  # the insert that finds the duplicate, no claim
    assert len(Queue("score", connection=redis_conn).get_jobs()) == 1


def test_an_updated_review_is_claimed_in_the_same_write(post, make_review, statements, settings, redis_conn):
    post(make_review(review_id="a", text="质量一般"))
    statements.clear()
    post(make_review(review_id="a", text="用了两天就坏了，追评：客服不理人"))
    assert writes(statements) == ["BEGIN IMMEDIATE"]
    newest = max(Queue("score", connection=redis_conn).get_jobs(), key=lambda job: job.enqueued_at)
    conn = sqlite3.connect(settings.db_path)
    pk, job_id, revision = conn.execute("SELECT id, score_job, revision FROM reviews").fetchone()
    assert (job_id, revision) == (newest.id, 2)
    assert newest.args[0] == [[pk, "用了两天就坏了，追评：客服不理人"]]


def test_a_review_updated_twice_in_one_batch_is_scored_once_with_its_last_text(post, make_review, settings,
                                                                                redis_conn):
    post(make_review(review_id="a", text="还行"))
    for job in Queue("score", connection=redis_conn).get_jobs():
        job.delete()
    post({"reviews": [make_review(review_id="a", text="有点问题"), make_review(review_id="a", text="彻底坏了")]})
    [job] = Queue("score", connection=redis_conn).get_jobs()
    conn = sqlite3.connect(settings.db_path)
    pk, job_id = conn.execute("SELECT id, score_job FROM reviews").fetchone()
    assert job.args[0] == [[pk, "彻底坏了"]] and job_id == job.id


def test_reviews_claimed_before_a_failed_enqueue_are_recovered(settings_without_redis, signed, make_review,
                                                               redis_conn):
    from triage import pipeline
    from triage.timeutil import utcnow
    from web import create_app

    body, headers = signed(make_review(review_id="a"))
    assert create_app(settings_without_redis).test_client().post(URL, data=body, headers=headers).status_code == 202
    conn = triage_db.open_db(settings_without_redis.db_path)
    later = utcnow() + pipeline.GRACE
    assert pipeline.recover(conn, redis_conn, now=later) == 1
    assert len(Queue("score", connection=redis_conn).get_jobs()) == 1


def test_the_db_workers_connection_does_not_fsync_every_commit(settings):
    """Apply is idempotent and recoverable (triage.db.SYNCHRONOUS): NORMAL, not FULL."""
    from triage.jobs import context

    context.configure(settings)
    try:
        assert context.db().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        context.reset()


def test_a_review_whose_apply_was_lost_is_scored_again(db, redis_conn, settings):
    """What NORMAL may lose to a power cut: an applied batch rolls back to pending; recovery re-enqueues it."""
    from triage import pipeline
    from triage.ingest import ingest
    from triage.timeutil import utcnow
    from triage.validation import reviews_from_body

    [review] = reviews_from_body({"review_id": "a", "text": "物流太慢了", "customer_id": "c1", "product_id": "p1"})
    result = ingest(db, [review], utcnow(), claim=True)
    [claim] = result.claims
    # The score job ran and its apply "committed", then the machine lost power: Redis says both
    # finished, the database still says pending.
    for job_id in (claim.job_id, f"apply-{claim.job_id}"):
        job = Job.create("triage.jobs.score_batch", args=([],), id=job_id, connection=redis_conn)
        job.set_status(JobStatus.FINISHED, pipeline=None)
        job.save()
    assert pipeline.recover(db, redis_conn, now=utcnow() + pipeline.GRACE) == 1


def test_a_write_that_cannot_get_the_lock_is_503_with_retry_after(post, client, signed, make_review, settings):
    """Overload, not a bug: the connector is told to retry, and nothing was stored."""
    import web.api.webhook as webhook_module

    def busy(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    original = webhook_module.ingest
    webhook_module.ingest = busy
    try:
        body, headers = signed(make_review(review_id="a"))
        response = client.post(URL, data=body, headers=headers)
    finally:
        webhook_module.ingest = original
    assert (response.status_code, response.get_json()["error"]) == (503, "busy")
    assert int(response.headers["Retry-After"]) > 0


def test_writers_of_one_process_take_turns_on_the_write_lock(settings):
    """Threads queue on the process's lock instead of polling SQLite's: none times out."""
    import threading

    conns = [triage_db.open_db(settings.db_path) for _ in range(8)]
    errors: list[Exception] = []

    def write(conn, i):
        try:
            for j in range(20):
                with triage_db.transaction(conn):
                    conn.execute("INSERT INTO counters (name, value) VALUES (?, 0)", (f"t{i}-{j}",))
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, i)) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert conns[0].execute("SELECT count(*) FROM counters WHERE name LIKE 't%'").fetchone()[0] == 160
    assert conns[0].write_lock is conns[1].write_lock
