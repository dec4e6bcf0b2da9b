"""In-process CPU per review of everything in front of the database writer: the webhook request
(by stage) and the scoring worker (by layer), each next to its same-run baseline.

CPU time (user + system of this process) rather than wall time, so that other load on a shared
machine moves the figures little; each pair is measured interleaved, batch by batch.

- webhook: signed POSTs of 100 reviews through the Flask test client into a real SQLite file with a
  real (embedded) Redis; stages: signature, JSON, validation, the store-and-claim transaction, the
  enqueue after it, the rest (Flask, response);
- scoring: `predict_many` alone (the baseline), `score_items` (the job's pure part), and a real rq
  `SimpleWorker` draining the same batches as `score_batch` jobs (what the queue adds), with the
  embedded Redis server's CPU beside it.

    .venv/bin/python bench/front_bench.py [--reviews 4000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import SECRET, make_reviews


def _proc_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def webhook(n: int, var: Path, redis_url: str) -> dict[str, float]:
    import web.api.webhook as hook
    from triage.config import Settings
    from triage.signing import sign
    from web import create_app

    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, label: str) -> None:
        inner = getattr(hook, name)

        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start

        setattr(hook, name, wrapper)

    for name, label in (("verify", "signature"), ("_parse_json", "JSON"), ("reviews_from_body", "validation"),
                        ("ingest", "store and claim (one transaction)"), ("enqueue_after_commit", "enqueue")):
        timed(name, label)
    settings = Settings.from_env({"TRIAGE_DB": str(var / "t.db"), "REDIS_URL": redis_url,
                                  "TRIAGE_WEBHOOK_SECRET": SECRET, "TRIAGE_SECRET_KEY": "k"}, var_dir=var / "var")
    client = create_app(settings).test_client()
    reviews = make_reviews(n, seed=3, prefix="front")
    bodies = [json.dumps({"reviews": reviews[i:i + 100]}, ensure_ascii=False).encode() for i in range(0, n, 100)]
    headers = [{"Content-Type": "application/json", **sign(b, SECRET)} for b in bodies]
    start = time.process_time()
    for body, head in zip(bodies, headers, strict=True):
        if client.post("/api/v1/webhooks/reviews", data=body, headers=head).status_code != 202:
            raise SystemExit("webhook refused a batch")
    total = time.process_time() - start
    out = {label: value / n * 1e6 for label, value in spent.items()}
    out["Flask, response, the rest"] = (total - sum(spent.values())) / n * 1e6
    out["**webhook, all**"] = total / n * 1e6
    return out


def scoring(n: int, redis_pid: int, redis_url: str) -> dict[str, float]:
    from rq import Queue, SimpleWorker

    from classifier import get_classifier
    from triage.jobs.enqueue import APPLY_QUEUE, SCORE_QUEUE, enqueue_score
    from triage.jobs.scoring import score_items
    from triage.pipeline import new_job_id
    from triage.redis_conn import connect_redis

    redis = connect_redis(redis_url)
    redis.flushdb()  # the webhook part's score jobs: this part drains only its own
    texts = [r["text"] for r in make_reviews(n, seed=1, prefix="score")]
    model = get_classifier()
    model.predict_many(texts[:10])
    batches = [[[i + j, t] for j, t in enumerate(texts[i:i + 100])] for i in range(0, n, 100)]
    base = items = worker = server = 0.0
    for k in range(0, len(batches), 20):  # 20 jobs per worker run: its start-up is spread thin
        chunk = batches[k:k + 20]
        for batch in chunk:
            start = time.process_time()
            model.predict_many([t for _, t in batch])
            base += time.process_time() - start
            start = time.process_time()
            score_items(batch)
            items += time.process_time() - start
        for batch in chunk:
            enqueue_score(redis, batch, new_job_id())
        server_start = _proc_cpu(redis_pid)
        start = time.process_time()
        SimpleWorker([SCORE_QUEUE], connection=redis).work(burst=True, with_scheduler=False, logging_level="ERROR")
        worker += time.process_time() - start
        server += _proc_cpu(redis_pid) - server_start
        Queue(APPLY_QUEUE, connection=redis).empty()
    return {"baseline: `predict_many` alone": base / n * 1e6, "`score_items` (the job's pure part)": items / n * 1e6,
            "**scoring worker, all** (rq `SimpleWorker`, `score_batch` jobs)": worker / n * 1e6,
            "Redis server while the worker ran": server / n * 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=4000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from triage.redis_conn import EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="front-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        try:
            hook = webhook(args.reviews, Path(tmp), server.url)
            score = scoring(args.reviews, server.pid, server.url)
        finally:
            server.stop()
    load = os.getloadavg()[0]
    print(f"In-process CPU per review (µs), {args.reviews} reviews in batches of 100; load average {load:.1f}\n")
    print("| part | µs per review |")
    print("|---|---:|")
    for label, value in {**hook, **score}.items():
        print(f"| {label} | {value:,.0f} |")
    over = score["**scoring worker, all** (rq `SimpleWorker`, `score_batch` jobs)"] - score["baseline: `predict_many` alone"]
    print(f"| scoring worker over `predict_many` | {over:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
