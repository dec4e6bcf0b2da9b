"""Simulation: how well do product alerts catch complaint spikes, and how often do they cry wolf?

    .venv/bin/python bench/alerts_sim.py [--seed 7] [--products 500] [--days 90] [--tune]

A generator writes a stream of reviews for `--products` products over a 35-day warm-up (history,
not measured) plus `--days` measured days, and injects spikes of each cause. The detector
(`triage.alerts.detect`, with its shipped parameters) then watches the stream product by product,
as the database-host job would: each complaint is judged when it arrives, against whole-hour windows
(as the service's hourly counters hold them) and a baseline counted from the stream itself, and the
category rate it shrinks toward is counted from the stream too. The detector is given nothing the generator knows (no true rates, no spike times).

The generator is meant to be harder than the statistic's model, not the same model:
- volumes: log-normal across products (median ~6 reviews/day, a few hundred at the top), weekly
  rhythm, gamma day-to-day noise, a 3-day platform sale with 3x volume, 15% of products launched
  mid-period with no history;
- rates: per-category base rates per cause, a log-normal product factor, 3% chronically bad
  products (3-5x on one or two causes), a slow random walk of each product's rate (drift), and
  gamma day-to-day rate noise (over-dispersion: the detector assumes none of it);
- spikes: 5-10 extra complaints of one cause on one product, arriving over 4-24 hours;
- ops: every alert is resolved 12-72 hours after it opens, after which only new complaints count.

Figures: detection within 24 h of a spike's first extra complaint; median delay to detection in
hours, in the product's reviews and in the spike's own complaints; false alerts (an alert on a
product and cause with no spike in the 7 days before it) per 100 products per week. Two naive
detectors run on the same stream as baselines: "3+ complaints of a cause in 7 days" and a binomial
test at the product's raw baseline rate (no shrinkage, no predictive uncertainty).

`--tune` runs the levels grid on a tuning seed (1 or 2) and prints it; docs/benchmarks.md reports
the tuning seeds, other seeds and held-out seeds (101-105, run once after the parameters were fixed).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from triage.alerts.detect import (
    DEFAULT_PARAMS,
    Counts,
    DetectorParams,
    WindowCounts,
    category_rate,
    evaluate,
)

CAUSES = ("logistics", "defect", "description_mismatch", "other")
# The statistic shipped before the multi-scale windows, for comparison on the same stream.
PREVIOUS_PARAMS = dataclasses.replace(DEFAULT_PARAMS, windows=(timedelta(hours=24), timedelta(days=7)),
                                      levels=(2.4e-4, 0.6e-4), min_counts=(3, 3), rate_cv=0.3)
DAY = 86_400.0
HOUR = 3_600.0
WARMUP_DAYS = 35

# Generator: base complaint rate per cause, by category (share of a category's reviews).
CATEGORY_RATES = {
    "服装": (0.030, 0.025, 0.045, 0.020),
    "数码": (0.025, 0.040, 0.015, 0.020),
    "家居": (0.035, 0.030, 0.020, 0.015),
    "美妆": (0.020, 0.020, 0.030, 0.025),
    "食品": (0.045, 0.020, 0.010, 0.025),
    "母婴": (0.025, 0.030, 0.020, 0.015),
    "运动": (0.030, 0.025, 0.030, 0.015),
    "图书": (0.040, 0.015, 0.010, 0.010),
}
# Reviews by hour of day (local time): quiet at night, busy in the evening.
HOURLY = np.array([3, 2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 7, 7, 7, 7, 8, 9, 10, 10, 9, 7, 5], dtype=float)
HOURLY /= HOURLY.sum()
WEEKDAY = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.2])


@dataclass
class Spike:
    product: int
    cause: int
    start: float
    extra: int
    times: list[float]


@dataclass
class Product:
    index: int
    category: str
    volume: float  # mean reviews per day before noise
    launch_day: int  # first day with reviews (negative: during the warm-up)
    times: np.ndarray = field(default_factory=lambda: np.empty(0))  # sorted review times (s)
    causes: np.ndarray = field(default_factory=lambda: np.empty((0, 4), dtype=bool))
    spike_of: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))  # spike index or -1


@dataclass
class World:
    days: int
    products: list[Product]
    spikes: list[Spike]


def generate(seed: int, n_products: int = 500, days: int = 90, spikes_per_cause: int | None = None) -> World:
    """The review stream. Times are seconds from the start of the measured period (day 0)."""
    rng = np.random.default_rng(seed)
    categories = list(CATEGORY_RATES)
    total_days = WARMUP_DAYS + days
    day_index = np.arange(-WARMUP_DAYS, days)
    sale = (day_index >= 40) & (day_index < 43)
    products: list[Product] = []
    for i in range(n_products):
        category = categories[rng.integers(len(categories))]
        volume = float(np.clip(rng.lognormal(math.log(6.0), 1.1), 0.2, 400.0))
        launch = -WARMUP_DAYS if rng.random() > 0.15 else int(rng.integers(0, days - 10))
        base = np.array(CATEGORY_RATES[category]) * rng.lognormal(0.0, 0.35, size=4)
        if rng.random() < 0.03:  # chronically bad on one or two causes
            bad = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
            base[bad] *= rng.uniform(3.0, 5.0, size=len(bad))
        drift = np.exp(np.cumsum(rng.normal(0.0, 0.02, size=(total_days, 4)), axis=0))
        noise = rng.gamma(8.0, 1 / 8.0, size=(total_days, 4))
        rates = np.clip(base * drift * noise, 0.0, 0.9)
        lam = volume * WEEKDAY[(day_index + 7 * WARMUP_DAYS) % 7] * rng.gamma(4.0, 0.25, size=total_days)
        lam = np.where(sale, lam * 3.0, lam)
        lam = np.where(day_index < launch, 0.0, lam)
        counts = rng.poisson(lam)
        n = int(counts.sum())
        day_of = np.repeat(day_index, counts)
        hour = rng.choice(24, size=n, p=HOURLY)
        times = day_of * DAY + hour * HOUR + rng.random(n) * HOUR
        p = rates[day_of - day_index[0]]
        causes = rng.random((n, 4)) < p
        order = np.argsort(times, kind="stable")
        products.append(Product(i, category, volume, launch, times[order], causes[order], np.full(n, -1)))

    spikes: list[Spike] = []
    per_cause = spikes_per_cause if spikes_per_cause is not None else max(1, n_products // 8)
    for cause in range(4):
        for _ in range(per_cause):
            product = products[int(rng.integers(n_products))]
            earliest = max(product.launch_day, 0) + 1
            start = float(rng.uniform(earliest, days - 8)) * DAY
            extra = int(rng.integers(5, 11))
            duration = float(rng.uniform(4, 24)) * HOUR
            offsets = np.sort(rng.random(extra - 1)) * duration
            spikes.append(Spike(product.index, cause, start, extra, [start, *(start + offsets).tolist()]))
    for s_index, spike in enumerate(spikes):
        product = products[spike.product]
        add_times = np.array(spike.times)
        add_causes = np.zeros((len(add_times), 4), dtype=bool)
        add_causes[:, spike.cause] = True
        times = np.concatenate([product.times, add_times])
        causes = np.concatenate([product.causes, add_causes])
        spike_of = np.concatenate([product.spike_of, np.full(len(add_times), s_index)])
        order = np.argsort(times, kind="stable")
        product.times, product.causes, product.spike_of = times[order], causes[order], spike_of[order]
    return World(days, products, spikes)


# ---------------------------------------------------------------- detectors over the stream


@dataclass
class Alert:
    product: int
    cause: int
    opened: float
    event: int  # index of the product's review that opened it
    resolved: float


class CategoryRates:
    """Per-category and overall complaint counts by day, from the stream (what the job's counters hold)."""

    def __init__(self, world: World) -> None:
        total_days = WARMUP_DAYS + world.days
        cats = sorted({p.category for p in world.products})
        self.index = {c: i for i, c in enumerate(cats)}
        reviews = np.zeros((len(cats), total_days + 1))
        complaints = np.zeros((len(cats), total_days + 1, 4))
        for p in world.products:
            d = (np.floor(p.times / DAY).astype(int) + WARMUP_DAYS)
            ci = self.index[p.category]
            np.add.at(reviews[ci], d + 1, 1)
            np.add.at(complaints[ci], d + 1, p.causes.astype(float))
        self.reviews = np.cumsum(reviews, axis=1)
        self.complaints = np.cumsum(complaints, axis=1)

    def rate(self, category: str, cause: int, first_day: int, last_day: int, params: DetectorParams) -> float:
        """Smoothed rate of the category over days [first_day, last_day) (day 0 = measured start)."""
        lo = min(max(first_day + WARMUP_DAYS, 0), self.reviews.shape[1] - 1)
        hi = min(max(last_day + WARMUP_DAYS, 0), self.reviews.shape[1] - 1)
        ci = self.index[category]
        cat = Counts(int(self.complaints[ci, hi, cause] - self.complaints[ci, lo, cause]),
                     int(self.reviews[ci, hi] - self.reviews[ci, lo]))
        overall = Counts(int(self.complaints[:, hi, cause].sum() - self.complaints[:, lo, cause].sum()),
                         int(self.reviews[:, hi].sum() - self.reviews[:, lo].sum()))
        return category_rate(cat, overall, params)


Judge = Callable[[Product, int, int, float, float, CategoryRates], bool]


def run_detector(world: World, judge: Judge, seed: int) -> list[Alert]:
    """Replay each product's stream through `judge`, with simulated ops resolving every alert."""
    rng = np.random.default_rng(seed + 1)
    cats = CategoryRates(world)
    alerts: list[Alert] = []
    for product in world.products:
        times = product.times
        active: list[Alert | None] = [None] * 4
        resolved_at = [-math.inf] * 4
        for i in np.flatnonzero(product.causes.any(axis=1) & (times >= 0)):
            t = float(times[i])
            for cause in np.flatnonzero(product.causes[i]):
                alert = active[cause]
                if alert is not None and alert.resolved <= t:
                    resolved_at[cause] = alert.resolved
                    active[cause] = alert = None
                if alert is not None:
                    continue  # the complaint joins the open alert
                if judge(product, int(cause), int(i), t, resolved_at[cause], cats):
                    alert = Alert(product.index, int(cause), t, int(i), t + float(rng.uniform(12, 72)) * HOUR)
                    active[cause] = alert
                    alerts.append(alert)
    return alerts


def _count(product: Product, cause: int, lo: float, hi_index: int) -> Counts:
    """Reviews and complaints of `cause` from time `lo` up to and including review `hi_index`."""
    first = bisect_left(product.times, lo, 0, hi_index + 1)
    if not hasattr(product, "_cum"):
        cum = np.zeros((len(product.times) + 1, 4), dtype=np.int64)
        np.cumsum(product.causes, axis=0, out=cum[1:])
        product._cum = cum  # type: ignore[attr-defined]
    cum = product._cum  # type: ignore[attr-defined]
    return Counts(int(cum[hi_index + 1, cause] - cum[first, cause]), hi_index + 1 - first)


def hour_floor(t: float) -> float:
    return math.floor(t / HOUR) * HOUR


def window_start_s(t: float, length: float, resolved: float) -> float:
    """`triage.alerts.detect.window_start` on the stream's seconds: whole hours, as the service's
    hourly counters allow (the tests check the two agree)."""
    start = hour_floor(t - length)
    if resolved > -math.inf:
        start = max(start, math.ceil(resolved / HOUR) * HOUR)
    return start


def shipped_judge(params: DetectorParams = DEFAULT_PARAMS) -> Judge:
    """The shipped statistic (`triage.alerts.detect.evaluate`) on whole-hour windows, as the service
    counts them: window `w` holds the reviews from the top of the hour `w` before the complaint up to
    and including it; the baseline is the `baseline` before the top of the hour a long window back."""
    lengths = [(w, w.total_seconds()) for w in params.windows]
    long_window = params.long_window.total_seconds()
    baseline = params.baseline.total_seconds()
    rates: dict[tuple[str, int, int], float] = {}

    def judge(product: Product, cause: int, i: int, t: float, resolved: float, cats: CategoryRates) -> bool:
        windows = [WindowCounts(w, _count(product, cause, window_start_s(t, seconds, resolved), i))
                   for w, seconds in lengths]
        b_hi_t = hour_floor(t - long_window)
        lo = bisect_left(product.times, b_hi_t - baseline)
        hi = bisect_left(product.times, b_hi_t)
        base = _count(product, cause, b_hi_t - baseline, hi - 1) if hi > lo else Counts(0, 0)
        day = int(t // DAY)
        key = (product.category, cause, day)
        if key not in rates:  # the category's rate over whole days: the service's is over hours
            rates[key] = cats.rate(product.category, cause, day - int(long_window // DAY) - int(baseline // DAY),
                                   day - int(long_window // DAY), params)
        return evaluate(windows, base, rates[key], params).alert

    return judge


def fixed_count_judge(threshold: int = 3) -> Judge:
    """Naive baseline: `threshold`+ complaints of a cause in 7 days."""

    def judge(product: Product, cause: int, i: int, t: float, resolved: float, cats: CategoryRates) -> bool:
        return _count(product, cause, max(t - 7 * DAY, resolved), i).complaints >= threshold

    return judge


def raw_binomial_judge(alpha: float = 1e-4, min_count: int = 3) -> Judge:
    """Naive baseline: binomial tail at the product's raw 28-day rate (category rate without history)."""
    from scipy.stats import binom  # ~1 s to import: the fast tests that load this module never call it

    def judge(product: Product, cause: int, i: int, t: float, resolved: float, cats: CategoryRates) -> bool:
        window = _count(product, cause, max(t - 7 * DAY, resolved), i)
        if window.complaints < min_count:
            return False
        lo, hi = bisect_left(product.times, t - 35 * DAY), bisect_left(product.times, t - 7 * DAY)
        base = _count(product, cause, t - 35 * DAY, hi - 1) if hi > lo else Counts(0, 0)
        day = int(t // DAY)
        rate = base.rate if base.reviews else cats.rate(product.category, cause, day - 35, day - 7, DEFAULT_PARAMS)
        rate = min(max(rate, 1e-4), 0.99)
        return float(binom.sf(window.complaints - 1, window.reviews, rate)) < alpha

    return judge


# ---------------------------------------------------------------- scoring


@dataclass
class Figures:
    spikes: int
    covered: int  # an alert on the same product and cause was already open when the spike began
    detected_24h: int
    detected_ever: int
    delay_hours: list[float]
    delay_reviews: list[int]
    delay_complaints: list[int]
    alerts: int
    false_alerts: int
    product_weeks: float
    by_tier: dict[str, tuple[int, int]]  # tier -> (detected within 24 h, spikes judged)
    seconds: float = 0.0

    @property
    def detection_rate(self) -> float:
        judged = self.spikes - self.covered
        return self.detected_24h / judged if judged else 0.0

    @property
    def false_per_100_weeks(self) -> float:
        return 100.0 * self.false_alerts / self.product_weeks if self.product_weeks else 0.0

    def row(self) -> dict[str, object]:
        return {
            "spikes": self.spikes,
            "covered": self.covered,
            "detected_24h": self.detected_24h,
            "detection_rate": round(self.detection_rate, 4),
            "detected_ever": self.detected_ever,
            "median_delay_hours": round(statistics.median(self.delay_hours), 2) if self.delay_hours else None,
            "median_delay_reviews": statistics.median(self.delay_reviews) if self.delay_reviews else None,
            "median_delay_complaints": statistics.median(self.delay_complaints) if self.delay_complaints else None,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_per_100_products_week": round(self.false_per_100_weeks, 3),
        }


def tier(volume: float) -> str:
    return "<3/day" if volume < 3 else "3-20/day" if volume < 20 else "20-80/day" if volume < 80 else ">=80/day"


def score(world: World, alerts: list[Alert]) -> Figures:
    by_key: dict[tuple[int, int], list[Alert]] = {}
    for a in alerts:
        by_key.setdefault((a.product, a.cause), []).append(a)
    explained: set[int] = set()
    detected_24h = detected_ever = covered = 0
    delays_h: list[float] = []
    delays_r: list[int] = []
    delays_c: list[int] = []
    tiers: dict[str, list[int]] = {}
    for s_index, spike in enumerate(world.spikes):
        product = world.products[spike.product]
        key = (spike.product, spike.cause)
        candidates = by_key.get(key, [])
        for a in candidates:
            if spike.start <= a.opened <= spike.start + 7 * DAY:
                explained.add(id(a))
        if any(a.opened < spike.start < a.resolved for a in candidates):
            covered += 1
            continue
        t_bucket = tiers.setdefault(tier(product.volume), [0, 0])
        t_bucket[1] += 1
        hit = next((a for a in candidates if spike.start <= a.opened <= spike.start + 7 * DAY), None)
        if hit is None:
            continue
        detected_ever += 1
        if hit.opened - spike.start <= 24 * HOUR:
            detected_24h += 1
            t_bucket[0] += 1
            first = bisect_left(product.times, spike.start)
            delays_h.append((hit.opened - spike.start) / HOUR)
            delays_r.append(hit.event - first + 1)
            delays_c.append(int(np.sum(product.spike_of[first:hit.event + 1] == s_index)))
    false_alerts = sum(1 for a in alerts if id(a) not in explained)
    product_weeks = sum((world.days - max(p.launch_day, 0)) / 7 for p in world.products)
    return Figures(
        spikes=len(world.spikes), covered=covered, detected_24h=detected_24h, detected_ever=detected_ever,
        delay_hours=delays_h, delay_reviews=delays_r, delay_complaints=delays_c,
        alerts=len(alerts), false_alerts=false_alerts, product_weeks=product_weeks,
        by_tier={k: (v[0], v[1]) for k, v in sorted(tiers.items())},
    )


def measure(world: World, judge: Judge, seed: int) -> Figures:
    started = time.perf_counter()
    figures = score(world, run_detector(world, judge, seed))
    figures.seconds = time.perf_counter() - started
    return figures


def tune(seed: int, n_products: int, days: int) -> None:
    """The levels grid (tuning seeds only: 1 and 2); the other parameters stay as shipped."""
    world = generate(seed, n_products, days)
    print(f"tuning seed {seed}: {sum(len(p.times) for p in world.products):,} reviews, {len(world.spikes)} spikes")
    print("| windows (h) | levels | min counts | detected <= 24 h | false /100 products/week |")
    print("|---|---|---|---:|---:|")
    hours = [int(w.total_seconds() // 3600) for w in DEFAULT_PARAMS.windows]
    for short in (5e-5, 1e-4, 1.5e-4):
        for day in (5e-5, 1e-4, 1.5e-4):
            levels = tuple(short if h < 24 else day if h == 24 else DEFAULT_PARAMS.levels[-1] for h in hours)
            params = dataclasses.replace(DEFAULT_PARAMS, levels=levels)
            f = measure(world, shipped_judge(params), seed)
            print(f"| {hours} | {list(levels)} | {list(params.min_counts)} | {f.detection_rate:.3f} |"
                  f" {f.false_per_100_weeks:.3f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The shipped parameters were chosen on seeds 1 and 2 (`--tune --seed 1`); figures are reported on seed 7.
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--tune", action="store_true", help="print the parameter grid on this seed")
    args = parser.parse_args(argv)
    if args.tune:
        tune(args.seed, args.products, args.days)
        return 0
    started = time.perf_counter()
    world = generate(args.seed, args.products, args.days)
    reviews = sum(int((p.times >= 0).sum()) for p in world.products)
    print(f"seed {args.seed}: {args.products} products, {args.days} days, {reviews:,} reviews in the measured"
          f" period, {len(world.spikes)} spikes (generated in {time.perf_counter() - started:.1f} s)")
    print(f"parameters: {DEFAULT_PARAMS.to_json()}")
    print()
    print("| detector | spikes judged | detected <= 24 h | median delay h | median delay reviews |"
          " median delay spike complaints | alerts | false alerts | false /100 products/week | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = [
        ("shipped: beta-binomial EB, 4 h + 8 h + 24 h + 7 d", shipped_judge()),
        ("previous: beta-binomial EB, 24 h + 7 d (Bonferroni 0.8/0.2 of 3e-4)", shipped_judge(PREVIOUS_PARAMS)),
        ("baseline: 3+ complaints in 7 days", fixed_count_judge(3)),
        ("baseline: binomial at raw 28-day rate", raw_binomial_judge()),
    ]
    shipped: Figures | None = None
    for name, judge in runs:
        f = measure(world, judge, args.seed)
        shipped = shipped or f
        r = f.row()
        print(f"| {name} | {f.spikes - f.covered} | {f.detected_24h} ({f.detection_rate:.1%}) |"
              f" {r['median_delay_hours']} | {r['median_delay_reviews']} | {r['median_delay_complaints']} |"
              f" {f.alerts} | {f.false_alerts} | {f.false_per_100_weeks:.2f} | {f.seconds:.1f} |", flush=True)
    assert shipped is not None
    print()
    print("shipped detector by product volume (detected within 24 h / spikes):")
    for name, (hit, total) in shipped.by_tier.items():
        print(f"  {name}: {hit}/{total} ({hit / total:.1%})")
    print(f"detected within 7 days: {shipped.detected_ever}/{shipped.spikes - shipped.covered};"
          f" covered by an alert already open: {shipped.covered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
