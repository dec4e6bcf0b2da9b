"""Webhook latency under load: POST p50/p95 at a fixed offered rate, next to a bare Flask route.

Open loop: a batch of 100 reviews is due every 100/`--rate` seconds whatever the answers do, and
each latency is measured from the moment the request was due (so a server that falls behind is
charged for the queueing it causes, not hidden by it). The target is `triage serve --workers N`
on a fresh database, scoring and applying as it goes; the same-run baseline is a bare Flask app
(one route that parses the JSON body and answers 202) on the same werkzeug threaded server, under
the same offered load.

    .venv/bin/python bench/webhook_latency_bench.py [--rate 2000] [--seconds 15] [--runs 3] [--workers 2]
        [--variant NAME="SERVE ARGS" ...]

With `--variant` (repeatable), each run serves every variant in turn (`triage serve` with those
extra arguments and `TRIAGE_...=value` environment settings, e.g. `--variant plain="--score-nice 0
--db-nice 0 TRIAGE_APPLY_HOLD_MS=0" --variant now=""`), the same
reviews for each, so the variants are compared under the same load; the table has one column per
variant. It also reports each process role's CPU per review over the offered window (from /proc),
and the load average at the start of each run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BareFlask, Serve, cpu_delta, make_reviews, median, pct, post_reviews, tree_cpu


def offer(url: str, reviews: list[dict], rate: float, batch: int) -> list[float]:
    """Post `reviews` in batches at `rate` reviews/s; latency (s) of each, from its due time."""
    batches = [reviews[i:i + batch] for i in range(0, len(reviews), batch)]
    interval = batch / rate
    latencies: list[float] = []
    lock = threading.Lock()

    errors: list[str] = []

    def send(due: float, b: list[dict]) -> None:
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            post_reviews(url, b)
        except Exception as exc:  # counted and reported: an error is a result here, not a crash
            with lock:
                errors.append(str(exc))
            return
        with lock:
            latencies.append(time.perf_counter() - due)

    start = time.perf_counter() + 0.2
    with ThreadPoolExecutor(64) as pool:
        futures = [pool.submit(send, start + i * interval, b) for i, b in enumerate(batches)]
        for f in futures:
            f.result()
    if errors:
        print(f"{len(errors)} of {len(batches)} requests failed, e.g. {errors[0]}", file=sys.stderr)
    return latencies + [float("inf")] * len(errors)


def serve_round(args: argparse.Namespace, reviews: list[dict], extra: tuple[str, ...]) -> dict[str, float]:
    """One `triage serve` on a fresh database under the offered load: latency percentiles and CPU
    seconds per review of each process role during the offered window."""
    env = dict(a.split("=", 1) for a in extra if a.startswith("TRIAGE_"))
    argv = tuple(a for a in extra if not a.startswith("TRIAGE_"))
    with (tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp,
          Serve(Path(tmp), args.workers, argv, env) as serve):
        before = tree_cpu(serve.proc.pid)
        real = offer(serve.url, reviews, args.rate, args.batch)
        used = cpu_delta(before, tree_cpu(serve.proc.pid))
        serve.keep_log_if(any(v == float("inf") for v in real))
    row = {"p50": pct(real, 50), "p95": pct(real, 95), "max": max(real),
           "errors": sum(v == float("inf") for v in real)}
    row.update({f"cpu {role}": seconds / len(reviews) for role, seconds in used.items() if role != "other"})
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="offered reviews/s")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], metavar='NAME="ARGS"',
                        help="extra `triage serve` arguments to compare, served in turn in every run")
    args = parser.parse_args()
    if not args.variant:
        return single(args)
    variants = [(v.partition("=")[0], tuple(shlex.split(v.partition("=")[2]))) for v in args.variant]
    n = int(args.rate * args.seconds)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    bare: list[dict[str, float]] = []
    loads = []
    for run in range(1, args.runs + 1):
        loads.append(os.getloadavg()[0])
        reviews = make_reviews(n, seed=100 + run, prefix=f"lat{run}")
        with BareFlask() as server:
            base = offer(server.url, reviews, args.rate, args.batch)
        bare.append({"p50": pct(base, 50), "p95": pct(base, 95)})
        # Alternate the order between runs, so neither variant always goes first on the machine.
        for name, extra in (variants if run % 2 else variants[::-1]):
            rows[name].append(serve_round(args, reviews, extra))
            print(f"run {run} {name}: p95 {rows[name][-1]['p95'] * 1000:,.1f} ms", file=sys.stderr, flush=True)
    names = [name for name, _ in variants]
    print(f"Webhook latency: {args.rate:,.0f} reviews/s offered in batches of {args.batch} for {args.seconds:.0f} s "
          f"(open loop), `triage serve --workers {args.workers}`, fresh database; variants served in turn in each "
          f"of {args.runs} runs, medians (runs in brackets); load average (1 min) at the runs' start: "
          f"{', '.join(f'{v:.1f}' for v in loads)}\n")
    for name, extra in variants:
        print(f"- {name}: `{' '.join(['triage serve --workers', str(args.workers), *extra])}`")
    print()
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))

    def cell(values: list[float], fmt: str) -> str:
        return f"{median(values):{fmt}} ({', '.join(f'{v:{fmt}}' for v in values)})"

    for key, label in (("p50", "webhook p50 (ms)"), ("p95", "**webhook p95 (ms)**"), ("max", "webhook max (ms)")):
        print(f"| {label} | " + " | ".join(cell([r[key] * 1000 for r in rows[nm]], ",.1f") for nm in names) + " |")
    print("| failed requests | " + " | ".join(cell([r["errors"] for r in rows[nm]], ".0f") for nm in names) + " |")
    roles = sorted({k for nm in names for r in rows[nm] for k in r if k.startswith("cpu ")})
    for role in roles:
        print(f"| {role} per review (µs) | "
              + " | ".join(cell([r.get(role, 0.0) * 1e6 for r in rows[nm]], ",.0f") for nm in names) + " |")
    print("| cpu all per review (µs) | " + " | ".join(
        cell([sum(r.get(k, 0.0) for k in roles) * 1e6 for r in rows[nm]], ",.0f") for nm in names) + " |")
    print(f"\nSame-run baseline, bare Flask route: p50 {cell([b['p50'] * 1000 for b in bare], ',.1f')} ms, "
          f"p95 {cell([b['p95'] * 1000 for b in bare], ',.1f')} ms")
    return 0


def single(args: argparse.Namespace) -> int:
    n = int(args.rate * args.seconds)
    rows = []
    for run in range(1, args.runs + 1):
        reviews = make_reviews(n, seed=100 + run, prefix=f"lat{run}")
        with BareFlask() as bare:
            base = offer(bare.url, reviews, args.rate, args.batch)
        with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp, Serve(Path(tmp), args.workers) as serve:
            real = offer(serve.url, reviews, args.rate, args.batch)
            serve.keep_log_if(any(v == float("inf") for v in real))
        rows.append({"p50": pct(real, 50), "p95": pct(real, 95), "max": max(real),
                     "errors": sum(v == float("inf") for v in real),
                     "b50": pct(base, 50), "b95": pct(base, 95)})
    print(f"Webhook latency: {args.rate:,.0f} reviews/s offered in batches of {args.batch} for {args.seconds:.0f} s "
          f"(open loop), `triage serve --workers {args.workers}`, fresh database; median of {args.runs} runs\n")
    print("| measure (ms) | median | runs |")
    print("|---|---:|---|")
    for key, label in (("p50", "webhook p50"), ("p95", "**webhook p95**"), ("max", "webhook max"),
                       ("b50", "baseline: bare Flask route p50"), ("b95", "baseline: bare Flask route p95")):
        vals = [r[key] * 1000 for r in rows]
        print(f"| {label} | {median(vals):,.1f} | {', '.join(f'{v:,.1f}' for v in vals)} |")
    print(f"| failed requests (of {n // args.batch}) | {median([r['errors'] for r in rows]):.0f} | "
          f"{', '.join(str(r['errors']) for r in rows)} |")
    ratio = [r["p95"] / r["b95"] for r in rows]
    print(f"| webhook p95 / baseline p95 | {median(ratio):.1f}x | {', '.join(f'{v:.1f}' for v in ratio)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
