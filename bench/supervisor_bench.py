"""The supervisors' board and the CS metrics at 1M reviews / 200k cases: p50/p95 over sequential
requests, next to a bare Flask route in the same run.

The database is a copy of the cached `bench/bigdb.py` build (55,000 active cases, 145,000 resolved
or closed over the year, 40 agents). In the copy, before timing: the 40 agents get accounts and a
shift (half 白班, half 夜班), and a supervisor gets a login and an API token acting as them.
`triage serve --workers 0` serves it (web app + db worker, no scoring), as in `read_api_bench.py`.

Timed, each after one warm-up request:
- the whole board as a browser loads it: the page `/supervisor` (a frame since the parts load
  themselves), then its three parts (workload and unassigned, urgent list, 7-day metrics) fetched
  side by side, until the last one has answered; then the frame alone and each part alone;
- the 12-week metrics: `/supervisor/metrics?period=84d` and `GET /api/v1/metrics/cs` for 84 days,
  by agent and by shift;
- a bulk-reassignment preview (`/supervisor/preview?assignee=-&priority=P1`);
- the 12-week API by agent again, with one case of today and one of a random earlier day touched
  before each request (outside the timing), so two days' figures are recomputed every time.

The first request of each row is timed apart ("first request"): for the 12-week rows it is the
cold one, before the metrics' day cache holds the period (`/supervisor/metrics?period=84d` comes
first, so its first request is the cold 12-week figure).

    .venv/bin/python bench/supervisor_bench.py [--requests 100] [--runs 3]

`TRIAGE_BENCH_DIR` points at an existing cached build to skip building one.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import random
import re
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bigdb import AGENTS, cached_copy
from harness import BareFlask, Serve, get, median, pct

from triage.timeutil import to_db

SUPERVISOR = ("bench.supervisor", "bench-password-1")


def queries() -> list[tuple[str, str, str]]:
    """(label, path, how: 'session' or 'token')."""
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    first = today - timedelta(days=83)
    cs = f"/api/v1/metrics/cs?from={first}&to={today}"
    return [
        ("whole board as a browser loads it: the frame, then its 3 parts at once (until the last answers)",
         "/supervisor", "board"),
        ("`GET /supervisor` (the frame alone)", "/supervisor", "session"),
        ("`GET /supervisor/workload` (part)", "/supervisor/workload", "session"),
        ("`GET /supervisor/urgent` (part)", "/supervisor/urgent", "session"),
        ("`GET /supervisor/metrics?period=84d` (12 weeks, part)", "/supervisor/metrics?period=84d", "session"),
        ("`GET /api/v1/metrics/cs` 12 weeks, group_by=agent", cs + "&group_by=agent", "token"),
        ("`GET /api/v1/metrics/cs` 12 weeks, group_by=shift", cs + "&group_by=shift", "token"),
        ("`GET /api/v1/metrics/cs` 12 weeks, by agent, 2 days changed before each request", cs + "&group_by=agent",
         "token+changes"),
        ("`GET /supervisor/preview?assignee=-&priority=P1` (bulk preview)", "/supervisor/preview?assignee=-&priority=P1",
         "session"),
    ]


def prepare(db: Path) -> str:
    """Accounts, shifts and a supervisor's token in the copy; returns the token."""
    from triage.agents import add_agent
    from triage.db import open_db
    from triage.timeutil import to_db
    from triage.tokens import create_token

    conn = open_db(db)  # later migrations (020's indexes among them) run here, outside the timings
    stamp = to_db(datetime.now(UTC))
    conn.execute("BEGIN")
    for i, name in enumerate(AGENTS):
        conn.execute(
            "INSERT OR IGNORE INTO agents (username, password_hash, role, created_at, shift)"
            " VALUES (?, 'pbkdf2:sha256:1$x$y', 'agent', ?, ?)",
            (name, stamp, "白班" if i % 2 == 0 else "夜班"),
        )
    conn.execute("COMMIT")
    add_agent(conn, *SUPERVISOR, role="supervisor")
    _, token = create_token(conn, "bench", agent=SUPERVISOR[0])
    conn.close()
    return token


class Session:
    """A signed-in browser stand-in: a cookie jar and the login form's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        html = self.opener.open(f"{base}/login").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        data = urllib.parse.urlencode({"username": SUPERVISOR[0], "password": SUPERVISOR[1],
                                       "csrf_token": csrf}).encode()
        self.opener.open(f"{base}/login", data=data).read()

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=60) as response:
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            return response.read()


BOARD_PARTS = ("/supervisor/workload", "/supervisor/urgent", "/supervisor/metrics?period=7d")


def load_board(session: Session) -> None:
    """What a browser does: the page, then the parts its htmx ``load`` triggers fetch side by side."""
    session.get("/supervisor")
    with ThreadPoolExecutor(len(BOARD_PARTS)) as pool:
        list(pool.map(session.get, BOARD_PARTS))


def touch_two_days(db: Path, rng: random.Random) -> None:
    """Bump one case opened today and one opened on a random day of the last 12 weeks, as live work
    would: the metrics must recompute those two days (the day cache's counters move), while the
    figures stay the same (``assignee = assignee`` fires the triggers and changes nothing)."""
    now = datetime.now(UTC)
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            for since in (now - timedelta(hours=12), now - timedelta(days=rng.randrange(1, 84))):
                conn.execute("UPDATE cases SET assignee = assignee WHERE id = (SELECT id FROM cases"
                             " WHERE opened_at >= ? ORDER BY opened_at LIMIT 1)", (to_db(since),))
    finally:
        conn.close()


def timed(fetch, requests: int, before=None) -> tuple[float, list[float]]:
    """(the first request's latency, the next `requests` latencies). The first request is the
    cold one: the first after the server started to ask for that period (empty day cache)."""
    t0 = time.perf_counter()
    fetch()
    first = time.perf_counter() - t0
    out = []
    for _ in range(requests):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fetch()
        out.append(time.perf_counter() - t0)
    return first, out


def one_run(requests: int) -> dict[str, tuple[float, float]]:
    out = {}
    with BareFlask() as bare:
        first, lat = timed(lambda: get(f"{bare.url}/bare"), requests)
        out["baseline"] = (pct(lat, 50), pct(lat, 95), first)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        db = cached_copy(Path(tmp) / "triage.db")
        token = prepare(db)
        with Serve(Path(tmp), 0) as serve:
            session = Session(serve.url)
            rng = random.Random(7)
            for label, path, how in queries():
                if how == "board":
                    first, lat = timed(lambda: load_board(session), requests)
                elif how == "session":
                    first, lat = timed(lambda p=path: session.get(p), requests)
                elif how == "token":
                    first, lat = timed(lambda p=path: get(serve.url + p, token), requests)
                else:
                    first, lat = timed(lambda p=path: get(serve.url + p, token), requests,
                                       before=lambda: touch_two_days(db, rng))
                out[label] = (pct(lat, 50), pct(lat, 95), first)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args.requests) for _ in range(args.runs)]
    print(f"Supervisor board and CS metrics at 1,000,000 reviews / 200,000 cases: {args.requests} sequential "
          f"requests per row, median of {args.runs} runs\n")
    print("| request | p50 ms | p95 ms | p95 / baseline p95 | p95 of each run | first request of each run ms |")
    print("|---|---:|---:|---:|---|---|")
    for label in ["baseline", *(q[0] for q in queries())]:
        p50 = median([r[label][0] for r in runs]) * 1000
        p95s = [r[label][1] * 1000 for r in runs]
        name = "baseline: bare Flask GET route" if label == "baseline" else label
        ratio = median([r[label][1] / r["baseline"][1] for r in runs])
        firsts = ", ".join(f"{r[label][2] * 1000:,.0f}" for r in runs)
        print(f"| {name} | {p50:,.1f} | {median(p95s):,.1f} | {ratio:.1f}x | {', '.join(f'{v:,.1f}' for v in p95s)}"
              f" | {firsts} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
