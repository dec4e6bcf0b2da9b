"""The review read side (triage.reviews): lookup by platform and id, the review object, counts."""

from __future__ import annotations

import pytest

from tests.pipeline_support import PRAISE, add_reviews, review
from triage import reviews
from triage.errors import NotFound


def test_a_review_is_found_by_platform_and_id(db):
    add_reviews(db, [review("r1", PRAISE[0], platform="jd"), review("r1", PRAISE[1], platform="tmall")])
    assert reviews.get_review(db, "tmall", "r1")["text"] == PRAISE[1]


def test_an_unknown_review_is_not_found(db):
    add_reviews(db, [review("r1", PRAISE[0], platform="jd")])
    with pytest.raises(NotFound):
        reviews.get_review(db, "tmall", "r1")


def test_an_unscored_review_has_null_scores_in_its_object(db):
    add_reviews(db, [review("r1", PRAISE[0], rating=5)])
    body = reviews.review_json(reviews.get_review(db, "default", "r1"))
    assert (body["platform"], body["review_id"], body["status"], body["rating"]) == ("default", "r1", "pending", 5)
    assert all(body[k] is None for k in ("sentiment", "negative_prob", "causes", "risk", "case_id", "model_version"))


def test_counts_by_scoring_status(db):
    add_reviews(db, [review(f"r{i}", PRAISE[0]) for i in range(3)])
    db.execute("UPDATE reviews SET status = 'failed' WHERE review_id = 'r0'")
    assert reviews.review_counts(db) == {"total": 3, "pending": 2, "scored": 0, "failed": 1}
