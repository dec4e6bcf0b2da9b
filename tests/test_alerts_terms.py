"""Recurring terms across an alert's reviews, and highlighting them in a review."""

from __future__ import annotations

import json

from triage.alerts.terms import (
    ReviewEvidence,
    candidate_terms,
    evidence_from_stored,
    highlight,
    recurring_terms,
)


def spans(*texts: str) -> list[ReviewEvidence]:
    return [ReviewEvidence(spans=(t,)) for t in texts]


def terms_of(result) -> list[str]:
    return [r.term for r in result]


def test_a_fault_named_in_several_reviews_recurs():
    result = recurring_terms(spans("衣服有色差，和图片不一样", "颜色色差很大", "实物色差严重", "质量还行"))
    assert result[0].term == "色差"
    assert result[0].reviews == 3
    assert result[0].share == 0.75


def test_a_word_pair_that_names_the_fault_is_kept_over_its_parts():
    result = recurring_terms(spans("尺码偏小，建议买大一码", "尺码偏小一号", "这个尺码偏小了"))
    assert "尺码偏小" in terms_of(result)
    assert "偏小" not in terms_of(result)
    assert "尺码" not in terms_of(result)


def test_a_shorter_term_in_more_reviews_stays_next_to_the_longer_one():
    result = recurring_terms(spans("洗发水漏液", "洗发水漏液了", "漏液严重", "瓶子漏液"))
    assert terms_of(result)[:2] == ["漏液", "洗发水漏液"]


def test_a_term_in_one_review_only_does_not_recur():
    assert recurring_terms(spans("物流太慢", "包装破损")) == []


def test_filler_words_never_count_as_terms():
    result = recurring_terms(spans("东西收到了感觉不好", "东西收到了感觉很差"))
    assert not {"东西", "收到", "感觉"} & set(terms_of(result))


def test_explanation_terms_count_once_per_review_even_if_repeated():
    reviews = [ReviewEvidence(terms=("色差", "色差")), ReviewEvidence(terms=("色差",))]
    assert recurring_terms(reviews)[0].reviews == 2


def test_no_reviews_no_terms():
    assert recurring_terms([]) == []


def test_the_limit_keeps_the_most_widespread():
    reviews = spans(*["色差 起球 掉色"] * 3 + ["色差"] * 2)
    assert terms_of(recurring_terms(reviews, limit=1)) == ["色差"]


def test_candidates_are_the_content_words_of_a_span():
    assert candidate_terms(ReviewEvidence(spans=("收到的时候漏液",))) == {"漏液"}


def test_stored_terms_and_spans_of_the_cause_become_evidence():
    text = "物流很快。但是衣服有色差，和图片不一样"
    stored = json.dumps({"sentiment": [{"term": "不一样", "weight": 1.0}],
                         "causes": {"description_mismatch": [{"term": "色差", "weight": 2.1}],
                                    "logistics": [{"term": "物流", "weight": 0.3}]}})
    complaints = [{"start": 5, "end": len(text), "cause": "description_mismatch", "prob": 0.9},
                  {"start": 0, "end": 5, "cause": "logistics", "prob": 0.2}]
    evidence = evidence_from_stored("description_mismatch", text, stored, complaints)
    assert evidence.terms == ("色差",)
    assert evidence.spans == ("但是衣服有色差，和图片不一样",)


def test_without_spans_for_the_cause_the_whole_text_stands_in():
    evidence = evidence_from_stored("defect", "拉链坏了", None, [])
    assert evidence == ReviewEvidence((), ("拉链坏了",))


def test_unreadable_stored_terms_are_ignored():
    assert evidence_from_stored("defect", "拉链坏了", "{not json").terms == ()


def test_highlight_marks_every_occurrence_longest_first():
    assert highlight("尺码偏小，真的偏小", ["偏小", "尺码偏小"]) == [
        ("尺码偏小", True), ("，真的", False), ("偏小", True)]


def test_highlight_without_terms_returns_the_text_whole():
    assert highlight("很好", []) == [("很好", False)]
    assert highlight("", ["好"]) == []
