"""Read API latency at 1M reviews / 200k cases: `GET /api/v1/cases` (first and deep pages) and
`GET /api/v1/stats`, p50/p95 over sequential requests, next to a bare Flask route.

The database is a copy of the cached `bench/bigdb.py` build; `triage serve --workers 0` serves it
(web app + db worker, no scoring). A read-only API token is created in the copy. The same-run
baseline is a bare Flask app's GET route returning a small JSON on the same werkzeug server.

    .venv/bin/python bench/read_api_bench.py [--requests 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bigdb import cached_copy
from harness import BareFlask, Serve, get, median, pct, tree_cpu

QUERIES = (
    ("`GET /api/v1/stats`", "/api/v1/stats"),
    ("`GET /api/v1/cases?status=open` (first page, 100)", "/api/v1/cases?status=open"),
    ("`GET /api/v1/cases?status=open&offset=40000`", "/api/v1/cases?status=open&offset=40000"),
    ("`GET /api/v1/cases?offset=150000` (all statuses)", "/api/v1/cases?offset=150000"),
    ("`GET /api/v1/cases/<id>` (one case)", "/api/v1/cases/{case_id}"),
    ("`GET /api/v1/cases?sort=queue` (the agents' queue, first page)", "/api/v1/cases?sort=queue"),
    ("`GET /api/v1/cases?sort=queue&offset=40000`", "/api/v1/cases?sort=queue&offset=40000"),
)


def timed(url: str, requests: int, token: str | None = None) -> tuple[list[float], float]:
    """Latencies of `requests` sequential GETs after a first one, and that first one's (cold: the
    process has not served this query before)."""
    t0 = time.perf_counter()
    get(url, token)
    first = time.perf_counter() - t0
    out = []
    for _ in range(requests):
        t0 = time.perf_counter()
        get(url, token)
        out.append(time.perf_counter() - t0)
    return out, first


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the serving process tree, workers excluded."""
    used = tree_cpu(pid)
    return used.get("web", 0.0) + used.get("other", 0.0)


def one_run(requests: int) -> dict[str, tuple[float, float, float, float]]:
    """label -> (p50 s, p95 s, server CPU s per request, first request s)."""
    from triage.db import open_db
    from triage.tokens import create_token

    out = {}
    with BareFlask() as bare:
        cpu0 = server_cpu(bare.proc.pid)
        lat, first = timed(f"{bare.url}/bare", requests)
        out["baseline"] = (pct(lat, 50), pct(lat, 95), (server_cpu(bare.proc.pid) - cpu0) / (requests + 1), first)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        db = cached_copy(Path(tmp) / "triage.db")
        conn = open_db(db)  # later migrations run here, outside the timings
        _, token = create_token(conn, "bench")
        case_id = conn.execute("SELECT id FROM cases WHERE status = 'open' ORDER BY id DESC LIMIT 1").fetchone()[0]
        conn.close()
        with Serve(Path(tmp), 0) as serve:
            for label, path in QUERIES:
                cpu0 = server_cpu(serve.proc.pid)
                lat, first = timed(serve.url + path.format(case_id=case_id), requests, token)
                cpu = (server_cpu(serve.proc.pid) - cpu0) / (requests + 1)
                out[label] = (pct(lat, 50), pct(lat, 95), cpu, first)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.requests) for _ in range(args.runs)]
    print(f"Read API at 1,000,000 reviews / 200,000 cases: {args.requests} sequential requests per query, "
          f"median of {args.runs} runs; load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| request | p50 ms | p95 ms | p95 / baseline p95 | p95 of each run | server CPU ms per request |"
          " first request ms |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for label in ["baseline", *(q[0] for q in QUERIES)]:
        p50 = median([r[label][0] for r in runs]) * 1000
        p95s = [r[label][1] * 1000 for r in runs]
        cpu = median([r[label][2] for r in runs]) * 1000
        first = median([r[label][3] for r in runs]) * 1000
        name = "baseline: bare Flask GET route" if label == "baseline" else label
        ratio = median([r[label][1] / r["baseline"][1] for r in runs])
        print(f"| {name} | {p50:,.1f} | {median(p95s):,.1f} | {ratio:.1f}x | {', '.join(f'{v:,.1f}' for v in p95s)} |"
              f" {cpu:,.1f} | {first:,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
