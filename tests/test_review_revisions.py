"""Review updates (追评 / 已改评): a changed redelivery is a new revision, re-scored, on the case's
timeline; a negative review revised to positive marks its case revised_upward."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.pipeline_support import T0
from triage import cases
from triage.apply import apply_results
from triage.fingerprint import text_fingerprint
from triage.ingest import ingest
from triage.sla import default_policy
from triage.validation import validate_batch

POLICY = default_policy("Asia/Shanghai")
ANGRY = "用了两天就坏了，质量太差，要求退货！"
HAPPY = "客服处理很及时，换了新的，现在用着很好，好评"


def deliver(db, text, rating=None, at=T0, review_id="r1"):
    raw = {"review_id": review_id, "text": text, "customer_id": "c1", "product_id": "p1"}
    if rating is not None:
        raw["rating"] = rating
    return ingest(db, validate_batch([raw]), at)


def score(db, pk, sentiment, negative_prob, causes=(), at=T0, text=None):
    result = {"pk": pk, "model_version": "test", "sentiment": sentiment, "negative_prob": negative_prob,
              "causes": list(causes), "cause_probs": {}, "terms": [], "cause_terms": {},
              "complaints": [{"start": 0, "end": 4, "cause": c, "prob": 0.9} for c in causes]}
    if text is not None:
        result["text_sha1"] = text_fingerprint(text)
    return apply_results(db, [result], now=at, policy=POLICY, ltv_threshold=None)


@pytest.fixture()
def scored_complaint(db) -> tuple[int, int]:
    (outcome,) = deliver(db, ANGRY, rating=1).reviews
    score(db, outcome.pk, "negative", 0.97, ("defect",))
    case_id = db.execute("SELECT case_id FROM reviews WHERE id = ?", (outcome.pk,)).fetchone()[0]
    return outcome.pk, case_id


def test_identical_redelivery_stays_a_duplicate(db, scored_complaint):
    result = deliver(db, ANGRY, rating=1, at=T0 + dt.timedelta(hours=1))
    assert [o.status for o in result.reviews] == ["duplicate"]
    assert result.to_json()["updated"] == 0
    assert db.execute("SELECT COUNT(*) FROM review_revisions").fetchone()[0] == 0


def test_changed_text_is_stored_as_a_new_revision_and_rescored(db, scored_complaint):
    pk, case_id = scored_complaint
    result = deliver(db, HAPPY, rating=5, at=T0 + dt.timedelta(hours=1))
    assert ([o.status for o in result.reviews], result.to_json()["updated"]) == (["updated"], 1)
    review = db.execute("SELECT * FROM reviews WHERE id = ?", (pk,)).fetchone()
    assert (review["text"], review["rating"], review["revision"], review["status"]) == (HAPPY, 5, 2, "pending")
    assert review["sentiment"] is None and review["case_id"] == case_id
    old = db.execute("SELECT * FROM review_revisions WHERE review_pk = ?", (pk,)).fetchone()
    assert (old["revision"], old["text"], old["rating"], old["sentiment"]) == (1, ANGRY, 1, "negative")
    assert json.loads(old["complaints"])[0]["cause"] == "defect"


def test_a_changed_rating_alone_is_an_update(db, scored_complaint):
    assert [o.status for o in deliver(db, ANGRY, rating=2).reviews] == ["updated"]


def test_the_case_timeline_shows_the_revision(db, scored_complaint):
    _, case_id = scored_complaint
    version = cases.get_case(db, case_id)["version"]
    deliver(db, HAPPY, rating=5, at=T0 + dt.timedelta(hours=1))
    events = cases.case_events(db, case_id)
    assert events[-1]["kind"] == "review_revised"
    assert events[-1]["detail"]["revision"] == 2 and events[-1]["detail"]["previous_rating"] == 1
    assert cases.get_case(db, case_id)["version"] == version + 1  # an open case page goes stale


def test_negative_revised_to_positive_marks_the_case_revised_upward(db, scored_complaint):
    pk, case_id = scored_complaint
    later = T0 + dt.timedelta(hours=2)
    deliver(db, HAPPY, rating=5, at=later)
    score(db, pk, "positive", 0.03, at=later, text=HAPPY)
    row = cases.get_case(db, case_id)
    assert (row["revised_upward"], row["revised_upward_at"] is not None) == (1, True)
    assert cases.case_events(db, case_id)[-1]["kind"] == "revised_upward"
    assert db.execute("SELECT status, sentiment FROM reviews WHERE id = ?", (pk,)).fetchone()[:] == (
        "scored", "positive")


def test_a_revision_that_still_complains_does_not_mark_the_case(db, scored_complaint):
    pk, case_id = scored_complaint
    deliver(db, ANGRY + "追评：换货后还是坏的", rating=1, at=T0 + dt.timedelta(hours=2))
    score(db, pk, "negative", 0.99, ("defect",), at=T0 + dt.timedelta(hours=2))
    assert cases.get_case(db, case_id)["revised_upward"] == 0
    assert db.execute("SELECT case_id FROM reviews WHERE id = ?", (pk,)).fetchone()[0] == case_id


def test_scores_for_the_text_before_an_edit_are_not_applied(db, scored_complaint):
    pk, _ = scored_complaint
    deliver(db, HAPPY, rating=5, at=T0 + dt.timedelta(hours=1))
    outcome = score(db, pk, "negative", 0.97, ("defect",), text=ANGRY)  # a job that scored the old text
    assert (outcome.scored, outcome.skipped) == (0, 1)
    assert db.execute("SELECT status FROM reviews WHERE id = ?", (pk,)).fetchone()[0] == "pending"


def test_the_case_json_lists_the_earlier_revisions(db, scored_complaint):
    _, case_id = scored_complaint
    deliver(db, HAPPY, rating=5, at=T0 + dt.timedelta(hours=1))
    (review,) = cases.case_reviews(db, case_id)
    assert review["revision"] == 2 and [r["text"] for r in review["earlier_revisions"]] == [ANGRY]


def test_webhook_reports_updates(client, signed, make_review):
    body, headers = signed(make_review(review_id="u1", text="第一次"))
    client.post("/api/v1/webhooks/reviews", data=body, headers=headers)
    body, headers = signed(make_review(review_id="u1", text="追评：用了一周又坏了"))
    answer = client.post("/api/v1/webhooks/reviews", data=body, headers=headers).get_json()
    assert (answer["accepted"], answer["duplicates"], answer["updated"]) == (0, 0, 1)
    assert answer["reviews"] == [{"platform": "default", "review_id": "u1", "status": "updated"}]
