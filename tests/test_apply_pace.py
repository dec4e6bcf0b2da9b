"""While requests are about, the db worker stores what it drained in transactions sized by time:
each holds the write lock (that webhook requests wait for) about its budget, judged by the hold
times measured before it, and together they leave the rows one transaction leaves. With no request
about, it keeps the biggest transactions (the cheapest per review)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.pipeline_support import COMPLAINTS, PRAISE, T0, add_reviews, review, statuses, stored
from triage.jobs import database, scoring
from triage.jobs.database import Pace
from triage.write_priority import WritePriority

TEXTS = COMPLAINTS + PRAISE


def test_before_any_hold_is_measured_a_transaction_takes_the_fewest_results():
    assert Pace(hold=0.04, least=25, most=200).size() == 25


def test_a_transaction_takes_as_many_results_as_its_budget_holds_at_the_measured_pace():
    pace = Pace(hold=0.04, least=25, most=200)
    pace.observe(100, 0.1)  # 1 ms a result
    assert pace.size() == 40


def test_the_measured_pace_follows_recent_transactions_more_than_old_ones():
    pace = Pace(hold=0.04, least=1, most=1000)
    pace.observe(100, 0.1)
    for _ in range(10):
        pace.observe(100, 0.02)  # 0.2 ms a result
    assert 150 <= pace.size() <= 200


@pytest.mark.parametrize(("per_result", "expected"), [(1e-5, 200), (0.01, 25)])
def test_the_size_stays_between_the_fewest_and_the_most_results(per_result, expected):
    pace = Pace(hold=0.04, least=25, most=200)
    pace.observe(10, 10 * per_result)
    assert pace.size() == expected


def test_a_zero_budget_sizes_transactions_by_count_alone():
    pace = Pace(hold=0, least=25, most=200)
    pace.observe(10, 1.0)
    assert pace.size() == 200


def test_a_transaction_that_stored_nothing_leaves_the_pace_as_it_was():
    pace = Pace(hold=0.04, least=25, most=200)
    pace.observe(0, 0.5)
    assert pace.per_result is None


def scored(db, who: str) -> list[dict]:
    raws = [review(f"{who}{i}", text, customer_id=f"{who}{i % 3}") for i, text in enumerate(TEXTS * 2)]
    pks = add_reviews(db, raws)
    return scoring.score_items([[pk, raw["text"]] for pk, raw in zip(pks, raws, strict=True)])


def database_file(db) -> Path:
    return Path(db.execute("PRAGMA database_list").fetchone()["file"])


@pytest.fixture
def requests_about(db, monkeypatch):
    """A request (of another process: its own open writers file) waited for the write lock just
    now, and that counts as recent for as long as the test runs."""
    monkeypatch.setattr(database, "REQUESTS_RECENT_SECONDS", 3600.0)
    web = WritePriority(database_file(db))
    web.request_waiting()
    try:
        assert db.write_priority.requests_seen(0.0)
    finally:
        web.request_done()


def test_the_db_worker_sees_a_request_waiting_in_another_process(db):
    web = WritePriority(database_file(db))
    assert not db.write_priority.requests_seen(60.0)
    web.request_waiting()
    try:
        assert db.write_priority.requests_seen(0.0)
    finally:
        web.request_done()
    assert db.write_priority.requests_seen(60.0) and not db.write_priority.requests_seen(-1.0)


def slow_pace(least: int) -> Pace:
    pace = Pace(hold=0.04, least=least, most=200)
    pace.per_result = 1.0  # a second a result: every transaction takes the fewest
    return pace


def test_with_no_request_about_the_drained_batch_is_stored_in_one_transaction(job_context, db, monkeypatch):
    results = scored(db, "a")
    transactions = []
    apply_one = database._apply
    monkeypatch.setattr(database, "_apply", lambda part: transactions.append(len(part)) or apply_one(part))
    monkeypatch.setattr(database, "PACE", slow_pace(3))
    assert database.apply_scores(results)["scored"] == len(results)
    assert transactions == [len(results)]


def test_paced_transactions_leave_the_rows_one_transaction_leaves(job_context, db, requests_about, monkeypatch):
    whole, paced = scored(db, "a"), scored(db, "b")
    monkeypatch.setattr(database, "PACE", Pace(hold=0))
    database.apply_scores(whole)
    transactions = []
    apply_one = database._apply
    monkeypatch.setattr(database, "_apply", lambda part: transactions.append(len(part)) or apply_one(part))
    monkeypatch.setattr(database, "PACE", slow_pace(3))
    summary = database.apply_scores(paced)
    assert transactions == [3] * (len(paced) // 3) + ([len(paced) % 3] if len(paced) % 3 else [])
    assert summary["scored"] == len(paced) and summary["cases"] == 3
    assert stored(db, "a") == stored(db, "b")


def test_each_transaction_measures_its_hold_for_the_next(job_context, db, requests_about, monkeypatch):
    pace = Pace(hold=0.04, least=5, most=200)
    monkeypatch.setattr(database, "PACE", pace)
    database.apply_scores(scored(db, "a"))
    assert pace.per_result is not None and pace.per_result > 0
    assert 0 < db.last_hold_seconds < 5


def test_a_crash_between_transactions_keeps_what_committed_and_a_rerun_stores_the_rest(job_context, db,
                                                                                         requests_about, monkeypatch):
    results = scored(db, "a")
    monkeypatch.setattr(database, "PACE", slow_pace(4))
    apply_one = database._apply
    calls = []

    def crash_on_the_second(part):
        calls.append(part)
        if len(calls) == 2:
            raise SystemExit("killed")
        return apply_one(part)

    monkeypatch.setattr(database, "_apply", crash_on_the_second)
    with pytest.raises(SystemExit):
        database.apply_scores(results)
    assert statuses(db) == {"scored": 4, "pending": len(results) - 4}
    monkeypatch.setattr(database, "_apply", apply_one)
    rerun = database.apply_scores(results)  # the job runs again: what committed is skipped
    assert (rerun["scored"], rerun["skipped"]) == (len(results) - 4, 4)
    assert statuses(db) == {"scored": len(results)}


def scored_newest_first(db, who: str) -> list[dict]:
    """One customer's complaints as platforms list them: newest first."""
    raws = [review(f"{who}{i}", COMPLAINTS[i % len(COMPLAINTS)], customer_id=f"{who}0",
                   created_at=(T0 - dt.timedelta(hours=i)).isoformat()) for i in range(6)]
    pks = add_reviews(db, raws)
    return scoring.score_items([[pk, raw["text"]] for pk, raw in zip(pks, raws, strict=True)])


def test_paced_transactions_take_reviews_sent_newest_first_in_time_order(job_context, db, requests_about,
                                                                         monkeypatch):
    whole, paced = scored_newest_first(db, "a"), scored_newest_first(db, "b")
    monkeypatch.setattr(database, "PACE", Pace(hold=0))
    database.apply_scores(whole)
    monkeypatch.setattr(database, "PACE", slow_pace(2))
    database.apply_scores(paced)
    assert stored(db, "a") == stored(db, "b")
