"""End-to-end pipeline benchmark: `triage serve --workers N` (embedded Redis) in a temp dir.

4 concurrent signed senders post `--reviews` reviews in batches of 100; the clock runs from the
first POST until the last of them is scored (no longer pending: scores, risk and cases stored).
`--db big` starts from a copy of the 1M-review database (`bench/bigdb.py`, built once and cached)
instead of an empty one. `--backlog` measures the single writer at capacity: the db worker is
stopped (SIGSTOP, while idle) until every batch is scored and its apply job queued, then let go;
the clock and its CPU run from then until the last review is stored, so every apply finds a full
queue, as it does whenever the writer is the bottleneck. The same-run baseline is `predict_many` alone on the same texts in this
process, measured right after each run. Each run is then checked: every review stored once, at
most one active case per customer, each case review joined once.

    .venv/bin/python bench/pipeline_bench.py [--db fresh|big] [--workers 2] [--reviews 20000] [--runs 3]

Prints a markdown table (medians over the runs, and every run).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    Serve,
    cpu_delta,
    db_worker_parts,
    make_reviews,
    max_review_id,
    median,
    post_reviews,
    tree_cpu,
)


def count_pending(db_path: Path, after: int) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        total, pending = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'pending'), 0) FROM reviews WHERE id > ?", (after,)).fetchone()
        return total, pending
    finally:
        conn.close()


def verify(db_path: Path, after: int, n: int) -> dict:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        stored, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT platform || '/' || review_id) FROM reviews WHERE id > ?",
            (after,)).fetchone()
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM reviews WHERE id > ? GROUP BY status",
                                     (after,)).fetchall())
        doubled = conn.execute(
            "SELECT COUNT(*) FROM (SELECT customer_id FROM cases WHERE status NOT IN ('resolved', 'closed')"
            " GROUP BY customer_id HAVING COUNT(*) > 1)").fetchone()[0]
        linked = conn.execute("SELECT COUNT(*) FROM reviews WHERE id > ? AND case_id IS NOT NULL",
                              (after,)).fetchone()[0]
        joins = conn.execute(
            "SELECT COUNT(*) FROM case_events WHERE kind IN ('opened', 'review_added')"
            " AND json_extract(detail, '$.review_pk') > ?", (after,)).fetchone()[0]
    finally:
        conn.close()
    return {"stored_once": stored == distinct == n, "statuses": statuses,
            "one_case_per_customer": doubled == 0, "case_reviews_once": linked == joins}


def predict_baseline(texts: list[str], batch: int) -> float:
    from classifier import get_classifier

    model = get_classifier()
    model.predict_many(texts[:10])  # warm: the tokenizer dictionary loads on first use
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.predict_many(texts[i:i + batch])
    return len(texts) / (time.perf_counter() - t0)


def db_worker_group(root: int) -> int:
    from harness import _proc_table

    table = _proc_table()
    (pid,) = [pid for pid, (ppid, _, role) in table.items() if role == "db worker" and ppid == root]
    return os.getpgid(pid)


def wait_for_scoring(redis_url: str, jobs: int) -> None:
    """Until every score job has finished (each queued its apply job before finishing)."""
    from triage.redis_conn import connect_redis

    conn = connect_redis(redis_url)
    deadline = time.monotonic() + 900
    while conn.zcard("rq:finished:score") < jobs:
        if time.monotonic() > deadline:
            raise SystemExit("scoring did not finish")
        time.sleep(0.1)
    conn.close()


def one_run(kind: str, workers: int, n: int, senders: int, batch: int, seed: int, backlog: bool = False,
            extra: tuple[str, ...] = ()) -> dict:
    reviews = make_reviews(n, seed=seed, prefix=f"e2e{seed}")
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        workdir = Path(tmp)
        if kind == "big":
            from bigdb import cached_copy

            cached_copy(workdir / "triage.db")
        env = dict(a.split("=", 1) for a in extra if a.startswith("TRIAGE_"))
        with Serve(workdir, workers, tuple(a for a in extra if not a.startswith("TRIAGE_")), env) as serve:
            time.sleep(2)  # let start-up work (recovery of the copy's pending reviews) settle
            after = max_review_id(serve.db_path)
            batches = [reviews[i:i + batch] for i in range(0, n, batch)]
            if backlog:
                group = db_worker_group(serve.proc.pid)
                os.killpg(group, signal.SIGSTOP)
            cpu0, parts0 = tree_cpu(serve.proc.pid), db_worker_parts(serve.proc.pid)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(senders) as pool:
                answers = list(pool.map(lambda b: post_reviews(serve.url, b), batches))
            t_ingested = time.perf_counter() - t0
            if backlog:
                wait_for_scoring(serve.redis_url, math.ceil(n / batch))
                cpu0, parts0 = tree_cpu(serve.proc.pid), db_worker_parts(serve.proc.pid)
                t0 = time.perf_counter()
                os.killpg(group, signal.SIGCONT)
            while True:
                total, pending = count_pending(serve.db_path, after)
                if total >= n and pending == 0:
                    break
                if time.perf_counter() - t0 > 900:
                    raise SystemExit(f"timed out with {pending} pending")
                time.sleep(0.02)
            t_scored = time.perf_counter() - t0
            cpu = cpu_delta(cpu0, tree_cpu(serve.proc.pid))
            parts = cpu_delta(parts0, db_worker_parts(serve.proc.pid))
            checks = verify(serve.db_path, after, n)
    accepted = sum(a["accepted"] for a in answers)
    baseline = predict_baseline([r["text"] for r in reviews], batch)
    return {"accepted": accepted, "ingest_rate": n / t_ingested, "e2e_rate": n / t_scored,
            "baseline": baseline, "cpu_us": {k: v / n * 1e6 for k, v in cpu.items()},
            "parts_us": {k: v / n * 1e6 for k, v in parts.items()}, **checks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("fresh", "big"), default="fresh")
    parser.add_argument("--workers", type=int, default=2, help="scoring workers (`triage serve --workers`)")
    parser.add_argument("--reviews", type=int, default=20000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backlog", action="store_true",
                        help="hold the db worker until all is scored, then time and count it alone")
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="ARGS"',
                        help="`triage serve` arguments and TRIAGE_...=value settings to compare, in turn in each run")
    args = parser.parse_args()
    if args.variant:
        return compare(args)
    runs = [one_run(args.db, args.workers, args.reviews, args.senders, args.batch, seed, args.backlog)
            for seed in range(1, args.runs + 1)]
    e2e = median([r["e2e_rate"] for r in runs])
    base = median([r["baseline"] for r in runs])
    ratio = median([r["e2e_rate"] / r["baseline"] for r in runs])
    db = "fresh database" if args.db == "fresh" else "1M reviews / 200k cases database"
    print(f"Pipeline benchmark: {args.reviews} reviews, {args.senders} signed senders, batches of {args.batch}, "
          f"`triage serve --workers {args.workers}`, {db}, {os.cpu_count()} CPUs, median of {args.runs} runs"
          + (" — backlog: the db worker held until all was scored; rates and CPU from its release" if args.backlog
             else "") + "\n")
    print("| measure | median | runs |")
    print("|---|---:|---|")
    fmt = lambda key: ", ".join(f"{r[key]:,.0f}" for r in runs)  # noqa: E731
    print(f"| all 202s received (reviews/s) | {median([r['ingest_rate'] for r in runs]):,.0f} | {fmt('ingest_rate')} |")
    print(f"| **end to end (reviews/s)** | **{e2e:,.0f}** | {fmt('e2e_rate')} |")
    print(f"| baseline: `predict_many` alone, batches of {args.batch} (reviews/s) | {base:,.0f} | {fmt('baseline')} |")
    ratios = ", ".join(f"{r['e2e_rate'] / r['baseline']:.2f}" for r in runs)
    print(f"| end to end / baseline | {ratio:.2f} | {ratios} |")
    roles = sorted({k for r in runs for k in r["cpu_us"]} - {"other"})
    for role in roles:
        vals = [r["cpu_us"].get(role, 0.0) for r in runs]
        print(f"| CPU per review, {role} (µs) | {median(vals):,.0f} | {', '.join(f'{v:,.0f}' for v in vals)} |")
        if role == "db worker":
            for part in sorted({k for r in runs for k in r["parts_us"]}):
                vals = [r["parts_us"].get(part, 0.0) for r in runs]
                print(f"| — {part} (µs) | {median(vals):,.0f} | {', '.join(f'{v:,.0f}' for v in vals)} |")
    totals = [sum(v for k, v in r["cpu_us"].items() if k != "other") for r in runs]
    print(f"| CPU per review, all processes (µs) | {median(totals):,.0f} | {', '.join(f'{v:,.0f}' for v in totals)} |")
    print(f"| 2-core ceiling from CPU per review (reviews/s) | {2e6 / median(totals):,.0f} | |")
    ok = all(r["stored_once"] and r["one_case_per_customer"] and r["case_reviews_once"]
             and r["statuses"] == {"scored": args.reviews} for r in runs)
    print(f"| checks (stored once, one active case per customer, joins once, all scored) | "
          f"{'pass' if ok else 'FAIL'} | {[r['statuses'] for r in runs]} |")
    return 0 if ok else 1


def compare(args: argparse.Namespace) -> int:
    """Each run serves every `--variant` in turn (order alternating between runs) on the same reviews."""
    import shlex

    variants = [(v.partition("=")[0], tuple(shlex.split(v.partition("=")[2]))) for v in args.variant]
    rows: dict[str, list[dict]] = {name: [] for name, _ in variants}
    loads = []
    for seed in range(1, args.runs + 1):
        loads.append(os.getloadavg()[0])
        for name, extra in (variants if seed % 2 else variants[::-1]):
            rows[name].append(one_run(args.db, args.workers, args.reviews, args.senders, args.batch, seed,
                                      args.backlog, extra))
    names = [name for name, _ in variants]
    print(f"Pipeline benchmark, variants in turn: {args.reviews} reviews, {args.senders} senders, batches of "
          f"{args.batch}, `triage serve --workers {args.workers}`, {args.db} database"
          + (", backlog (the db worker alone at capacity)" if args.backlog else "")
          + f"; medians of {args.runs} runs (runs in brackets); load average at the runs' start: "
          + ", ".join(f"{v:.1f}" for v in loads) + "\n")
    for name, extra in variants:
        print(f"- {name}: `{' '.join(['triage serve --workers', str(args.workers), *extra])}`")
    print("\n| measure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))

    def cell(values: list[float], fmt: str = ",.0f") -> str:
        return f"{median(values):{fmt}} ({', '.join(f'{v:{fmt}}' for v in values)})"

    measures = [("end to end (reviews/s)", lambda r: r["e2e_rate"], ",.0f"),
                ("same-run `predict_many` baseline (reviews/s)", lambda r: r["baseline"], ",.0f"),
                ("end to end / baseline", lambda r: r["e2e_rate"] / r["baseline"], ".2f")]
    roles = sorted({k for nm in names for r in rows[nm] for k in r["cpu_us"]} - {"other"})
    measures += [(f"CPU per review, {role} (µs)", lambda r, role=role: r["cpu_us"].get(role, 0.0), ",.0f")
                 for role in roles]
    measures.append(("CPU per review, all (µs)",
                     lambda r: sum(v for k, v in r["cpu_us"].items() if k != "other"), ",.0f"))
    for label, get, fmt in measures:
        print(f"| {label} | " + " | ".join(cell([get(r) for r in rows[nm]], fmt) for nm in names) + " |")
    ok = all(r["stored_once"] and r["one_case_per_customer"] and r["case_reviews_once"]
             and r["statuses"] == {"scored": args.reviews} for nm in names for r in rows[nm])
    print("| checks (stored once, one active case per customer, joins once, all scored) | "
          + " | ".join("pass" if ok else "FAIL" for _ in names) + " |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
