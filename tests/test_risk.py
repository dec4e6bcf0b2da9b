"""The documented risk score (triage.risk): each factor, the priorities, the never-open rule."""

from __future__ import annotations

import dataclasses

import pytest

from triage.apply import cached_ltv_threshold
from triage.risk import RiskInput, assess, is_hidden_complainer, priority_for

# A middling complaint: every factor has room to move the score both ways.
BASE = RiskInput(negative_prob=0.7, sentiment="negative", causes=("logistics",), rating=3)


def score(**changes) -> float:
    return assess(dataclasses.replace(BASE, **changes)).score


def test_higher_negative_probability_raises_risk():
    assert score(negative_prob=0.95) > score(negative_prob=0.7) > score(negative_prob=0.55)


def test_lower_rating_raises_risk():
    assert score(rating=1) > score(rating=2) > score(rating=3)
    quiet = dict(sentiment="positive", negative_prob=0.3, causes=())  # no hidden-complainer lift
    assert score(rating=3, **quiet) > score(rating=4, **quiet) > score(rating=5, **quiet)


def test_a_hidden_complainer_outranks_a_plain_three_star_complaint():
    assert score(rating=4) > score(rating=3)


def test_missing_rating_counts_as_the_negative_probability():
    assert score(rating=None) == pytest.approx(score(rating=3) + 0.2 * (0.7 - 0.4))


def test_defect_outweighs_logistics_and_no_cause():
    assert score(causes=("defect",)) > score(causes=("logistics",)) > score(causes=())


def test_most_severe_of_several_causes_counts():
    assert score(causes=("logistics", "defect")) == score(causes=("defect",))


def test_repeated_complaints_raise_risk_up_to_three():
    values = [score(prior_complaints=p) for p in range(5)]
    assert values[0] < values[1] < values[2] < values[3]
    assert values[3] == values[4]


def test_top_customer_raises_risk():
    assert score(customer_ltv=5000.0, ltv_threshold=4000.0) > score(customer_ltv=3999.0, ltv_threshold=4000.0)


def test_unknown_customer_value_is_not_top():
    assert score(customer_ltv=5000.0, ltv_threshold=None) == score(customer_ltv=None, ltv_threshold=4000.0) == score()


def test_hidden_complainer_gets_a_lift_over_plain_stars():
    plain = assess(dataclasses.replace(BASE, rating=5)).factors
    assert plain["hidden_complainer"] is True
    lifted = score(rating=5)
    base_only = 0.45 * 0.7 + 0.0 + 0.2 * 0.6
    assert lifted == pytest.approx(1 - (1 - base_only) * (1 - 0.30))


def test_hidden_complainer_needs_high_stars_and_a_complaining_text():
    assert is_hidden_complainer("negative", 0.8, (), 4)
    assert not is_hidden_complainer("negative", 0.8, (), 3)
    assert not is_hidden_complainer("positive", 0.1, (), 5)


def test_positive_review_without_complaint_never_opens_a_case_whatever_else():
    everything = RiskInput(negative_prob=0.05, sentiment="positive", causes=(), rating=5,
                           prior_complaints=3, customer_ltv=1e6, ltv_threshold=10.0)
    risk = assess(everything)
    assert risk.priority is None and risk.complaint is False


def test_a_stray_cause_on_a_clearly_positive_text_is_no_complaint():
    assert assess(RiskInput(0.06, "positive", ("other",), 5)).priority is None


def test_a_cause_on_a_mixed_text_is_a_complaint():
    assert assess(RiskInput(0.45, "positive", ("logistics",), 5)).priority == "P3"


def test_one_or_two_stars_are_a_complaint_even_with_positive_text():
    assert assess(RiskInput(0.1, "positive", (), 2)).priority == "P3"


@pytest.mark.parametrize(("value", "priority"), [(0.85, "P1"), (0.8499, "P2"), (0.6, "P2"), (0.5999, "P3"), (0.0, "P3")])
def test_priority_thresholds(value, priority):
    assert priority_for(value, complaint=True) == priority


def test_score_stays_within_zero_and_one_at_the_extremes():
    worst = assess(RiskInput(1.0, "negative", ("defect",), 1, prior_complaints=9, customer_ltv=1e9, ltv_threshold=1.0))
    best = assess(RiskInput(0.0, "positive", (), 5))
    assert worst.score <= 1.0 and worst.priority == "P1"
    assert best.score == 0.0


@pytest.mark.parametrize(
    ("inp", "expected", "priority"),
    [
        (RiskInput(0.98, "negative", ("defect",), 1), 0.841, "P2"),
        (RiskInput(0.98, "negative", ("defect",), 1, customer_ltv=100.0, ltv_threshold=50.0), 0.8808, "P1"),
        (RiskInput(0.7, "negative", ("logistics",), 5), 0.6045, "P2"),
        (RiskInput(0.05, "positive", (), 5), 0.0225, None),
    ],
)
def test_documented_worked_examples(inp, expected, priority):
    risk = assess(inp)
    assert (round(risk.score, 3), risk.priority) == (round(expected, 3), priority)


def ltv_threshold(db, settings, values) -> float | None:
    """The threshold the apply job uses, over a customers table holding `values`."""
    db.execute("DELETE FROM customers")
    db.executemany(
        "INSERT INTO customers (customer_id, ltv, first_seen_at, last_seen_at) VALUES (?, ?, '', '')",
        [(f"c{i}", v) for i, v in enumerate(values)],
    )
    return cached_ltv_threshold(db, settings.db_path, max_age=0)


def test_ltv_threshold_is_the_nearest_rank_90th_percentile(db, settings):
    assert ltv_threshold(db, settings, [float(v) for v in range(1, 11)]) == 9.0  # ceil(0.9 * 10) = 9th value
    assert ltv_threshold(db, settings, [5.0, None, 1.0]) == 5.0


def test_ltv_threshold_of_nothing_or_zeros_is_unknown(db, settings):
    assert ltv_threshold(db, settings, []) is None
    assert ltv_threshold(db, settings, [0.0] * 20) is None
