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
