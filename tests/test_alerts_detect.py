"""The alert statistic at its edges: no history, tiny products, bad baselines, resolves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from triage.alerts.detect import (
    DEFAULT_PARAMS,
    Beta,
    Counts,
    WindowCounts,
    baseline_posterior,
    baseline_start,
    category_rate,
    evaluate,
    upper_tail,
    window_start,
)

FOUR_HOURS = timedelta(hours=4)
EIGHT_HOURS = timedelta(hours=8)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
NO_HISTORY = Counts(0, 0)
CATEGORY_RATE = 0.03


def windows(day: tuple[int, int], week: tuple[int, int]) -> list[WindowCounts]:
    """(complaints, reviews) in the last 24 hours and the last 7 days."""
    return [WindowCounts(DAY, Counts(*day)), WindowCounts(WEEK, Counts(*week))]


def test_one_review_that_complains_never_alerts():
    decision = evaluate(windows((1, 1), (1, 1)), NO_HISTORY, CATEGORY_RATE)
    assert not decision.alert
    assert decision.rate == 1.0


def test_two_complaints_out_of_two_reviews_stay_below_the_minimum_count():
    assert not evaluate(windows((2, 2), (2, 2)), NO_HISTORY, CATEGORY_RATE).alert


def test_four_complaints_in_a_day_on_a_quiet_product_without_history_alert():
    decision = evaluate(windows((4, 5), (4, 7)), NO_HISTORY, CATEGORY_RATE)
    assert decision.alert
    assert decision.window == DAY


def test_a_product_without_history_is_judged_at_its_category_rate():
    decision = evaluate(windows((0, 10), (1, 40)), NO_HISTORY, CATEGORY_RATE)
    assert decision.baseline_rate == pytest.approx(CATEGORY_RATE)


def test_a_product_whose_baseline_is_already_bad_does_not_alert_at_its_usual_rate():
    bad_history = Counts(60, 200)  # 30 % of its reviews complain, every month
    usual_week = windows((2, 7), (15, 50))
    assert not evaluate(usual_week, bad_history, CATEGORY_RATE).alert
    # The same week on a product with a clean history is an alert.
    assert evaluate(usual_week, Counts(6, 200), CATEGORY_RATE).alert


def test_a_bad_baseline_still_alerts_when_it_gets_much_worse():
    assert evaluate(windows((12, 14), (20, 50)), Counts(60, 200), CATEGORY_RATE).alert


def test_the_baseline_shrinks_toward_the_category_rate_by_the_prior_strength():
    params = dataclasses.replace(DEFAULT_PARAMS, prior_strength=30.0, rate_cv=0.01)
    prior = baseline_posterior(Counts(0, 30), 0.04, params)
    # Thirty clean reviews weigh as much as the prior: half way from 4 % to 0 %.
    assert prior.mean == pytest.approx(0.02)


def test_a_long_history_is_capped_so_its_rate_is_never_treated_as_exact():
    params = DEFAULT_PARAMS
    prior = baseline_posterior(Counts(300, 10_000), CATEGORY_RATE, params)
    mean = (300 + params.prior_strength * CATEGORY_RATE) / (10_000 + params.prior_strength)
    assert prior.mean == pytest.approx(mean, rel=1e-9)
    cv = ((1 - mean) / (mean * (prior.a + prior.b + 1))) ** 0.5
    assert cv == pytest.approx(params.rate_cv)


def test_a_short_history_keeps_its_own_wider_uncertainty():
    prior = baseline_posterior(Counts(1, 20), CATEGORY_RATE)
    assert prior.a + prior.b == pytest.approx(DEFAULT_PARAMS.prior_strength + 20)


def test_a_busy_product_needs_more_than_its_daily_noise_to_alert():
    history = Counts(84, 2800)  # 100 reviews a day at 3 %
    assert not evaluate(windows((6, 100), (22, 700)), history, CATEGORY_RATE).alert
    assert evaluate(windows((16, 105), (32, 705)), history, CATEGORY_RATE).alert


def test_a_slow_build_up_over_the_week_alerts_through_the_long_window():
    history = Counts(3, 300)  # 1 % on ~10 reviews a day
    decision = evaluate(windows((1, 10), (10, 70)), history, CATEGORY_RATE)
    assert decision.alert
    assert decision.window == WEEK


def test_the_alert_reports_the_long_window_count_and_rate():
    decision = evaluate(windows((3, 3), (4, 20)), NO_HISTORY, CATEGORY_RATE)
    assert (decision.count, decision.reviews, decision.rate) == (4, 20, 0.2)


def test_the_minimum_count_holds_even_when_the_tail_is_tiny():
    params = dataclasses.replace(DEFAULT_PARAMS, min_counts=(4, 4, 4, 4))
    history = Counts(0, 5000)
    assert not evaluate(windows((3, 3), (3, 3)), history, 0.001, params).alert


def test_no_reviews_in_the_window_means_no_alert():
    decision = evaluate(windows((0, 0), (0, 0)), Counts(10, 100), CATEGORY_RATE)
    assert not decision.alert
    assert decision.rate is None
    assert decision.p_value == 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("k", "n", "a", "b"),
    [(1, 1, 0.9, 29.1), (3, 5, 0.9, 29.1), (6, 45, 9.0, 291.0), (12, 700, 9.0, 291.0), (30, 4000, 2.0, 50.0),
     (40, 60, 0.5, 200.0)],
)
def test_the_upper_tail_agrees_with_scipy(k, n, a, b):
    from scipy.stats import betabinom  # ~1.5 s to import: only this test pays it, not collection

    assert upper_tail(k, n, Beta(a, b)) == pytest.approx(float(betabinom.sf(k - 1, n, a, b)), rel=1e-6, abs=1e-12)


def test_the_upper_tail_is_one_at_zero_and_zero_beyond_n():
    assert upper_tail(0, 10, Beta(1, 30)) == 1.0
    assert upper_tail(11, 10, Beta(1, 30)) == 0.0


def test_windows_start_at_the_last_resolve_so_old_complaints_cannot_reopen():
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    resolved = now - timedelta(hours=5)
    assert window_start(now, WEEK, resolved) == resolved
    assert window_start(now, WEEK, now - timedelta(days=9)) == now - WEEK
    assert window_start(now, WEEK, None) == now - WEEK


def test_windows_are_whole_hours_as_the_hourly_counters_hold_them():
    now = datetime(2026, 11, 30, 12, 40, tzinfo=UTC)
    # Four hours back from 12:40 is 08:40: the window starts at 08:00 (the counters' hour).
    assert window_start(now, FOUR_HOURS) == datetime(2026, 11, 30, 8, tzinfo=UTC)
    # After a resolve at 10:15, counting restarts at the next full hour.
    assert window_start(now, DAY, now - timedelta(hours=2, minutes=25)) == datetime(2026, 11, 30, 11, tzinfo=UTC)


def test_the_baseline_is_the_period_before_the_long_window():
    now = datetime(2026, 11, 30, tzinfo=UTC)
    start, end = baseline_start(now)
    assert end == now - WEEK
    assert end - start == DEFAULT_PARAMS.baseline


def test_a_category_without_reviews_takes_the_overall_rate():
    assert category_rate(Counts(0, 0), Counts(50, 1000)) == pytest.approx(0.05)
    assert category_rate(Counts(0, 0), Counts(0, 0), fallback=0.02) == pytest.approx(0.02)


def test_counts_refuse_more_complaints_than_reviews():
    with pytest.raises(ValueError):
        Counts(3, 2)


@pytest.mark.parametrize("changes", [
    {"levels": (0.0, 1e-4, 1e-4, 1e-4)},
    {"windows": ()},
    {"min_counts": (3, 3)},
    {"windows": (timedelta(minutes=90), DAY, WEEK, 2 * WEEK)},
    {"min_counts": (0, 3, 3, 3)},
])
def test_parameters_are_checked(changes):
    with pytest.raises(ValueError):
        dataclasses.replace(DEFAULT_PARAMS, **changes)


def test_a_window_the_parameters_do_not_know_is_refused():
    with pytest.raises(ValueError):
        evaluate([WindowCounts(timedelta(hours=5), Counts(3, 3))], NO_HISTORY, CATEGORY_RATE)


# ---------------------------------------------------------------- the short windows


def scan(four: tuple[int, int], eight: tuple[int, int], day: tuple[int, int], week: tuple[int, int]) -> list[WindowCounts]:
    """(complaints, reviews) in the last 4 hours, 8 hours, 24 hours and 7 days."""
    return [WindowCounts(FOUR_HOURS, Counts(*four)), WindowCounts(EIGHT_HOURS, Counts(*eight)),
            WindowCounts(DAY, Counts(*day)), WindowCounts(WEEK, Counts(*week))]


BUSY = Counts(84, 2800)  # 100 reviews a day at 3 %


def test_a_burst_within_hours_on_a_busy_product_alerts_through_a_short_window():
    # 7 complaints among 20 reviews in 4 hours; the day (10 of 100) is within a busy product's noise.
    decision = evaluate(scan((7, 20), (8, 35), (10, 100), (26, 700)), BUSY, CATEGORY_RATE)
    assert decision.alert
    assert decision.window == FOUR_HOURS
    assert evaluate(scan((0, 0), (0, 0), (10, 100), (26, 700)), BUSY, CATEGORY_RATE).alert is False


def test_three_complaints_in_a_few_hours_never_alert_through_a_short_window():
    # Three in a row is a common coincidence among many products: short windows want four.
    decision = evaluate(scan((3, 3), (3, 6), (3, 30), (10, 200)), Counts(6, 200), CATEGORY_RATE)
    assert decision.tails[FOUR_HOURS] == 1.0
    assert not decision.alert


def test_four_complaints_in_four_reviews_on_a_product_without_history_alert():
    decision = evaluate(scan((4, 4), (4, 5), (4, 6), (4, 6)), NO_HISTORY, CATEGORY_RATE)
    assert decision.alert


def test_a_tiny_product_with_two_reviews_a_week_never_alerts_on_two_complaints():
    decision = evaluate(scan((1, 1), (1, 1), (2, 2), (2, 2)), Counts(0, 8), CATEGORY_RATE)
    assert not decision.alert
    assert decision.p_value == 1.0


def test_a_bad_baseline_is_judged_at_its_own_rate_in_the_short_windows_too():
    bad = Counts(300, 1000)  # 30 % of its reviews complain about this, always
    assert not evaluate(scan((4, 12), (6, 20), (15, 50), (100, 350)), bad, CATEGORY_RATE).alert
    assert evaluate(scan((14, 14), (16, 20), (23, 50), (108, 350)), bad, CATEGORY_RATE).alert


def test_the_decision_reports_every_windows_tail():
    decision = evaluate(scan((7, 20), (8, 35), (10, 100), (26, 700)), BUSY, CATEGORY_RATE)
    assert set(decision.tails) == set(DEFAULT_PARAMS.windows)
    assert decision.p_value == min(decision.tails.values())


def _tail_term_by_term(k: int, n: int, a: float, b: float) -> float:
    from math import exp, lgamma

    def log_beta(x: float, y: float) -> float:
        return lgamma(x) + lgamma(y) - lgamma(x + y)

    return sum(exp(lgamma(n + 1) - lgamma(j + 1) - lgamma(n - j + 1) + log_beta(j + a, n - j + b) - log_beta(a, b))
               for j in range(k, n + 1))


@pytest.mark.parametrize(("k", "n", "a", "b"), [(76, 911, 11.3, 801.3), (45, 600, 2.25, 575.1), (30, 40, 0.9, 29.1),
                                                 (79, 2841, 17.5, 2889.7)])
def test_a_tail_far_beyond_any_alert_level_is_still_exact(k, n, a, b):
    # Below 1e-9 the lower-sum difference loses its digits (and scipy's sf loses them too, to
    # ~1e-13), so these tails are summed from their own terms: each term here is independent.
    expected = _tail_term_by_term(k, n, a, b)
    assert expected < 1e-9
    assert upper_tail(k, n, Beta(a, b)) == pytest.approx(expected, rel=1e-9)
