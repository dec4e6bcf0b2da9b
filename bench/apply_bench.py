"""The db worker's share: applying scored batches of 100 (risk, cases, events, clocks), in process.

The single writer bounds the whole pipeline, so its cost per review is the figure that says how
far one database host goes. Reviews are stored with the real ingest, scored once by the real model
(outside the clock, by the scoring job's own `score_items`, so the results carry what a scoring
worker ships: serialised JSON columns, text fingerprints, complaint spans), then applied in
batches of 100 with `triage.apply.apply_results` on a connection of the db worker's kind. Same-run baseline, on the same database: the least any apply
could do, one `UPDATE reviews SET status = 'scored' WHERE id IN (...)` per batch of 100 in its own
transaction (on a second set of reviews).

    .venv/bin/python bench/apply_bench.py [--db fresh|big] [--reviews 5000] [--runs 3] [--batch 100]

`--batch 500` applies five scoring batches per transaction, as the db worker does when apply jobs
are queued behind the one it runs (`triage.jobs.database.apply_scores`). `--profile FILE` writes
a cProfile of the applies (CPU clock).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, make_reviews, median

sys.path.insert(0, str(ROOT))

from triage import db as triage_db
from triage.apply import apply_results
from triage.ingest import ingest
from triage.sla import default_policy
from triage.validation import validate_batch

try:
    from triage.jobs.scoring import score_items
except ImportError:  # code from before the jobs package
    score_items = None


def open_apply_conn(path: Path):
    try:
        return triage_db.open_db(path, role="apply")
    except TypeError:  # code from before connection roles
        return triage_db.open_db(path)


def one_run(kind: str, n: int, seed: int, per_tx: int = 100, profile: str | None = None) -> dict:
    from classifier import get_classifier

    model = get_classifier()
    raws = make_reviews(2 * n, seed=seed, prefix=f"apply{seed}")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        path = Path(tmp) / "triage.db"
        if kind == "big":
            from bigdb import cached_copy

            cached_copy(path)
        conn = open_apply_conn(path)
        pks = []
        for i in range(0, 2 * n, 100):
            result = ingest(conn, validate_batch(raws[i:i + 100]), datetime.now(UTC))
            pks += [o.pk for o in result.reviews]
        work, floor = pks[:n], pks[n:]
        texts = {pk: raw["text"] for pk, raw in zip(pks, raws, strict=True)}
        batches = []
        for i in range(0, n, 100):
            chunk = work[i:i + 100]
            if score_items is not None:  # exactly what a scoring worker ships to the db worker
                batches.append(score_items([[pk, texts[pk]] for pk in chunk]))
                continue
            predictions = model.predict_many([texts[pk] for pk in chunk])
            batches.append([{"pk": pk, "model_version": model.version, **p.to_json()}
                            for pk, p in zip(chunk, predictions, strict=True)])
        policy = default_policy()
        group = max(per_tx // 100, 1)
        batches = [[r for b in batches[i:i + group] for r in b] for i in range(0, len(batches), group)]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
        t0 = time.perf_counter()
        c0 = time.process_time()
        for batch in batches:
            apply_results(conn, batch, now=datetime.now(UTC), policy=policy, ltv_threshold=2000.0)
        apply_s, apply_cpu = time.perf_counter() - t0, time.process_time() - c0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        t0 = time.perf_counter()
        for i in range(0, n, 100):
            chunk = floor[i:i + 100]
            with triage_db.transaction(conn):
                conn.execute(f"UPDATE reviews SET status = 'scored' WHERE id IN ({','.join('?' * len(chunk))})",
                             chunk)
        floor_s = time.perf_counter() - t0
        conn.close()
    return {"apply_us": apply_s / n * 1e6, "apply_cpu_us": apply_cpu / n * 1e6, "floor_us": floor_s / n * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("fresh", "big"), default="fresh")
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100, help="results per transaction (multiples of 100)")
    parser.add_argument("--profile", help="write a cProfile of the applies here")
    args = parser.parse_args()
    runs = [one_run(args.db, args.reviews, seed, args.batch, args.profile) for seed in range(1, args.runs + 1)]
    db = "fresh database" if args.db == "fresh" else "1M reviews / 200k cases"
    print(f"Apply benchmark: {args.reviews} reviews, {args.batch} per transaction (scored in batches of 100), {db},"
          f" median of {args.runs} runs\n")
    print("| measure | median | runs |")
    print("|---|---:|---|")
    for key, label in (("apply_us", "apply, wall µs per review"), ("apply_cpu_us", "apply, CPU µs per review"),
                       ("floor_us", "baseline: one bare UPDATE per batch, wall µs per review")):
        vals = [r[key] for r in runs]
        print(f"| {label} | {median(vals):,.0f} | {', '.join(f'{v:,.0f}' for v in vals)} |")
    ratios = [r["apply_us"] / r["floor_us"] for r in runs]
    print(f"| apply / baseline | {median(ratios):.1f}x | {', '.join(f'{v:.1f}' for v in ratios)} |")
    print(f"| one db worker's ceiling (reviews/s, wall) | {1e6 / median([r['apply_us'] for r in runs]):,.0f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
