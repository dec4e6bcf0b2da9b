"""`triage serve` with the embedded defaults, and the demo data it loads into a fresh database."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta

import psutil
import pytest

from service.demo import demo_reviews, load_demo
from triage.timeutil import to_db, utcnow


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


@pytest.mark.slow  # scores a few hundred reviews with the real model
def test_demo_fills_a_fresh_database_once(db, tmp_path):
    from triage.agents import authenticate

    logins = load_demo(db, tmp_path)
    reviews = db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
    assert reviews == len(demo_reviews()) >= 250
    assert [one.role for one in logins] == ["supervisor", "agent"]
    assert all(authenticate(db, one.username, one.password) for one in logins)
    shifts = {r[0] for r in db.execute("SELECT shift FROM agents")}
    assert {"白班", "夜班"} <= shifts
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM cases GROUP BY status").fetchall())
    assert statuses.get("open") and statuses.get("resolved") and statuses.get("closed")
    causes = {c for (c,) in db.execute("SELECT DISTINCT j.value FROM reviews, json_each(reviews.causes) j")}
    assert {"logistics", "defect", "description_mismatch"} <= causes
    assert db.execute("SELECT COUNT(*) FROM handbook_replies").fetchone()[0] >= 8
    assert db.execute("SELECT COUNT(*) FROM cases WHERE satisfaction IS NOT NULL").fetchone()[0] > 0
    assert load_demo(db, tmp_path) is None  # a later start: nothing added, no login shown again
    assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == reviews


@pytest.mark.slow  # scores a few hundred reviews with the real model
def test_demo_shows_open_product_alerts_for_its_two_complaint_runs(db, tmp_path):
    load_demo(db, tmp_path)
    open_alerts = {(r["product_id"], r["cause"]): r for r in db.execute(
        "SELECT * FROM alerts WHERE status = 'open' AND product_id IS NOT NULL")}
    assert {("sku-dress", "description_mismatch"), ("sku-serum", "defect")} <= set(open_alerts)
    assert open_alerts[("sku-dress", "description_mismatch")]["count"] >= 5
    assert "色差" in open_alerts[("sku-dress", "description_mismatch")]["terms"]
    assert "漏液" in open_alerts[("sku-serum", "defect")]["terms"]
    # Older alerts of the replayed six weeks were resolved by ops, with a note.
    assert db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'open' AND opened_at < ?",
                      (to_db(utcnow() - timedelta(days=2)),)).fetchone()[0] == 0


def test_demo_leaves_a_database_with_data_alone(db):
    from tests.pipeline_support import add_reviews, review

    add_reviews(db, [review("real-1", "物流太慢了")])
    assert load_demo(db) is None
    assert db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 1
