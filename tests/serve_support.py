"""A real `triage serve` in a temporary folder, for the slow tests: start it, find its processes,
post signed webhooks to it, wait for the pipeline, and never leave anything of it running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import requests

from tests.conftest import WEBHOOK_SECRET, sign


class Serve:
    def __init__(self, folder: Path, proc: subprocess.Popen, banner: str) -> None:
        self.folder = folder
        self.proc = proc
        self.banner = banner
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)", banner).group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_path = folder / "var" / "triage.db"

    def children(self) -> dict[str, psutil.Process]:
        """The live child processes by kind: web, score, db, redis."""
        kinds = {}
        for child in psutil.Process(self.proc.pid).children():
            try:
                line = " ".join(child.cmdline())
            except psutil.Error:  # exited (a zombie until serve reaps it)
                continue
            if "redis-server" in line:
                kinds["redis"] = child
            elif " web " in f"{line} ":
                kinds["web"] = child
            elif "--role score" in line:
                kinds["score"] = child
            elif "--role db" in line:
                kinds["db"] = child
        return kinds

    def wait_for_children(self, kinds=("web", "score", "db", "redis"), timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.children()
            if all(k in found for k in kinds):
                return found
            time.sleep(0.1)
        raise AssertionError(f"serve's children never all appeared: {sorted(self.children())}")

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the web process answers (the port accepts connections from the start)."""
        self.wait_for_children()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/login", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the web process never answered"
            time.sleep(0.2)

    def post(self, reviews: list[dict], timeout: float = 30) -> requests.Response:
        body = json.dumps({"reviews": reviews}, ensure_ascii=False).encode()
        return requests.post(f"{self.url}/api/v1/webhooks/reviews", data=body, headers=sign(body), timeout=timeout)

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def statuses(self) -> dict[str, int]:
        with contextlib.closing(self.db()) as conn:
            return dict(conn.execute("SELECT status, COUNT(*) FROM reviews GROUP BY status").fetchall())

    def wait_scored(self, expected: int, timeout: float) -> float:
        """Seconds until `expected` reviews are scored (none pending); AssertionError after `timeout`."""
        start = time.monotonic()
        while True:
            counts = self.statuses()
            if counts.get("scored", 0) >= expected and not counts.get("pending"):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"not scored within {timeout} s: {counts}")
            time.sleep(0.5)


def serve_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_") and k != "REDIS_URL"}
    env.update(TRIAGE_WEBHOOK_SECRET=WEBHOOK_SECRET, PYTHONUNBUFFERED="1", **extra)
    return env


@contextlib.contextmanager
def running_serve(folder: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Serve]:
    """`triage serve --port 0 ARGS` with its database under `folder`/var; killed, with everything
    it started, on the way out."""
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "serve.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--port", "0", *args], cwd=folder,
                            env=env or serve_env(folder), stdout=subprocess.PIPE, stderr=log, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen: set[psutil.Process] = set()
    try:
        banner = ""
        while "Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, f"serve exited before printing its banner: {(folder / 'serve.log').read_text()[-2000:]}"
            banner += line
        serve = Serve(folder, proc, banner)
        serve._seen = seen  # type: ignore[attr-defined]
        yield serve
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            seen.update(psutil.Process(proc.pid).children(recursive=True))
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        for child in seen:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        log.close()


def reviews(prefix: str, n: int, customers: int = 50) -> list[dict]:
    texts = ("用了三天就坏了，质量太差了，要求退货！", "物流太慢了，等了一个星期才到", "很好用，做工扎实，推荐购买",
             "颜色和图片完全不一样，和描述不符", "质量很好，物流也快，好评")
    return [{"review_id": f"{prefix}-{i}", "text": texts[i % len(texts)], "customer_id": f"c{i % customers}",
             "product_id": f"p{i % 7}"} for i in range(n)]
