"""Migration 065: the apply path counts its own pending -> scored moves in one statement per batch,
and the counters trigger still counts every other writer's status changes, so the counters match
a full scan whichever writer moved a review, in whatever order."""

from __future__ import annotations

from datetime import timedelta

from tests.pipeline_support import COMPLAINTS, PRAISE, T0, add_reviews, review
from triage import reviews
from triage.apply import apply_results
from triage.sla import default_policy


def scored(pk):
    return {"pk": pk, "model_version": "t", "sentiment": "negative", "negative_prob": 0.97, "causes": ["defect"],
            "cause_probs": {"defect": 0.9}, "terms": [], "cause_terms": {}}


def scan(conn) -> dict[str, int]:
    by = dict(conn.execute("SELECT status, count(*) FROM reviews GROUP BY status").fetchall())
    return {"total": sum(by.values()), **{s: by.get(s, 0) for s in ("pending", "scored", "failed")}}


def test_applying_a_batch_moves_the_counters_by_the_reviews_it_scored(db):
    pks = add_reviews(db, [review(f"r{i}", (COMPLAINTS + PRAISE)[i % 7], customer_id=f"c{i}") for i in range(9)])
    apply_results(db, [scored(pk) for pk in pks[:6]], now=T0, policy=default_policy(), ltv_threshold=None)
    assert reviews.review_counts(db) == scan(db) == {"total": 9, "pending": 3, "scored": 6, "failed": 0}


def test_hand_edits_after_and_between_applies_are_counted_by_the_trigger(db):
    pks = add_reviews(db, [review(f"r{i}", COMPLAINTS[i % 4], customer_id=f"c{i}") for i in range(4)])
    policy = default_policy()
    apply_results(db, [scored(pk) for pk in pks], now=T0, policy=policy, ltv_threshold=None)
    # An operator moves reviews the apply path scored back and forth, without knowing the column.
    with db:
        db.execute("UPDATE reviews SET status = 'pending' WHERE id IN (?, ?)", (pks[0], pks[1]))
        db.execute("UPDATE reviews SET status = 'scored' WHERE id = ?", (pks[0],))
        db.execute("UPDATE reviews SET status = 'failed' WHERE id = ?", (pks[2],))
    assert reviews.review_counts(db) == scan(db)
    # The apply path scores the one left pending again; then a hand edit again.
    apply_results(db, [scored(pks[1])], now=T0 + timedelta(minutes=1), policy=policy, ltv_threshold=None)
    assert reviews.review_counts(db) == scan(db) == {"total": 4, "pending": 0, "scored": 3, "failed": 1}
    with db:
        db.execute("UPDATE reviews SET status = 'pending'")
    assert reviews.review_counts(db) == scan(db) == {"total": 4, "pending": 4, "scored": 0, "failed": 0}


def test_applying_the_same_results_twice_counts_them_once(db):
    pks = add_reviews(db, [review("r1", COMPLAINTS[0]), review("r2", PRAISE[0], customer_id="c2")])
    for _ in range(2):
        apply_results(db, [scored(pk) for pk in pks], now=T0, policy=default_policy(), ltv_threshold=None)
    assert reviews.review_counts(db) == scan(db) == {"total": 2, "pending": 0, "scored": 2, "failed": 0}


def test_cases_a_batch_opens_are_counted_as_the_insert_triggers_count_any_other(db):
    from triage.db import CS_STALE_SQL

    pks = add_reviews(db, [review(f"r{i}", COMPLAINTS[i % 4], customer_id=f"c{i}", rating=1) for i in range(5)])
    apply_results(db, [scored(pk) for pk in pks], now=T0, policy=default_policy(), ltv_threshold=None)
    by_key = dict(db.execute("SELECT 'cases:' || status || ':' || priority, count(*) FROM cases GROUP BY 1").fetchall())
    kept = dict(db.execute("SELECT name, value FROM counters WHERE name LIKE 'cases:%:%' AND value != 0").fetchall())
    assert kept == by_key and sum(by_key.values()) == 5
    # Migration 021's change counter of the opening hour moved once per case, as its trigger would.
    hours = dict(db.execute("SELECT substr(opened_at, 1, 13), count(*) FROM cases GROUP BY 1").fetchall())
    assert dict(db.execute("SELECT hour, n FROM cs_changes WHERE hour != 'id'").fetchall()) == hours
    # And their CS columns are what migration 020 defines (the check the batch passes over).
    assert db.execute(f"SELECT count(*) FROM cases WHERE {CS_STALE_SQL.replace('NEW.', '')}").fetchone()[0] == 0


def test_a_case_inserted_by_any_other_writer_is_still_counted_by_the_triggers(db):
    with db:
        db.execute("INSERT INTO cases (customer_id, priority, status, risk, opened_at, updated_at, sla_started_at,"
                   " assignee) VALUES ('x', 'P2', 'claimed', 0.5, ?, ?, ?, 'agent1')",
                   ("2026-11-26T02:00:00.000000+00:00",) * 3)
    assert db.execute("SELECT value FROM counters WHERE name = 'cases:claimed:P2'").fetchone()[0] == 1
    assert db.execute("SELECT cs_agent FROM cases WHERE customer_id = 'x'").fetchone()[0] == "agent1"
    assert db.execute("SELECT n FROM cs_changes WHERE hour = '2026-11-26T02'").fetchone()[0] >= 1
