"""Priority rules (triage.priority): safety risks are P1, top customers first within a priority,
and every case says why it has its priority."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.pipeline_support import T0
from triage import cases, priority, risk
from triage.apply import apply_results
from triage.ingest import ingest
from triage.sla import default_policy
from triage.timeutil import from_db
from triage.validation import validate_batch

POLICY = default_policy("Asia/Shanghai")


@pytest.mark.parametrize(("text", "code"), [
    ("婴儿车的轮子推着推着就掉了，孩子差点摔出来", "child"),
    ("充电的时候冒烟了，吓死了", "fire"),
    ("热水壶把手太烫，烫伤了手", "burn"),
    ("插上就漏电，麻手", "electric"),
    ("边缘太锋利，手被划伤了", "injury"),
    ("用了两次脸上过敏起疹子", "allergy"),
    ("吃完全家拉肚子", "food_poisoning"),
    ("充电宝电池鼓包了", "explosion"),
    ("零件太小，宝宝差点误吞", "choking"),
    ("ｘｘ起火了", "fire"),  # full-width forms fold
])
def test_safety_risks_are_found_on_the_original_text(text, code):
    hits = priority.safety_hits(text)
    assert code in [h.code for h in hits]
    for hit in hits:
        assert text[hit.start:hit.end] == hit.term


@pytest.mark.parametrize("text", [
    "孩子很喜欢，质量不错",          # a child word alone is no hazard
    "外壳有划伤，有点失望",          # a scratched product, not an injured person
    "不会过敏，很温和",              # negated
    "防烫伤设计很贴心",              # a feature
    "这零食吃了就中毒，停不下来",    # slang: addicted
    "炸鸡外酥里嫩",                  # frying
])
def test_false_friends_are_not_safety_risks(text):
    assert priority.safety_hits(text) == []


def complaint(score=0.65, **factors) -> risk.Risk:
    base = {"top_customer": False, "hidden_complainer": False, "prior_complaints": 0}
    return risk.Risk(score, risk.priority_for(score, True), True, {**base, **factors})


def test_a_safety_complaint_is_p1_whatever_its_score_with_the_reason():
    decided = priority.decide(complaint(0.4), "宝宝用了奶瓶后过敏了", ["defect"], 3)
    assert decided.priority == "P1"
    assert decided.reasons[0]["code"] == "safety" and "过敏" in decided.reasons[0]["label"]


def test_safety_does_not_make_a_review_a_complaint():
    praise = risk.Risk(0.1, None, False, {})
    assert priority.decide(praise, "宝宝用着不过敏，好评", [], 5).priority is None


def test_reasons_name_the_top_customer_the_rating_and_the_cause():
    decided = priority.decide(complaint(0.7, top_customer=True), "物流太慢了", ["logistics"], 1)
    codes = [r["code"] for r in decided.reasons]
    assert codes[0] == "top_customer" and {"risk", "low_rating", "cause_logistics"} <= set(codes)
    assert all(r["label"] for r in decided.reasons)


def test_merged_reasons_keep_safety_first_and_the_highest_risk():
    high = priority.decide(complaint(0.9), "质量差", [], 1).reasons
    low = priority.decide(complaint(0.3), "有点烫伤", [], 3).reasons
    merged = priority.merge_reasons(high, low)
    assert merged[0]["code"] == "safety"
    assert [r["score"] for r in merged if r["code"] == "risk"] == [0.9]


# -- through the apply step ---------------------------------------------------------------------


def store(db, review_id, customer, text, ltv=None, rating=1):
    raw = {"review_id": review_id, "text": text, "customer_id": customer, "product_id": "p1", "rating": rating}
    if ltv is not None:
        raw["customer_ltv"] = ltv
    (outcome,) = ingest(db, validate_batch([raw]), T0).reviews
    return outcome.pk


def apply_negative(db, pk, causes=("logistics",), threshold=None, negative_prob=0.9):
    apply_results(db, [{"pk": pk, "model_version": "t", "sentiment": "negative", "negative_prob": negative_prob,
                        "causes": list(causes), "cause_probs": {}, "terms": [], "cause_terms": {}}],
                  now=T0, policy=POLICY, ltv_threshold=threshold)
    return cases.get_case(db, db.execute("SELECT case_id FROM reviews WHERE id = ?", (pk,)).fetchone()[0])


def test_a_stroller_wheel_falling_off_with_a_child_is_p1(db):
    pk = store(db, "s1", "c1", "婴儿车轮子掉了，孩子差点摔下来", rating=2)
    case = apply_negative(db, pk, ("defect",))
    assert case["priority"] == "P1"
    reasons = json.loads(case["priority_reasons"])
    assert reasons[0]["code"] == "safety" and reasons[0]["label"].startswith("安全风险：")


def test_a_top_customer_case_records_ltv_and_tier(db):
    pk = store(db, "t1", "vip", "物流太慢了，等了一周", ltv=20000.0)
    case = apply_negative(db, pk, threshold=5000.0)
    assert (case["value_tier"], case["customer_ltv"]) == ("top", 20000.0)
    assert "top_customer" in [r["code"] for r in json.loads(case["priority_reasons"])]


def test_a_top_customer_ranks_above_every_other_complaint_of_the_same_priority(db):
    # Opened first and due first, the regular customers still come after the top one.
    ids = {}
    for i, (customer, ltv, angry) in enumerate((("a", 100.0, 0.95), ("b", 200.0, 0.9), ("vip", 20000.0, 0.6))):
        pk = store(db, f"q{i}", customer, "物流太慢了", ltv=ltv, rating=3)
        ids[customer] = apply_negative(db, pk, threshold=5000.0, negative_prob=angry)["id"]
        db.execute("UPDATE cases SET opened_at = ? WHERE id = ?", ((T0 + dt.timedelta(minutes=i)).isoformat(),
                                                                   ids[customer]))
    page = cases.list_cases(db, cases.CaseQuery(order="queue"))
    assert {r["priority"] for r in page.rows} == {"P2"}
    assert [r["customer_id"] for r in page.rows] == ["vip", "a", "b"]


def test_every_complaint_is_due_for_resolution_within_48_wall_clock_hours(db):
    for i, text in enumerate(("物流太慢了", "质量太差了坏了")):
        pk = store(db, f"w{i}", f"c{i}", text, rating=3)
        case = apply_negative(db, pk, negative_prob=0.5)
        assert from_db(case["resolution_due"]) - from_db(case["opened_at"]) <= dt.timedelta(hours=48)
