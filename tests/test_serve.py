"""`triage serve` with the embedded defaults, and the demo data it loads into a fresh database."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from service.demo import DEMO_REVIEWS, load_demo


@contextlib.contextmanager
def _running_serve(tmp_path):
    """Start `triage serve` (embedded Redis, --no-demo) and yield (serve, its descendants, the
    redis-server); whatever happens, nothing it started outlives the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_") and k != "REDIS_URL"}
    env.update(TRIAGE_DB=str(tmp_path / "triage.db"), TRIAGE_VAR_DIR=str(tmp_path / "var"))
    # SIGINT as in a terminal (a non-interactive parent may have left it ignored).
    serve = subprocess.Popen([sys.executable, "-m", "triage", "serve", "--port", "0", "--no-demo"], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started: list[psutil.Process] = []
    redis_server: list[psutil.Process] = []
    try:
        banner = ""
        while "Ctrl-C" not in banner:
            line = serve.stdout.readline()
            assert line, "serve exited before printing its banner"
            banner += line
        socket_path = re.search(r"unix://([^?\s]+)", banner).group(1)
        assert "webhook secret (generated" in banner
        deadline = time.monotonic() + 30
        while len(started) < 3 and time.monotonic() < deadline:  # 2 workers + the score worker's scheduler
            started = psutil.Process(serve.pid).children(recursive=True)
            time.sleep(0.05)
        redis_server = [p for p in psutil.process_iter(["cmdline"]) if socket_path in " ".join(p.info["cmdline"] or [])]
        assert len(started) >= 3 and len(redis_server) == 1
        yield serve, started, redis_server
    finally:  # a failed run must not leave its processes behind either
        for proc in (serve, *started, *redis_server):
            try:
                proc.kill()
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        serve.wait()


def _serve_then_stop(tmp_path, *signals: signal.Signals) -> None:
    """Send `signals` one after the other; serve exits 0 leaving none of the processes it started."""
    with _running_serve(tmp_path) as (serve, started, redis_server):
        for sig in signals:
            serve.send_signal(sig)
            time.sleep(0.2)
        assert serve.wait(30) == 0
        _gone, alive = psutil.wait_procs([*started, *redis_server], timeout=10)
        assert alive == []


@pytest.mark.slow
def test_serve_stops_every_process_it_started_on_sigterm(tmp_path):
    _serve_then_stop(tmp_path, signal.SIGTERM)


@pytest.mark.slow
def test_a_second_sigterm_or_ctrl_c_does_not_cut_the_clean_up_short(tmp_path):
    _serve_then_stop(tmp_path, signal.SIGINT, signal.SIGTERM, signal.SIGINT)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux-only")
def test_workers_exit_when_serve_is_killed_outright(tmp_path):
    with _running_serve(tmp_path) as (serve, started, _redis):
        serve.kill()  # no chance to clean up: the kernel's parent-death signal must stop the workers
        serve.wait()
        _gone, alive = psutil.wait_procs(started, timeout=15)
        assert alive == []


def test_demo_fills_a_fresh_database_once(db):
    login = load_demo(db)
    assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == len(DEMO_REVIEWS) >= 40
    agent = db.execute("SELECT role FROM agents WHERE username = ?", (login.username,)).fetchone()
    assert agent["role"] == "supervisor"
    assert load_demo(db) is None  # a later start: nothing added, and no password to show again
    assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == len(DEMO_REVIEWS)


def test_demo_leaves_a_database_with_data_alone(db):
    from tests.pipeline_support import add_reviews, review

    add_reviews(db, [review("real-1", "物流太慢了")])
    assert load_demo(db) is None
    assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 1
