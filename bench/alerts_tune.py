"""Tuning the alert statistic on many seeds at once: tails computed once, settings replayed offline.

    .venv/bin/python bench/alerts_tune.py --seeds 200-219 [--jobs 1] [--out tune.json]

`bench/alerts_sim.py` runs the statistic on one stream; tuning it there costs a full run per
candidate. Here each stream is generated once and, per "family" (the parameters that change the
tails: rate CV floor, baseline variant), every complaint's window counts and tails are computed
once. A candidate's per-window levels and minimum counts are then only a comparison per judgement,
replayed with the same simulated ops as `alerts_sim.run_detector` (the same random resolve delays,
drawn in the same order), so a candidate costs ~1 s over twenty streams instead of minutes.

After a resolve the windows start at the next full hour; those judgements depend on the replayed
alert history, so they are computed when met (and cached by resolve hour). The replay of the
shipped parameters reproduces `alerts_sim.measure` exactly (`--check SEED`).

Prints the pooled detection-within-24-h / false-alerts frontier of each family and the candidate a
rule written down beforehand picks: the most pooled detection with pooled false alerts at or under
`--budget` (0.85) per 100 products per week, ties to fewer false alerts.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import statistics
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import alerts_sim as sim

from triage.alerts.detect import (
    DEFAULT_PARAMS,
    Beta,
    Counts,
    DetectorParams,
    baseline_posterior,
    upper_tail,
)

HOUR = sim.HOUR
DAY = sim.DAY
MIN_TAIL_COUNT = 3  # the smallest minimum count any candidate uses: tails below it are never needed


@dataclass(frozen=True)
class Family:
    """What changes the tails (not just the decision)."""

    rate_cv: float = DEFAULT_PARAMS.rate_cv
    # Per-window floors override rate_cv (None: one floor for all windows).
    window_cv: tuple[float, ...] | None = None
    # Leave the baseline's `trim` worst 24-hour blocks (most complaints of the cause) out of it.
    trim: int = 0

    def label(self) -> str:
        cv = "/".join(f"{c:g}" for c in self.window_cv) if self.window_cv else f"{self.rate_cv:g}"
        return f"cv {cv}" + (f", trim {self.trim}" if self.trim else "")


def _posterior(base: Counts, rate: float, family: Family, cv: float) -> Beta:
    params = dataclasses.replace(DEFAULT_PARAMS, rate_cv=cv)
    return baseline_posterior(base, rate, params)


def _trimmed(product: sim.Product, cause: int, start: float, end: float, trim: int) -> Counts:
    """Baseline [start, end) without its `trim` 24-hour blocks (aligned to `end`) with most complaints."""
    edges = end - DAY * np.arange(round((end - start) / DAY), -1, -1)
    idx = np.searchsorted(product.times, edges)
    cum = product._cum  # type: ignore[attr-defined]
    complaints = np.diff(cum[idx, cause])
    reviews = np.diff(idx)
    if trim and complaints.size > trim:
        worst = np.argsort(-complaints, kind="stable")[:trim]
        keep = np.ones(complaints.size, dtype=bool)
        keep[worst] = False
        return Counts(int(complaints[keep].sum()), int(reviews[keep].sum()))
    return Counts(int(complaints.sum()), int(reviews.sum()))


@dataclass
class Stream:
    """One seed's stream with its judgements' inputs (per product: events in order)."""

    seed: int
    world: sim.World
    cats: sim.CategoryRates
    # per product: list of (review index, time, cause)
    events: list[list[tuple[int, float, int]]]


def load(seed: int, products: int, days: int) -> Stream:
    world = sim.generate(seed, products, days)
    cats = sim.CategoryRates(world)
    events: list[list[tuple[int, float, int]]] = []
    for product in world.products:
        sim._count(product, 0, 0.0, 0) if len(product.times) else None  # builds the running totals
        ev = []
        for i in np.flatnonzero(product.causes.any(axis=1) & (product.times >= 0)):
            t = float(product.times[i])
            for cause in np.flatnonzero(product.causes[i]):
                ev.append((int(i), t, int(cause)))
        events.append(ev)
    return Stream(seed, world, cats, events)


class Tails:
    """Per family: for every judgement, (k, n) of each window and its tail; clamped ones on demand."""

    def __init__(self, stream: Stream, family: Family, params: DetectorParams = DEFAULT_PARAMS) -> None:
        self.stream, self.family, self.params = stream, family, params
        self.lengths = [w.total_seconds() for w in params.windows]
        self.cvs = family.window_cv or tuple(family.rate_cv for _ in self.lengths)
        self.priors: list[list[tuple[Beta, ...]]] = []
        self.k: list[np.ndarray] = []  # per product: events x windows
        self.p: list[np.ndarray] = []
        self.clamped: dict[tuple[int, int, int, float], tuple[tuple[int, ...], tuple[float, ...]]] = {}
        rates: dict[tuple[str, int, int], float] = {}
        long_window = params.long_window.total_seconds()
        baseline = params.baseline.total_seconds()
        for product, ev in zip(stream.world.products, stream.events, strict=True):
            pri: list[tuple[Beta, ...]] = []
            ks = np.zeros((len(ev), len(self.lengths)), dtype=np.int64)
            ps = np.ones((len(ev), len(self.lengths)))
            for j, (i, t, cause) in enumerate(ev):
                b_hi_t = sim.hour_floor(t - long_window)
                if family.trim:
                    base = _trimmed(product, cause, b_hi_t - baseline, b_hi_t, family.trim)
                else:
                    lo = bisect_left(product.times, b_hi_t - baseline)
                    hi = bisect_left(product.times, b_hi_t)
                    base = sim._count(product, cause, b_hi_t - baseline, hi - 1) if hi > lo else Counts(0, 0)
                day = int(t // DAY)
                key = (product.category, cause, day)
                if key not in rates:
                    rates[key] = stream.cats.rate(product.category, cause,
                                                  day - int(long_window // DAY) - int(baseline // DAY),
                                                  day - int(long_window // DAY), params)
                priors = tuple(_posterior(base, rates[key], family, cv) for cv in self.cvs)
                pri.append(priors)
                for w, seconds in enumerate(self.lengths):
                    c = sim._count(product, cause, sim.window_start_s(t, seconds, -math.inf), i)
                    ks[j, w] = c.complaints
                    ps[j, w] = self._tail(c, priors[w])
            self.priors.append(pri)
            self.k.append(ks)
            self.p.append(ps)

    @staticmethod
    def _tail(c: Counts, prior: Beta) -> float:
        k, n = c.complaints, c.reviews
        if k < MIN_TAIL_COUNT or k <= n * prior.mean:
            return 1.0
        return upper_tail(k, n, prior)

    def clamped_tails(self, p: int, j: int, resolved: float) -> tuple[tuple[int, ...], tuple[float, ...]]:
        key = (p, j, 0, math.ceil(resolved / HOUR))
        hit = self.clamped.get(key)
        if hit is None:
            product = self.stream.world.products[p]
            i, t, cause = self.stream.events[p][j]
            ks, ps = [], []
            for w, seconds in enumerate(self.lengths):
                c = sim._count(product, cause, sim.window_start_s(t, seconds, resolved), i)
                ks.append(c.complaints)
                ps.append(self._tail(c, self.priors[p][j][w]))
            hit = self.clamped[key] = (tuple(ks), tuple(ps))
        return hit


@dataclass(frozen=True)
class Setting:
    levels: tuple[float, ...]
    min_counts: tuple[int, ...]

    def label(self) -> str:
        return f"levels {'/'.join(f'{x:g}' for x in self.levels)}, min {'/'.join(map(str, self.min_counts))}"


def replay(tails: Tails, setting: Setting) -> list[sim.Alert]:
    """`alerts_sim.run_detector` with the judgements read from `tails`."""
    stream = tails.stream
    draws = np.random.default_rng(stream.seed + 1)
    levels = np.array(setting.levels)
    mins = np.array(setting.min_counts)
    long_window = max(tails.lengths)
    alerts: list[sim.Alert] = []
    for p, ev in enumerate(stream.events):
        if not ev:
            continue
        fire_array = ((tails.k[p] >= mins) & (tails.p[p] < levels)).any(axis=1)
        if not fire_array.any():
            continue  # nothing fires, so no alert opens and no judgement is ever clamped by a resolve
        fire = fire_array.tolist()
        active: list[sim.Alert | None] = [None] * 4
        resolved_at = [-math.inf] * 4
        for j, (i, t, cause) in enumerate(ev):
            alert = active[cause]
            if alert is not None and alert.resolved <= t:
                resolved_at[cause] = alert.resolved
                active[cause] = alert = None
            if alert is not None:
                continue
            resolved = resolved_at[cause]
            if resolved > -math.inf and math.ceil(resolved / HOUR) * HOUR > sim.hour_floor(t - long_window):
                ks, ps = tails.clamped_tails(p, j, resolved)
                hit = any(k >= m and q < lv for k, q, m, lv in zip(ks, ps, setting.min_counts, setting.levels,
                                                                     strict=True))
            else:
                hit = fire[j]
            if hit:
                alert = sim.Alert(p, cause, t, i, t + float(draws.uniform(12, 72)) * HOUR)
                active[cause] = alert
                alerts.append(alert)
    return alerts


@dataclass
class Pooled:
    judged: int = 0
    detected: int = 0
    false_alerts: int = 0
    product_weeks: float = 0.0
    per_seed: list[tuple[int, float, float]] = dataclasses.field(default_factory=list)

    def add(self, seed: int, f: sim.Figures) -> None:
        self.judged += f.spikes - f.covered
        self.detected += f.detected_24h
        self.false_alerts += f.false_alerts
        self.product_weeks += f.product_weeks
        self.per_seed.append((seed, f.detection_rate, f.false_per_100_weeks))

    @property
    def detection(self) -> float:
        return self.detected / self.judged if self.judged else 0.0

    @property
    def false_rate(self) -> float:
        return 100.0 * self.false_alerts / self.product_weeks if self.product_weeks else 0.0


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if not n:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def evaluate_setting(all_tails: list[Tails], setting: Setting) -> Pooled:
    pooled = Pooled()
    for tails in all_tails:
        pooled.add(tails.stream.seed, sim.score(tails.stream.world, replay(tails, setting)))
    return pooled


def frontier(results: list[tuple[Family, Setting, Pooled]]) -> list[tuple[Family, Setting, Pooled]]:
    """The candidates no other beats on both detection and false alerts."""
    ordered = sorted(results, key=lambda r: (r[2].false_rate, -r[2].detection))
    best, out = -1.0, []
    for r in ordered:
        if r[2].detection > best:
            out.append(r)
            best = r[2].detection
    return out


def choose(results: list[tuple[Family, Setting, Pooled]], budget: float) -> tuple[Family, Setting, Pooled] | None:
    """The rule fixed before tuning: most pooled detection with pooled false alerts <= budget."""
    ok = [r for r in results if r[2].false_rate <= budget]
    return max(ok, key=lambda r: (r[2].detected, -r[2].false_rate)) if ok else None


SHIPPED = Setting(DEFAULT_PARAMS.levels, DEFAULT_PARAMS.min_counts)


def grid(size: str = "full") -> list[Setting]:
    """Per-window levels and minimum counts around the shipped ones (4 h, 8 h, 24 h, 7 d)."""
    shorts = (2e-5, 5e-5, 1e-4, 2e-4)
    days = (1e-4, 2e-4, 4e-4, 8e-4)
    weeks = (3e-6, 1e-5, 3e-5)
    mins = ((4, 4, 3, 3), (4, 4, 4, 3), (3, 4, 3, 3))
    if size == "fine":  # around the full grid's frontier at ~0.8 false alerts (its edges extended)
        return [Setting((s4, s8, d, w), m) for s4, s8, d, w, m in itertools.product(
            (5e-5, 1e-4, 2e-4), (1e-4, 2e-4, 4e-4), (2e-4, 3e-4, 4e-4), (3e-7, 1e-6, 3e-6),
            ((4, 4, 4, 3), (4, 4, 4, 4), (4, 5, 4, 3)))]
    if size == "coarse":
        shorts, days, mins = (2e-5, 5e-5, 1e-4, 2e-4), (1e-4, 2e-4, 4e-4), ((4, 4, 3, 3), (4, 4, 4, 3))
        return [Setting((s, s, d, w), m) for s, d, w, m in itertools.product(shorts, days, weeks, mins)]
    return [Setting((s4, s8, d, w), m) for s4, s8, d, w, m in itertools.product(shorts, shorts, days, weeks, mins)]


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def held_out(seeds: list[int], candidates: list[tuple[str, DetectorParams]], products: int, days: int,
             out: str | None = None) -> None:
    """Run each candidate through `alerts_sim.measure` (the service's `evaluate`, no replay) on every
    seed, once; per-seed rows, then pooled figures (`pool`). `out` keeps the per-seed figures."""
    rows: list[dict[str, object]] = []
    names = [name for name, _ in candidates]
    print("| seed | " + " | ".join(f"{n}: detected <= 24 h | {n}: false /100/wk | {n}: median delay h"
                                   for n in names) + " |")
    print("|---|" + "---:|---:|---:|" * len(names))
    for seed in seeds:
        world = sim.generate(seed, products, days)
        cells = []
        for name, params in candidates:
            f = sim.measure(world, sim.shipped_judge(params), seed)
            rows.append({"seed": seed, "name": name, "judged": f.spikes - f.covered, "detected": f.detected_24h,
                         "false_alerts": f.false_alerts, "product_weeks": f.product_weeks,
                         "delay_hours": f.delay_hours, "delay_reviews": f.delay_reviews,
                         "delay_complaints": f.delay_complaints, "by_tier": f.by_tier})
            cells.append(f"{f.detected_24h}/{f.spikes - f.covered} ({f.detection_rate:.1%}) |"
                         f" {f.false_per_100_weeks:.2f} | {f.row()['median_delay_hours']}")
        print(f"| {seed} | " + " | ".join(cells) + " |", flush=True)
    if out:
        Path(out).write_text(json.dumps(rows))
    pool(rows)


def pool(rows: list[dict]) -> None:
    for name in dict.fromkeys(r["name"] for r in rows):
        mine = [r for r in rows if r["name"] == name]
        judged = sum(r["judged"] for r in mine)
        hit = sum(r["detected"] for r in mine)
        false = sum(r["false_alerts"] for r in mine)
        weeks = sum(r["product_weeks"] for r in mine)
        lo, hi = wilson(hit, judged)
        delays = [statistics.median([d for r in mine for d in r[k]])
                  for k in ("delay_hours", "delay_reviews", "delay_complaints")]
        print(f"pooled {name} ({len(mine)} seeds): detected {hit}/{judged} ({hit / judged:.2%}, Wilson 95%"
              f" [{lo:.2%}, {hi:.2%}]), false {false} in {weeks:,.0f} product-weeks"
              f" ({100 * false / weeks:.3f} /100/wk), median delay {delays[0]:.2f} h / {delays[1]} reviews /"
              f" {delays[2]} spike complaints", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="200-219")
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--budget", type=float, default=0.85)
    parser.add_argument("--families", default="0.4",
                        help="';'-separated: a CV floor ('0.4'), per-window floors ('0.4/0.4/0.4/0.2'),"
                             " optionally ',trim=N'")
    parser.add_argument("--grid", choices=("full", "fine", "coarse"), default="full")
    parser.add_argument("--check", type=int, help="compare the replay with alerts_sim.measure on this seed")
    parser.add_argument("--held-out", action="store_true",
                        help="run the shipped parameters and --levels/--min-counts/--rate-cv on --seeds, once")
    parser.add_argument("--levels", help="e.g. 5e-5,5e-5,2e-4,1e-5 (with --held-out)")
    parser.add_argument("--min-counts", help="e.g. 4,4,3,3 (with --held-out)")
    parser.add_argument("--rate-cv", type=float, default=DEFAULT_PARAMS.rate_cv)
    parser.add_argument("--pool", help="','-separated --held-out --out files: print their pooled figures")
    parser.add_argument("--out", help="write every candidate's pooled (or with --held-out, per-seed) figures here (JSON)")
    args = parser.parse_args(argv)

    if args.check is not None:
        stream = load(args.check, args.products, args.days)
        tails = Tails(stream, Family())
        replayed = sim.score(stream.world, replay(tails, SHIPPED))
        direct = sim.measure(stream.world, sim.shipped_judge(), args.check)
        print("replay", replayed.row())
        print("direct", direct.row())
        return 0 if replayed.row() == direct.row() else 1

    if args.held_out:
        candidate = dataclasses.replace(
            DEFAULT_PARAMS, levels=tuple(float(x) for x in args.levels.split(",")),
            min_counts=tuple(int(x) for x in args.min_counts.split(",")), rate_cv=args.rate_cv)
        held_out(parse_seeds(args.seeds), [("shipped", DEFAULT_PARAMS), ("new", candidate)], args.products,
                 args.days, args.out)
        return 0
    if args.pool:
        pool([row for path in args.pool.split(",") for row in json.loads(Path(path).read_text())])
        return 0

    families = []
    for spec in args.families.split(";"):
        cv, *opts = spec.split(",")
        trim = int(opts[0].split("=")[1]) if opts else 0
        parts = tuple(float(x) for x in cv.split("/"))
        families.append(Family(rate_cv=parts[0], window_cv=parts if len(parts) > 1 else None, trim=trim))

    seeds = parse_seeds(args.seeds)
    started = time.process_time()
    streams = [load(s, args.products, args.days) for s in seeds]
    print(f"{len(seeds)} streams generated ({time.process_time() - started:.0f} s CPU)", flush=True)
    results: list[tuple[Family, Setting, Pooled]] = []
    for family in families:
        started = time.process_time()
        all_tails = [Tails(s, family) for s in streams]
        print(f"{family.label()}: tails in {time.process_time() - started:.0f} s CPU", flush=True)
        started = time.process_time()
        settings = grid(args.grid)
        if SHIPPED not in settings:
            settings.insert(0, SHIPPED)
        for n, setting in enumerate(settings):
            results.append((family, setting, evaluate_setting(all_tails, setting)))
            if n == 0:
                print(f"  one candidate: {time.process_time() - started:.1f} s CPU", flush=True)
        print(f"  {len(settings)} candidates in {time.process_time() - started:.0f} s CPU", flush=True)
        for _fam, setting, pooled in frontier([r for r in results if r[0] == family]):
            if 0.5 <= pooled.false_rate <= 1.1:
                print(f"  frontier: {setting.label()}: {pooled.detection:.2%} ({pooled.detected}/{pooled.judged}),"
                      f" false {pooled.false_rate:.3f}")
        shipped = next(r for r in results if r[0] == family and r[1] == SHIPPED)
        print(f"  shipped levels: {shipped[2].detection:.2%} ({shipped[2].detected}/{shipped[2].judged}),"
              f" false {shipped[2].false_rate:.3f}", flush=True)
    chosen = choose(results, args.budget)
    if chosen:
        fam, setting, pooled = chosen
        lo, hi = wilson(pooled.detected, pooled.judged)
        print(f"chosen (max pooled detection, false <= {args.budget}): {fam.label()}; {setting.label()}:"
              f" {pooled.detection:.2%} [{lo:.2%}, {hi:.2%}] ({pooled.detected}/{pooled.judged}),"
              f" false {pooled.false_rate:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps([
            {"family": fam.label(), "levels": s.levels, "min_counts": s.min_counts, "detected": p.detected,
             "judged": p.judged, "false_alerts": p.false_alerts, "product_weeks": p.product_weeks,
             "per_seed": p.per_seed} for fam, s, p in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
