"""Shared pieces of the service benchmarks: a `triage serve` in a temp dir, signed senders, a bare
Flask baseline server, percentiles. Not a test helper: benchmarks stay out of the test suite."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.signing import sign  # noqa: E402

SECRET = "bench-webhook-secret"
PLATFORMS = ("taobao", "jd", "pinduoduo", "douyin")


def texts_and_labels() -> list[tuple[str, str]]:
    rows = []
    for path in sorted((ROOT / "labels").glob("own_examples*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                rows.append((item["text"], item.get("sentiment", "positive")))
    if not rows:
        raise SystemExit("no texts: labels/own_examples*.jsonl not found")
    return rows


def make_reviews(n: int, seed: int = 7, prefix: str = "bench") -> list[dict]:
    """`n` webhook review objects: about three per customer, so cases are joined as well as opened."""
    rng = random.Random(seed)
    corpus = texts_and_labels()
    customers = max(n // 3, 1)
    ltv = {c: round(rng.lognormvariate(6.5, 1.2), 2) for c in range(customers)}
    now = datetime.now(UTC)
    reviews = []
    for i in range(n):
        text, sentiment = corpus[i % len(corpus)]
        rating = rng.choice((1, 1, 2, 2, 3, 5)) if sentiment == "negative" else rng.choice((4, 5, 5, 5))
        customer = rng.randrange(customers)
        reviews.append({
            "review_id": f"{prefix}-{i:07d}",
            "platform": PLATFORMS[i % len(PLATFORMS)],
            "text": text,
            "rating": rating,
            "customer_id": f"{prefix}-cust-{customer:06d}",
            "customer_ltv": ltv[customer],
            "product_id": f"sku-{rng.randrange(200):04d}",
            "category": rng.choice(("服装", "家用电器", "食品", "美妆个护", "数码配件")),
            "created_at": (now - timedelta(minutes=rng.randrange(60 * 24 * 30))).isoformat(timespec="seconds"),
        })
    return reviews


class Serve:
    """`triage serve --workers N` on an ephemeral port with its own embedded Redis, in `workdir`."""

    def __init__(self, workdir: Path, workers: int, extra_args: tuple[str, ...] = (),
                 extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.db_path = workdir / "triage.db"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRIAGE_SLA_POLICY")}
        env.update(TRIAGE_DB=str(self.db_path), TRIAGE_VAR_DIR=str(workdir / "var"),
                   TRIAGE_WEBHOOK_SECRET=SECRET, PYTHONUNBUFFERED="1")
        env.update(extra_env or {})
        self.log = open(workdir / "serve.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "triage", "serve", "--port", "0", "--workers", str(workers), "--no-demo",
             *extra_args],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        self.url = self.redis_url = None
        deadline = time.monotonic() + 300
        while (self.url is None or self.redis_url is None) and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"triage serve exited; see {workdir / 'serve.log'}")
            if m := re.search(r"serving on (http://\S+)", line):
                self.url = m.group(1)
            if m := re.search(r"Redis: embedded \((\S+)\)", line):
                self.redis_url = m.group(1)
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep draining the pipe
        self.wait_for_workers(workers + 1)

    def wait_for_workers(self, expected: int, timeout: float = 120.0) -> None:
        from rq import Worker

        from triage.redis_conn import connect_redis

        conn = connect_redis(self.redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # A scoring worker registers only after loading the model, so "registered" means "warm".
            if len(Worker.all(connection=conn)) >= expected:
                return
            time.sleep(0.1)
        raise SystemExit("workers did not start")

    def keep_log_if(self, condition: bool) -> None:
        """Copy serve.log to var/bench/ (the temp dir goes away) when `condition` holds."""
        if condition:
            self.log.flush()
            kept = ROOT / "var" / "bench" / f"serve-{int(time.time())}.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes((self.workdir / "serve.log").read_bytes())
            print(f"serve log kept: {kept}", file=sys.stderr)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self) -> Serve:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def post_reviews(url: str, batch: list[dict]) -> dict:
    body = json.dumps({"reviews": batch}, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", **sign(body, SECRET)}
    request = urllib.request.Request(f"{url}/api/v1/webhooks/reviews", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 202:
            raise RuntimeError(f"HTTP {response.status}")
        return json.loads(response.read())


def get(url: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
        return response.read()


def max_review_id(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM reviews").fetchone()[0]
    finally:
        conn.close()


class BareFlask:
    """The latency baseline: a Flask app with one route that reads the body and answers 202 JSON
    (and a GET that answers a small JSON), on werkzeug's threaded server like `triage serve`."""

    SCRIPT = r"""
import json, logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from flask import Flask, jsonify, request
from werkzeug.serving import make_server
app = Flask("bare")
@app.post("/api/v1/webhooks/reviews")
def hook():
    body = json.loads(request.get_data())
    n = len(body.get("reviews", [body]))
    return jsonify({"accepted": n, "duplicates": 0}), 202
@app.get("/bare")
def bare():
    return jsonify({"reviews": {"total": 1}, "cases": {"open": 1}})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(f"http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
"""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT], stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> BareFlask:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds used, role label) for every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        if "redis-server" in cmd:
            role = "redis"
        elif "--role score" in cmd:
            role = "score workers"
        elif "--role db" in cmd:
            role = "db worker"
        elif " serve " in cmd or " web --fd " in cmd:  # `triage serve` runs the web app as `triage web --fd N`
            role = "web"
        else:
            role = "other"
        table[int(entry)] = (ppid, (utime + stime) / _TICK, role)
    return table


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds used so far by `root` and its descendants, by role. CPU time, unlike wall
    time, barely moves with other load on a shared machine, so per-review CPU is the steady figure."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            _, cpu, role = table[pid]
            out[role] = out.get(role, 0.0) + cpu
        stack.extend(children.get(pid, []))
    return out


def _thread_cpu(pid: int) -> dict[int, float]:
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def db_worker_parts(root: int) -> dict[str, float]:
    """The db worker's CPU seconds so far, split: its job thread (the main thread, where rq runs
    the jobs), its other threads (the recovery/SLA sweeper), and its child processes (rq's
    scheduler, forked at start)."""
    table = _proc_table()
    out = {"db worker: job thread": 0.0, "db worker: other threads": 0.0, "db worker: scheduler process": 0.0}
    for pid, (ppid, cpu, role) in table.items():
        if role != "db worker":
            continue
        if table.get(ppid, (0, 0.0, ""))[2] == "db worker":
            out["db worker: scheduler process"] += cpu
            continue
        for tid, used in _thread_cpu(pid).items():
            out["db worker: job thread" if tid == pid else "db worker: other threads"] += used
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(set(before) | set(after))}
