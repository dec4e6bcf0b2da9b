"""Webhook transactions against a busy db worker: latency of the store-and-claim transaction at a
fixed offered rate, with the db worker idle and with it applying back to back.

The db worker is simulated, so that only the lock's arbitration is measured: another process (an
"apply"-role connection, through `triage.db.transaction` like the real one) holds the write lock
for `--hold` ms at a time with 5 ms between transactions, as a db worker with a queue of apply jobs
does. Requests are `triage.ingest.ingest` calls of 100 reviews from 4 threads of this process (as
the web's threads), open loop: one is due every 100/`--rate` seconds, latency counted from then.

    .venv/bin/python bench/write_lock_bench.py [--rate 1000] [--hold 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import make_reviews, pct

HOLDER = """
import sys, time
from triage.db import connect, transaction
conn = connect(sys.argv[1], role="apply")
hold = float(sys.argv[2]) / 1000
print("ready", flush=True)
while True:
    with transaction(conn):
        conn.execute("UPDATE counters SET value = value WHERE 0")
        time.sleep(hold)
    time.sleep(0.005)
"""


def run(rate: float, seconds: float, hold: float | None) -> list[float]:
    from triage.db import connect, migrate
    from triage.ingest import ingest
    from triage.timeutil import utcnow
    from triage.validation import reviews_from_body

    with tempfile.TemporaryDirectory(prefix="front-lock-") as tmp:
        path = os.path.join(tmp, "t.db")
        migrate(connect(path))
        holder = None
        if hold is not None:
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, str(hold)], stdout=subprocess.PIPE, text=True)
            holder.stdout.readline()
        n = int(rate * seconds) // 100 * 100
        reviews = make_reviews(n, seed=21, prefix=f"lock{hold}")
        batches = [reviews_from_body({"reviews": reviews[i:i + 100]}) for i in range(0, n, 100)]
        local = threading.local()
        latencies: list[float] = []
        lock = threading.Lock()

        def send(due: float, batch) -> None:
            if not hasattr(local, "conn"):
                local.conn = connect(path)
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ingest(local.conn, batch, utcnow(), claim=True)
            with lock:
                latencies.append(time.perf_counter() - due)

        start = time.perf_counter() + 0.2
        try:
            with ThreadPoolExecutor(4) as pool:
                for f in [pool.submit(send, start + i * 100 / rate, b) for i, b in enumerate(batches)]:
                    f.result()
        finally:
            if holder is not None:
                holder.kill()
                holder.wait()
        return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--hold", type=float, default=100.0, help="ms per simulated apply transaction")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"Store-and-claim latency (ms), {args.rate:,.0f} reviews/s offered in batches of 100 from 4 threads, "
          f"{args.seconds:.0f} s; load average {os.getloadavg()[0]:.1f}\n")
    print("| db worker | p50 | p95 | max |")
    print("|---|---:|---:|---:|")
    for label, hold in (("idle", None), (f"busy ({args.hold:.0f} ms transactions, 5 ms apart)", args.hold)):
        lat = [v * 1000 for v in run(args.rate, args.seconds, hold)]
        print(f"| {label} | {pct(lat, 50):,.1f} | {pct(lat, 95):,.1f} | {max(lat):,.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
