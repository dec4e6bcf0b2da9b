"""The statistics of product alerts (差评预警). Pure: counts in, a decision out; no database.

For one scope (a product, or a whole category) and one cause, an alert opens when the complaints
of that cause in a recent window are unlikely under the scope's own baseline:

* **Baseline.** The `baseline` period (28 days) just before the long window: `x` complaints of the
  cause among `n` reviews. It is shrunk toward the category's rate with a Beta prior of
  `prior_strength` pseudo-reviews (Empirical Bayes): the posterior is
  ``Beta(m·p_cat + x, m·(1 - p_cat) + n - x)``. A product without history therefore gets its
  category's rate, and a product whose baseline is already bad keeps its own, bad rate. The
  posterior's concentration is capped so that its coefficient of variation never drops below
  `rate_cv`: rates drift and have bad days, so even a product with thousands of baseline reviews is
  never treated as knowing its rate exactly.
* **Windows.** A multi-scale scan over windows ending at the newest complaint: the last 4 hours,
  8 hours, 24 hours and 7 days, in whole UTC hours as the service's counters allow (`window_start`:
  a window starts at the top of the hour `length` before now, so it covers its length plus the
  current hour's part). Spikes arrive within hours, while a product's ordinary bad days spread over
  the whole day: on a busy product the short windows carry the signal, on a quiet one the day, and
  the week catches a slow build-up.
* **Statistic.** For each window with `k` complaints among `n` reviews: the upper tail of the
  posterior predictive, ``P(K >= k)`` for ``K ~ BetaBinomial(n, a, b)``. The beta-binomial (rather
  than a binomial at the point estimate) carries the uncertainty of the baseline, so a product with
  ten reviews of history is not judged as if its rate were known.
* **Decision.** Open when some window has ``k >= min_counts[w]`` and ``P(K >= k) < levels[w]``.
  The levels are calibrated on the simulation for a target false-alert rate, not split by
  Bonferroni (overlapping windows' tails are strongly dependent). The minimum counts mean one or two
  reviews never alert, and three within a day (a common coincidence) neither; three in a week still
  can, through the week's window, when they are that unlikely for the product.
* **After a resolve.** Every window starts at the next full hour after the resolve at the earliest
  (`window_start`), so a resolved alert re-opens only on complaints that arrive after it, never on
  the ones that made it.

Parameters were tuned with `bench/alerts_sim.py`; see docs/benchmarks.md ("Product alerts").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import exp, lgamma, log

HOUR = timedelta(hours=1)

__all__ = [
    "DEFAULT_PARAMS",
    "Beta",
    "Counts",
    "Decision",
    "DetectorParams",
    "WindowCounts",
    "baseline_posterior",
    "baseline_start",
    "category_rate",
    "ceil_hour",
    "evaluate",
    "floor_hour",
    "shrink_rate",
    "upper_tail",
    "window_start",
]


@dataclass(frozen=True)
class DetectorParams:
    # Windows ending at the newest complaint, in whole UTC hours (see `window_start`). Short windows
    # carry the signal on busy products: a spike comes within hours while a product's ordinary bad
    # days spread over the whole day; the day catches spikes spread out on quieter products; the
    # week a slow build-up.
    windows: tuple[timedelta, ...] = (timedelta(hours=4), timedelta(hours=8), timedelta(hours=24), timedelta(days=7))
    # The tail each window is held to, calibrated on the simulation (docs/benchmarks.md: the most
    # detection on 20 tuning streams at <= 0.85 false alerts per 100 products per week) rather than
    # split by Bonferroni: the windows overlap, so their tails are strongly dependent and a split
    # would waste most of the level.
    levels: tuple[float, ...] = (2e-5, 1e-4, 2e-4, 1e-5)
    # Complaints a window needs before it may alert at all: one or two reviews never alert, and the
    # windows of a day or less want four, since three within a day is a common coincidence across
    # thousands of product-days; the week may alert on three that are unlikely enough.
    min_counts: tuple[int, ...] = (4, 4, 4, 3)
    baseline: timedelta = timedelta(days=28)
    prior_strength: float = 100.0  # pseudo-reviews of the category's rate behind every product's baseline
    rate_cv: float = 0.3  # the baseline rate is never known better than this coefficient of variation
    category_prior_strength: float = 500.0  # pseudo-reviews of the overall rate behind a category's rate

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("at least one window")
        if len(self.levels) != len(self.windows) or len(self.min_counts) != len(self.windows):
            raise ValueError("levels and min_counts need one value per window")
        if len(set(self.windows)) != len(self.windows):
            raise ValueError("windows must differ")
        if any(w % timedelta(hours=1) or w <= timedelta(0) for w in self.windows):
            raise ValueError("windows are whole hours")
        if not all(0 < level < 1 for level in self.levels):
            raise ValueError("levels must be in (0, 1)")
        if min(self.min_counts) < 1:
            raise ValueError("min_counts must be at least 1")
        if self.prior_strength <= 0 or self.rate_cv <= 0:
            raise ValueError("prior_strength and rate_cv must be positive")

    @property
    def long_window(self) -> timedelta:
        return max(self.windows)

    @property
    def min_count(self) -> int:
        """The fewest complaints any window alerts on."""
        return min(self.min_counts)

    def rule(self, length: timedelta) -> tuple[float, int]:
        """(level, minimum count) of the window of this length."""
        try:
            i = self.windows.index(length)
        except ValueError:
            raise ValueError(f"no window of {length} in the parameters") from None
        return self.levels[i], self.min_counts[i]

    def to_json(self) -> dict[str, object]:
        return {
            "windows_hours": [w.total_seconds() / 3600 for w in self.windows],
            "levels": list(self.levels),
            "min_counts": list(self.min_counts),
            "baseline_days": self.baseline.total_seconds() / 86400,
            "prior_strength": self.prior_strength,
            "rate_cv": self.rate_cv,
            "category_prior_strength": self.category_prior_strength,
        }


DEFAULT_PARAMS = DetectorParams()


@dataclass(frozen=True)
class Counts:
    """Complaints of one cause among all reviews of a scope over some period."""

    complaints: int
    reviews: int

    def __post_init__(self) -> None:
        if self.complaints < 0 or self.reviews < 0:
            raise ValueError("counts cannot be negative")
        if self.complaints > self.reviews:
            raise ValueError("more complaints than reviews")

    @property
    def rate(self) -> float | None:
        return self.complaints / self.reviews if self.reviews else None


@dataclass(frozen=True)
class WindowCounts:
    length: timedelta
    counts: Counts


@dataclass(frozen=True)
class Beta:
    a: float
    b: float

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)


@dataclass(frozen=True)
class Decision:
    alert: bool
    count: int  # complaints in the long window (what the alert reports)
    reviews: int
    rate: float | None
    baseline_rate: float
    p_value: float  # smallest per-window tail probability
    window: timedelta | None  # the window that fired (or came closest)
    tails: dict[timedelta, float] = field(default_factory=dict)


def shrink_rate(counts: Counts, prior_rate: float, strength: float) -> float:
    """(x + m·p) / (n + m): a rate pulled toward `prior_rate` by `strength` pseudo-reviews."""
    return (counts.complaints + strength * prior_rate) / (counts.reviews + strength)


def category_rate(category: Counts, overall: Counts, params: DetectorParams = DEFAULT_PARAMS,
                  *, fallback: float = 0.02) -> float:
    """A category's rate of one cause over the baseline, shrunk toward the rate over all categories
    (`fallback` when nothing has been reviewed at all yet)."""
    overall_rate = overall.rate if overall.rate is not None else fallback
    return shrink_rate(category, overall_rate, params.category_prior_strength)


def _clamp_rate(rate: float) -> float:
    # A Beta needs both shapes positive; a category that has never seen a complaint still might.
    return min(max(rate, 1e-4), 1 - 1e-4)


def baseline_posterior(baseline: Counts, category_rate: float, params: DetectorParams = DEFAULT_PARAMS) -> Beta:
    """The scope's complaint rate after its baseline, shrunk toward `category_rate`."""
    p = _clamp_rate(category_rate)
    a = params.prior_strength * p + baseline.complaints
    b = params.prior_strength * (1 - p) + baseline.reviews - baseline.complaints
    mean = a / (a + b)
    # A Beta(mean, concentration c) has CV sqrt((1 - mean) / (mean (c + 1))); cap c so the CV
    # never falls below rate_cv. Rates wander in proportion to their size (a bad day for a
    # carrier doubles logistics complaints whatever their usual level), so the floor is relative.
    cap = max((1 - mean) / (mean * params.rate_cv**2) - 1, 1.0)
    if a + b > cap:
        scale = cap / (a + b)
        a, b = a * scale, b * scale
    return Beta(a, b)


def _log_pmf0(n: int, a: float, b: float) -> float:
    # log P(K = 0) = log B(a, n + b) - log B(a, b)
    return lgamma(n + b) + lgamma(a + b) - lgamma(n + a + b) - lgamma(b)


def upper_tail(k: int, n: int, prior: Beta) -> float:
    """P(K >= k) for K ~ BetaBinomial(n, a, b); 1.0 for k <= 0.

    Summed as 1 - P(K < k) over the k lower terms by the pmf's ratio recurrence: k is a handful of
    complaints, so this is ~100x faster than scipy's generic `sf` (which the tests check it against).
    Where that difference loses precision (tails below 1e-9, far beyond any alert level) the upper
    terms are summed directly instead, from P(K = k) on, until they stop adding anything.
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    a, b = prior.a, prior.b
    pmf = exp(_log_pmf0(n, a, b))
    cdf = pmf
    for j in range(k - 1):
        pmf *= _ratio(j, n, a, b)
        cdf += pmf
    tail = 1.0 - cdf
    if tail < 1e-9:
        return _upper_sum(k, n, a, b)
    return tail


def _ratio(j: int, n: int, a: float, b: float) -> float:
    """P(K = j + 1) / P(K = j) for K ~ BetaBinomial(n, a, b)."""
    return (n - j) * (j + a) / ((j + 1) * (n - j - 1 + b))


def _upper_sum(k: int, n: int, a: float, b: float) -> float:
    """P(K >= k) as the sum of its own terms; log space up to P(K = k), where P(K = 0) may underflow."""
    log_pmf = _log_pmf0(n, a, b) + sum(log(_ratio(j, n, a, b)) for j in range(k))
    term, total = 1.0, 1.0
    for j in range(k, n):
        term *= _ratio(j, n, a, b)
        total += term
        if term < total * 1e-17:
            break
    return exp(log_pmf) * total


def evaluate(
    windows: Sequence[WindowCounts],
    baseline: Counts,
    category_rate: float,
    params: DetectorParams = DEFAULT_PARAMS,
) -> Decision:
    """Should an alert open for this scope and cause, given its recent windows and its baseline?

    Each window is judged by the rule of its length in `params` (its level and minimum count).
    """
    if not windows:
        raise ValueError("at least one window")
    prior = baseline_posterior(baseline, category_rate, params)
    longest = max(windows, key=lambda w: w.length)
    tails: dict[timedelta, float] = {}
    fired: WindowCounts | None = None
    best: WindowCounts | None = None
    best_p = 1.0
    for window in windows:
        level, min_count = params.rule(window.length)
        k, n = window.counts.complaints, window.counts.reviews
        # Below the minimum, or not above the expected count, the tail cannot matter: skip it.
        if k < min_count or k <= n * prior.mean:
            p = 1.0
        else:
            p = upper_tail(k, n, prior)
        tails[window.length] = p
        if p < best_p or best is None:
            best, best_p = window, p
        if p < level and fired is None:
            fired = window
    return Decision(
        alert=fired is not None,
        count=longest.counts.complaints,
        reviews=longest.counts.reviews,
        rate=longest.counts.rate,
        baseline_rate=prior.mean,
        p_value=best_p,
        window=(fired or best).length if (fired or best) else None,
        tails=tails,
    )


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def window_start(now: datetime, length: timedelta, resolved_at: datetime | None = None) -> datetime:
    """Where a window of `length` ending at `now` begins, in whole hours (the counters are hourly):
    the start of the hour `length` before `now`, so a window covers its length plus the current
    hour's part. Never before the next full hour after the scope's last resolve."""
    start = floor_hour(now - length)
    if resolved_at is not None:
        start = max(start, ceil_hour(resolved_at))
    return start


def baseline_start(now: datetime, params: DetectorParams = DEFAULT_PARAMS) -> tuple[datetime, datetime]:
    """[start, end) of the baseline period: the `baseline` days before the long window, whole hours."""
    end = floor_hour(now - params.long_window)
    return end - params.baseline, end
