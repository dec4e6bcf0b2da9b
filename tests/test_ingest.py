"""Specification of triage.ingest: one transaction per batch, idempotent, customers kept current."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import sqlite3

import pytest

from triage import ingest as ingest_module
from triage.ingest import enqueue_after_commit, ingest
from triage.redis_conn import connect_redis
from triage.validation import Review

RECEIVED = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)


def review(review_id="r1", *, created_at=None, **fields) -> Review:
    base = {"platform": "default", "review_id": review_id, "text": "差", "customer_id": "c1", "product_id": "p1"}
    return Review(**{**base, **fields, "created_at": created_at})


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, 12, 0, tzinfo=dt.UTC)


def test_outcomes_are_in_input_order_with_primary_keys_for_new_reviews(db):
    result = ingest(db, [review("a"), review("b"), review("a")], RECEIVED)
    pks = {r["review_id"]: r["id"] for r in db.execute("SELECT id, review_id FROM reviews")}
    assert [(o.review_id, o.status, o.pk) for o in result.reviews] == [
        ("a", "accepted", pks["a"]),
        ("b", "accepted", pks["b"]),
        ("a", "duplicate", None),
    ]


def _stored(conn: sqlite3.Connection) -> list[tuple]:
    return [tuple(r) for r in conn.execute(
        "SELECT platform, review_id, text, rating, revision, status, attempts, customer_name FROM reviews"
        " ORDER BY platform, review_id")]


def test_a_batch_stores_what_its_reviews_one_request_at_a_time_store(db, tmp_path):
    from triage.db import connect, migrate

    ingest(db, [review("old", text="好"), review("same", text="好")], RECEIVED)
    one_by_one = connect(tmp_path / "one.db")
    migrate(one_by_one)
    ingest(one_by_one, [review("old", text="好"), review("same", text="好")], RECEIVED)
    batch = [review("new", text="新"), review("old", text="差", customer_name="甲"), review("same", text="好"),
             review("new", text="差"), review("new", text="更差"), review("old", text="差"), review("x", rating=1)]
    result = ingest(db, batch, RECEIVED, claim=True)
    singles = [ingest(one_by_one, [r], RECEIVED, claim=True).reviews[0] for r in batch]
    assert [o.status for o in result.reviews] == [o.status for o in singles] == [
        "accepted", "updated", "duplicate", "updated", "updated", "duplicate", "accepted"]
    assert _stored(db) == _stored(one_by_one)


def test_a_claimed_batch_is_one_score_job_per_hundred_reviews_each_review_once(db):
    result = ingest(db, [review(f"r{i}") for i in range(250)] + [review("r0", text="改了")], RECEIVED, claim=True)
    assert [len(c.items) for c in result.claims] == [100, 100, 50]
    rows = {r["id"]: r["score_job"] for r in db.execute("SELECT id, score_job FROM reviews")}
    assert {pk: c.job_id for c in result.claims for pk, _ in c.items} == rows
    assert result.claims[0].items[0][1] == "改了"  # the latest text of a review updated in the same batch


def test_a_batch_of_duplicates_claims_nothing(db):
    ingest(db, [review("a"), review("b")], RECEIVED, claim=True)
    assert ingest(db, [review("a"), review("b")], RECEIVED, claim=True).claims == ()


def test_new_reviews_are_pending_and_not_yet_enqueued(db):
    ingest(db, [review()], RECEIVED)
    assert tuple(db.execute("SELECT status, enqueued_at, attempts FROM reviews").fetchone()) == ("pending", None, 0)


def test_a_failure_mid_batch_stores_nothing(db):
    broken = review("b", text=None)  # violates NOT NULL, as a bug upstream of validation would
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        ingest(db, [review("a"), broken], RECEIVED)
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_customer_first_and_last_seen_span_the_review_times(db):
    ingest(db, [review("a", created_at=at(10)), review("b", created_at=at(5)), review("c", created_at=at(20))], RECEIVED)
    row = db.execute("SELECT first_seen_at, last_seen_at FROM customers").fetchone()
    assert tuple(row) == ("2026-11-05T12:00:00.000000+00:00", "2026-11-20T12:00:00.000000+00:00")


def test_the_newest_review_sets_the_customer_name_and_ltv(db):
    ingest(db, [review("a", created_at=at(1), customer_name="旧名", customer_ltv=10.0)], RECEIVED)
    ingest(db, [review("b", created_at=at(2), customer_name="新名", customer_ltv=20.0)], RECEIVED)
    assert tuple(db.execute("SELECT name, ltv FROM customers").fetchone()) == ("新名", 20.0)


def test_an_older_review_does_not_overwrite_fresher_customer_details(db):
    ingest(db, [review("b", created_at=at(2), customer_name="新名", customer_ltv=20.0)], RECEIVED)
    ingest(db, [review("a", created_at=at(1), customer_name="旧名", customer_ltv=10.0)], RECEIVED)
    assert tuple(db.execute("SELECT name, ltv FROM customers").fetchone()) == ("新名", 20.0)


def test_a_review_without_details_keeps_the_known_ones(db):
    ingest(db, [review("a", created_at=at(1), customer_name="张三", customer_ltv=10.0)], RECEIVED)
    ingest(db, [review("b", created_at=at(2))], RECEIVED)
    assert tuple(db.execute("SELECT name, ltv FROM customers").fetchone()) == ("张三", 10.0)


def test_contract_json_counts_accepted_and_duplicates(db):
    ingest(db, [review("a")], RECEIVED)
    result = ingest(db, [review("a"), review("b")], RECEIVED)
    assert result.to_json() == {
        "accepted": 1,
        "duplicates": 1,
        "updated": 0,
        "reviews": [
            {"platform": "default", "review_id": "a", "status": "duplicate"},
            {"platform": "default", "review_id": "b", "status": "accepted"},
        ],
    }


def test_enqueue_hands_the_connection_and_redis_to_the_pipeline(db, redis_conn, monkeypatch):
    calls = []
    monkeypatch.setattr(ingest_module, "enqueue_pending", lambda conn, r: calls.append((conn, r)) or 3)
    assert enqueue_after_commit(db, redis_conn) == 3
    assert calls == [(db, redis_conn)]


def test_a_redis_outage_while_enqueueing_is_logged_not_raised(db, monkeypatch, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = connect_redis(f"redis://127.0.0.1:{port}/0")
    # Stands in for the pipeline's enqueue: any real Redis command fails the same way.
    monkeypatch.setattr(ingest_module, "enqueue_pending", lambda conn, r: r.rpush("score", "job"))
    with caplog.at_level(logging.WARNING, logger="triage.ingest"):
        assert enqueue_after_commit(db, unreachable) is None
    assert "could not enqueue" in caplog.text


def test_a_busy_database_while_claiming_is_logged_not_raised(db, redis_conn, monkeypatch, caplog):
    def locked(conn, r):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ingest_module, "enqueue_pending", locked)
    with caplog.at_level(logging.WARNING, logger="triage.ingest"):
        assert enqueue_after_commit(db, redis_conn) is None  # the 202 is already earned
    assert "could not enqueue" in caplog.text


def test_a_bug_in_the_pipeline_is_not_swallowed(db, redis_conn, monkeypatch):
    def broken(conn, r):
        raise KeyError("bug")

    monkeypatch.setattr(ingest_module, "enqueue_pending", broken)
    with pytest.raises(KeyError):
        enqueue_after_commit(db, redis_conn)


def test_without_redis_nothing_is_enqueued(db):
    assert enqueue_after_commit(db, None) is None


def test_the_real_pipeline_marks_new_reviews_enqueued(db, redis_conn):
    ingest(db, [review("a"), review("b")], RECEIVED)
    assert enqueue_after_commit(db, redis_conn) is not None
    assert db.execute("SELECT count(*) FROM reviews WHERE enqueued_at IS NULL").fetchone()[0] == 0



def test_every_ingest_connection_commits_durably(db, app):
    """202 promises "committed": with WAL, synchronous=NORMAL could lose it to a power cut."""
    from web.db import get_db

    with app.app_context():
        web_conn = get_db()
        modes = {db.execute("PRAGMA synchronous").fetchone()[0], web_conn.execute("PRAGMA synchronous").fetchone()[0]}
    assert modes == {2}  # FULL
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
