"""End-to-end pipeline benchmark: `triage serve` (embedded Redis, 1 scoring worker) in a temp dir.

4 concurrent signed senders post 3,000 reviews in batches of 100; the clock runs from the first
POST until the last review is scored (status no longer pending, scores and cases stored). The
same-run baseline is `predict_many` alone on the same texts in this process. Then the results
are checked: every review stored once, and at most one active case per customer.

    .venv/bin/python bench/pipeline_bench.py [--reviews 3000] [--senders 4] [--batch 100]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
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


def make_reviews(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    corpus = texts_and_labels()
    customers = max(n // 3, 1)  # about three reviews per customer: repeats and joins happen
    ltv = {c: round(rng.lognormvariate(6.5, 1.2), 2) for c in range(customers)}
    now = datetime.now(UTC)
    reviews = []
    for i in range(n):
        text, sentiment = corpus[i % len(corpus)]
        if sentiment == "negative":
            rating = rng.choice((1, 1, 2, 2, 3, 5))  # one in six a hidden complainer
        else:
            rating = rng.choice((4, 5, 5, 5))
        customer = rng.randrange(customers)
        reviews.append({
            "review_id": f"bench-{i:06d}",
            "platform": PLATFORMS[i % len(PLATFORMS)],
            "text": text,
            "rating": rating,
            "customer_id": f"cust-{customer:05d}",
            "customer_ltv": ltv[customer],
            "product_id": f"sku-{rng.randrange(200):04d}",
            "category": rng.choice(("服装", "家用电器", "食品", "美妆个护", "数码配件")),
            "created_at": (now - timedelta(minutes=rng.randrange(60 * 24 * 30))).isoformat(timespec="seconds"),
        })
    return reviews


def start_serve(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TRIAGE_SLA_POLICY")}
    env.update(TRIAGE_DB=str(workdir / "triage.db"), TRIAGE_VAR_DIR=str(workdir / "var"),
               TRIAGE_WEBHOOK_SECRET=SECRET, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "triage", "serve", "--port", "0", "--workers", "1", "--no-demo"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=open(workdir / "serve.log", "w"), text=True,
    )
    url = redis_url = None
    deadline = time.monotonic() + 60
    while (url is None or redis_url is None) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"triage serve exited; see {workdir / 'serve.log'}")
        if m := re.search(r"serving on (http://\S+)", line):
            url = m.group(1)
        if m := re.search(r"Redis: embedded \((\S+)\)", line):
            redis_url = m.group(1)
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining the pipe
    return proc, url, redis_url


def wait_for_workers(redis_url: str, expected: int, timeout: float = 60.0) -> None:
    from rq import Worker

    from triage.redis_conn import connect_redis

    conn = connect_redis(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A scoring worker registers only after loading the model, so "registered" means "warm".
        if len(Worker.all(connection=conn)) >= expected:
            return
        time.sleep(0.1)
    raise SystemExit("workers did not start")


def post(url: str, batch: list[dict]) -> dict:
    body = json.dumps({"reviews": batch}, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", **sign(body, SECRET)}
    request = urllib.request.Request(f"{url}/api/v1/webhooks/reviews", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 202:
            raise RuntimeError(f"HTTP {response.status}")
        return json.loads(response.read())


def count_pending(db_path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        total, pending = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'pending'), 0) FROM reviews").fetchone()
        return total, pending
    finally:
        conn.close()


def run(n: int, senders: int, batch: int) -> dict:
    reviews = make_reviews(n)
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        workdir = Path(tmp)
        proc, url, redis_url = start_serve(workdir)
        try:
            wait_for_workers(redis_url, expected=2)
            batches = [reviews[i:i + batch] for i in range(0, n, batch)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(senders) as pool:
                answers = list(pool.map(lambda b: post(url, b), batches))
            t_ingested = time.perf_counter() - t0
            db_path = workdir / "triage.db"
            while True:
                total, pending = count_pending(db_path)
                if total >= n and pending == 0:
                    break
                if time.perf_counter() - t0 > 600:
                    raise SystemExit(f"timed out with {pending} pending")
                time.sleep(0.01)
            t_scored = time.perf_counter() - t0
            checks = verify(db_path, n)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    accepted = sum(a["accepted"] for a in answers)
    baseline = predict_baseline([r["text"] for r in reviews], batch)
    return {"n": n, "accepted": accepted, "ingest_s": t_ingested, "e2e_s": t_scored, "baseline": baseline, **checks}


def verify(db_path: Path, n: int) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        stored, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT platform || '/' || review_id) FROM reviews").fetchone()
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM reviews GROUP BY status").fetchall())
        doubled = conn.execute(
            "SELECT COUNT(*) FROM (SELECT customer_id FROM cases WHERE status NOT IN ('resolved', 'closed')"
            " GROUP BY customer_id HAVING COUNT(*) > 1)").fetchone()[0]
        open_cases, customers_with_case = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM cases WHERE status NOT IN ('resolved', 'closed')"
        ).fetchone()
        linked = conn.execute("SELECT COUNT(*) FROM reviews WHERE case_id IS NOT NULL").fetchone()[0]
        joins = conn.execute("SELECT COUNT(*) FROM case_events WHERE kind IN ('opened', 'review_added')").fetchone()[0]
    finally:
        conn.close()
    return {
        "stored_once": stored == distinct == n,
        "statuses": statuses,
        "one_case_per_customer": doubled == 0 and open_cases == customers_with_case,
        "open_cases": open_cases,
        "case_reviews_once": linked == joins,
    }


def predict_baseline(texts: list[str], batch: int) -> dict:
    from classifier import get_classifier

    model = get_classifier()
    model.predict_many(texts[:10])  # warm: the tokenizer dictionary loads on first use
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.predict_many(texts[i:i + batch])
    return {"rate": len(texts) / (time.perf_counter() - t0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    r = run(args.reviews, args.senders, args.batch)
    e2e = r["n"] / r["e2e_s"]
    print(f"Pipeline benchmark: {r['n']} reviews, {args.senders} signed senders, batches of {args.batch}, "
          f"`triage serve` with embedded Redis and 1 scoring worker, {os.cpu_count()} CPUs\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| accepted (202) | {r['accepted']} |")
    print(f"| all 202s received after | {r['ingest_s']:.2f} s ({r['n'] / r['ingest_s']:,.0f} reviews/s) |")
    print(f"| all scored, risk and cases stored after | {r['e2e_s']:.2f} s |")
    print(f"| **end-to-end throughput** | **{e2e:,.0f} reviews/s** |")
    print(f"| baseline: `predict_many` alone, same texts, batches of {args.batch} | {r['baseline']['rate']:,.0f} reviews/s |")
    print(f"| end-to-end / baseline | {e2e / r['baseline']['rate']:.0%} |")
    print(f"| final statuses | {r['statuses']} |")
    print(f"| every review stored once | {'yes' if r['stored_once'] else 'NO'} |")
    print(f"| one active case per customer ({r['open_cases']} cases) | {'yes' if r['one_case_per_customer'] else 'NO'} |")
    print(f"| each case review joined once | {'yes' if r['case_reviews_once'] else 'NO'} |")
    ok = r["stored_once"] and r["one_case_per_customer"] and r["case_reviews_once"] and r["statuses"] == {"scored": r["n"]}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
