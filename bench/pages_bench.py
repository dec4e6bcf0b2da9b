"""Benchmark: the agents' pages on a big database, through the real app over HTTP.

    .venv/bin/python bench/pages_bench.py [--requests 200] [--reviews 1000000] [--cases 200000]

Takes a private copy of `bench/bigdb.py`'s cached database (1,000,000 reviews, 200,000 cases of
which ~55,000 are active; built on first use), opens it with the real app (`web.create_app`, all
migrations applied, the CSP and session machinery in the path) behind Werkzeug's threaded server
on 127.0.0.1, signs an agent in, and times sequential keep-alive GETs of:

- `/queue` (the first page, queue order), `/queue?...` filtered (cause + priority, and
  unassigned + category), a deep keyset page, the polled `/queue/rows` and `/queue/counts`;
- `/cases/<id>` for different active cases (customer, reviews, highlights, handbook, timeline);

and, in the same run, the same server stack serving a bare Flask page (`return "ok"`): the
baseline. Prints a markdown table (p50, p95, ratio of p95 to the baseline's p95).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigdb import cached_copy  # noqa: E402

TARGET_P95_MS = 150.0


class Client:
    """A keep-alive HTTP client with a cookie jar of one session cookie."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict[str, str]]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("triage_session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, data, dict(response.getheaders())


def serve(app) -> tuple[object, int]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def timed(client: Client, paths: list[str], n: int) -> list[float]:
    times = []
    for i in range(n):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        status, _, _ = client.request("GET", path)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    args = parser.parse_args()

    from flask import Flask

    from triage.agents import add_agent
    from triage.config import Settings
    from triage.db import open_db
    from web import create_app

    work = Path(tempfile.mkdtemp(prefix="pages-bench-"))
    db_path = cached_copy(work / "triage.db", args.reviews, args.cases)
    t0 = time.perf_counter()
    conn = open_db(db_path)  # applies migrations newer than the cached build
    migrated = time.perf_counter() - t0
    add_agent(conn, "bench.agent", "bench-password", "agent", display_name="压测客服")
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("reviews", "cases")}
    active_ids = [r[0] for r in conn.execute(
        "SELECT id FROM cases WHERE status IN ('open', 'claimed', 'contacted', 'waiting_customer')")]
    category = conn.execute("SELECT category FROM cases WHERE category IS NOT NULL LIMIT 1").fetchone()[0]
    conn.close()
    print(f"database: {counts['reviews']:,} reviews, {counts['cases']:,} cases ({len(active_ids):,} active); "
          f"migrations on open {migrated:.1f} s", file=sys.stderr)

    settings = Settings.from_env({"TRIAGE_DB": str(db_path), "TRIAGE_SECRET_KEY": "bench",
                                  "TRIAGE_WEBHOOK_SECRET": "bench"}, var_dir=work / "var")
    server, port = serve(create_app(settings))
    print("app started; signing in and walking the keyset pages ...", file=sys.stderr, flush=True)
    bare = Flask("bare")
    bare.add_url_rule("/", "index", lambda: "ok")
    bare_server, bare_port = serve(bare)

    client = Client(port)
    _, html, _ = client.request("GET", "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    status, _, _ = client.request("POST", "/login", urlencode(
        {"username": "bench.agent", "password": "bench-password", "csrf_token": token}))
    assert status == 302, status
    client.request("GET", "/queue")
    deep = "/queue"
    for _ in range(20):  # follow the keyset links twenty pages deep
        _, page, _ = client.request("GET", deep)
        found = re.search(r'href="([^"]+)" rel="next"', page)
        if not found:
            break
        deep = found.group(1).replace("&amp;", "&")

    rng = random.Random(7)
    case_paths = [f"/cases/{i}" for i in rng.sample(active_ids, min(len(active_ids), args.requests))]
    filtered = "/queue?" + urlencode({"cause": "logistics", "priority": "P2"})
    filtered2 = "/queue?" + urlencode({"assignee": "unassigned", "category": category})
    pages = [
        ("bare Flask page (baseline)", None, ["/"]),
        ("/queue (first page)", port, ["/queue"]),
        ("/queue?cause=logistics&priority=P2", port, [filtered]),
        (f"/queue?assignee=unassigned&category={category}", port, [filtered2]),
        ("/queue, 21st keyset page", port, [deep]),
        ("/queue/rows (htmx poll)", port, ["/queue/rows"]),
        ("/queue/counts (htmx poll)", port, ["/queue/counts"]),
        ("/cases/<id> (different active cases)", port, case_paths),
    ]
    bare_client = Client(bare_port)
    results = []
    for name, which, paths in pages:
        c = bare_client if which is None else client
        timed(c, paths, 5)  # warm up: connection, caches, first template compile
        cpu0 = time.process_time()
        times = timed(c, paths, args.requests)
        cpu = (time.process_time() - cpu0) * 1000 / args.requests
        results.append((name, statistics.median(times), p95(times), cpu))
        print(f"{name}: p50 {results[-1][1]:.1f} ms, p95 {results[-1][2]:.1f} ms", file=sys.stderr, flush=True)
    base = results[0][2]
    print(f"\n{args.requests} sequential requests each, same server stack (Werkzeug threaded, keep-alive); "
          f"{counts['reviews']:,} reviews, {counts['cases']:,} cases, {len(active_ids):,} active; "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| page | p50 ms | p95 ms | p95 / baseline p95 | p95 < 150 ms | CPU ms per request (client + server) |")
    print("|---|---:|---:|---:|:---:|---:|")
    for name, p50, p95_ms, cpu in results:
        ok = "—" if name.startswith("bare") else ("yes" if p95_ms < TARGET_P95_MS else "**no**")
        print(f"| {name} | {p50:.1f} | {p95_ms:.1f} | {p95_ms / base:.1f}× | {ok} | {cpu:.1f} |")
    server.shutdown()
    bare_server.shutdown()
    for path in work.glob("triage.db*"):
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
