"""CPU of the product-alert check per complaint review, as the database worker runs it.

    .venv/bin/python bench/alerts_detect_bench.py [--products 300] [--batches 200] [--tree DIR]

A SQLite database gets 35 days of hourly alert counters for `--products` products (log-normal
volumes, as in `bench/alerts_sim.py`), their categories and the overall scope. Then `--batches`
applies arrive, each with 20 complaint reviews on products drawn by volume: the counters move as
`record_reviews` would move them, the product and category are marked dirty, and
`triage.alerts.store.detect` judges them. Reported: CPU time (user + sys of this process) of the
detection runs only, per complaint review; and the CPU of one judgement (one scope and cause: every
window and the baseline) on a quiet and a busy product. Each figure also for the same code judging
only the previous statistic's two windows (24 h and 7 days), which isolates what the scan costs. `--tree DIR` imports `triage` from another checkout
(e.g. a worktree of main) in a child process, so a before/after pair is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("服装", "数码", "家居", "美妆", "食品", "母婴", "运动", "图书")
CAUSES = ("logistics", "defect", "description_mismatch", "other")
RATES = (0.03, 0.025, 0.025, 0.02)
HOUR = timedelta(hours=1)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(products: int, batches: int, seed: int, two_windows: bool = False) -> dict[str, float]:
    from triage.alerts.detect import DEFAULT_PARAMS
    from triage.alerts.store import detect
    from triage.db import open_db, transaction
    from triage.timeutil import to_db

    params = DEFAULT_PARAMS
    if two_windows:  # the statistic before the multi-scale scan: 24 hours and 7 days
        params = replace(DEFAULT_PARAMS, windows=(timedelta(hours=24), timedelta(days=7)), levels=(2.4e-4, 6e-5),
                         min_counts=(3, 3), rate_cv=0.3)
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    now = start + timedelta(days=35)
    volumes = [min(max(rng.lognormvariate(math.log(6.0), 1.1), 0.2), 400.0) for _ in range(products)]
    category = [CATEGORIES[i % len(CATEGORIES)] for i in range(products)]
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "bench.db")
        counters: dict[tuple[str, str, str], int] = {}

        def add(product: int, hour: datetime, cause: str | None, n: int = 1) -> None:
            for scope in (f"p:p{product}", f"c:{category[product]}", "all"):
                for c in ("", cause) if cause else ("",):
                    key = (scope, c, to_db(hour))
                    counters[key] = counters.get(key, 0) + n

        hour = start
        while hour < now:
            for p, volume in enumerate(volumes):
                slots = int(volume // 24) + 1  # a Bernoulli per slot: Poisson-like hourly counts
                reviews = sum(1 for _ in range(slots) if rng.random() < volume / 24 / slots)
                if reviews:
                    add(p, hour, None, reviews)
                    for cause, rate in zip(CAUSES, RATES, strict=True):
                        k = sum(1 for _ in range(reviews) if rng.random() < rate)
                        if k:
                            for scope in (f"p:p{p}", f"c:{category[p]}", "all"):
                                key = (scope, cause, to_db(hour))
                                counters[key] = counters.get(key, 0) + k
            hour += HOUR
        with transaction(conn):
            conn.executemany("INSERT INTO alert_counters (scope, cause, hour, n) VALUES (?, ?, ?, ?)",
                             [(*key, n) for key, n in counters.items()])
        total = sum(volumes)
        spent = 0.0
        complaints = 0
        for b in range(batches):
            at = now + timedelta(minutes=5 * b)
            touched = rng.choices(range(products), weights=volumes, k=20)
            rows = []
            for p in touched:
                cause = rng.choice(CAUSES)
                for scope in (f"p:p{p}", f"c:{category[p]}", "all"):
                    rows += [(scope, "", to_db(at.replace(minute=0, second=0, microsecond=0))),
                             (scope, cause, to_db(at.replace(minute=0, second=0, microsecond=0)))]
            with transaction(conn):
                conn.executemany("INSERT INTO alert_counters (scope, cause, hour, n) VALUES (?, ?, ?, 1)"
                                 " ON CONFLICT (scope, cause, hour) DO UPDATE SET n = n + 1", rows)
                conn.executemany("INSERT INTO alert_dirty (scope, category, marked_at) VALUES (?, ?, ?)"
                                 " ON CONFLICT (scope) DO UPDATE SET marked_at = excluded.marked_at",
                                 [(s, category[p], to_db(at)) for p in touched for s in (f"p:p{p}", f"c:{category[p]}")])
            before = cpu()
            detect(conn, at + timedelta(seconds=5), params=params)
            spent += cpu() - before
            complaints += len(touched)
        opened = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        conn.close()
    import triage

    return {**judge_cost(params, seed), "us_per_complaint": 1e6 * spent / complaints, "triage": str(Path(triage.__file__).parent.parent), "complaints": complaints, "alerts": opened,
            "reviews_per_day": round(total)}


def judge_cost(params: object, seed: int, repeats: int = 2000) -> dict[str, float]:
    """CPU of one judgement (one scope and cause, every window and the baseline) on a product with
    35 days of counters, quiet (4 reviews a day) and busy (40 a day)."""
    from triage.alerts import store
    from triage.db import open_db, transaction
    from triage.timeutil import to_db

    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    now = start + timedelta(days=35, minutes=30)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "judge.db")
        rows = []
        for volume in (4, 40):
            hour = start
            while hour < now:
                n = sum(1 for _ in range(volume) if rng.random() < 1 / 24)
                if n:
                    rows.append((f"p:v{volume}", "", to_db(hour), n))
                    for cause, rate in zip(CAUSES, RATES, strict=True):
                        k = sum(1 for _ in range(n) if rng.random() < rate)
                        if k:
                            rows.append((f"p:v{volume}", cause, to_db(hour), k))
                hour += HOUR
        with transaction(conn):
            conn.executemany("INSERT INTO alert_counters (scope, cause, hour, n) VALUES (?, ?, ?, ?)", rows)
        for volume, name in ((4, "quiet"), (40, "busy")):
            series = store._Series(conn, f"p:v{volume}", now - timedelta(days=36))
            before = cpu()
            for _ in range(repeats):
                for cause in CAUSES:
                    store._judge(series, cause, now, None, 0.03, params)
            out[f"us_per_judgement_{name}"] = 1e6 * (cpu() - before) / (repeats * len(CAUSES))
        conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", help="also measure the triage package of this checkout (the baseline)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--two-windows", action="store_true", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.products, args.batches, args.seed, args.two_windows)))
        return 0
    # (name, checkout, extra child arguments): this tree's statistic, the same code judging only the
    # previous two windows (what the added windows cost), and optionally another checkout.
    trees = [("this tree", str(ROOT), []), ("this tree, 24 h + 7 d only", str(ROOT), ["--two-windows"])]
    if args.tree:
        trees.append(("--tree", args.tree, []))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in trees}
    for _ in range(args.rounds):  # alternate, so a change in the machine's load hits both alike
        for name, tree, extra in trees:
            env = {**os.environ, "PYTHONPATH": tree}
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--json", "--products", str(args.products),
                 "--batches", str(args.batches), "--seed", str(args.seed), *extra],
                capture_output=True, text=True, env=env, check=True)
            results[name].append(json.loads(out.stdout))
    for name, runs in results.items():
        us = sorted(r["us_per_complaint"] for r in runs)

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return sorted(r[key] for r in runs)[len(runs) // 2]

        print(f"{name}: {us[len(us) // 2]:.1f} µs CPU per complaint review (median of {len(us)}: "
              f"{', '.join(f'{u:.1f}' for u in us)}); {runs[0]['complaints']} complaints, {runs[0]['alerts']} alerts,"
              f" {runs[0]['reviews_per_day']} reviews a day ({runs[0]['triage']}); one judgement:"
              f" {median('us_per_judgement_quiet'):.1f} µs quiet, {median('us_per_judgement_busy'):.1f} µs busy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
