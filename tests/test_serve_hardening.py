"""`triage serve` as a whole (slow: real processes): demo data only with --demo, a second serve
refused, the embedded Redis brought back when it dies, SIGTERM draining requests, 400 stalled
clients harmless, plain logs."""

from __future__ import annotations

import contextlib
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import psutil
import pytest
import requests

from tests.serve_support import reviews, running_serve, serve_env

pytestmark = pytest.mark.slow


def test_demo_data_only_with_demo_and_its_password_shown_once(tmp_path):
    with running_serve(tmp_path / "plain") as serve:
        assert "demo login" not in serve.banner
        assert serve.statuses() == {}
        with contextlib.closing(serve.db()) as conn:
            assert conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0] == 0
    with running_serve(tmp_path / "demo", "--demo") as serve:
        assert "demo login" in serve.banner and sum(serve.statuses().values()) >= 40
    with running_serve(tmp_path / "demo", "--demo", "--no-demo") as serve:
        assert "demo login" not in serve.banner  # shown once, when it was created
    assert not (tmp_path / "demo" / "var" / "demo_login").exists()


def test_a_second_serve_is_refused_and_the_first_keeps_its_redis(tmp_path):
    with running_serve(tmp_path) as serve:
        redis_pid = serve.wait_for_children()["redis"].pid
        second = subprocess.run([sys.executable, "-m", "triage", "serve", "--port", "0"], cwd=tmp_path,
                                env=serve_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"another `triage serve` (pid {serve.proc.pid})" in second.stderr
        assert serve.children()["redis"].pid == redis_pid
        assert serve.post(reviews("r", 20)).status_code == 202
        serve.wait_scored(20, timeout=60)


def test_a_killed_embedded_redis_is_restarted_and_reviews_keep_flowing(tmp_path):
    with running_serve(tmp_path) as serve:
        redis = serve.wait_for_children()["redis"]
        assert serve.post(reviews("before", 200)).status_code == 202
        redis.kill()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            again = serve.children().get("redis")
            if again is not None and again.pid != redis.pid:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the embedded Redis was not restarted")
        for _ in range(50):  # the web process's connection may need one retry to find the new server
            if serve.post(reviews("after", 200)).status_code == 202:
                break
            time.sleep(0.2)
        serve.wait_scored(400, timeout=90)


def test_sigterm_during_load_answers_every_request_it_committed(tmp_path):
    accepted = []
    with running_serve(tmp_path) as serve:
        serve.wait_ready()
        accepted.append(serve.post(reviews("ready", 1)).json()["accepted"])
        stop = threading.Event()

        def load(n: int) -> None:
            i = 0
            while not stop.is_set():
                try:
                    response = serve.post(reviews(f"t{n}-{i}", 50), timeout=60)
                except requests.RequestException:
                    return  # refused or reset before anything was read: nothing stored for it
                if response.status_code == 202:
                    accepted.append(response.json()["accepted"])
                i += 1

        threads = [threading.Thread(target=load, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        time.sleep(3)
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(60) == 0
        stop.set()
        for t in threads:
            t.join(60)
        stored = sum(serve.statuses().values())
    assert sum(accepted) > 0
    assert stored == sum(accepted)  # every committed batch got its 202


def _latency(serve, n: int = 7) -> float:
    times = []
    for i in range(n):
        batch = reviews(f"lat{time.monotonic_ns()}-{i}", 1)
        start = time.perf_counter()
        assert serve.post(batch).status_code == 202
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_400_stalled_clients_neither_exhaust_memory_nor_delay_a_webhook(tmp_path):
    with running_serve(tmp_path) as serve:
        web = serve.wait_for_children()["web"]
        _latency(serve, 3)  # warm up
        baseline = _latency(serve)
        rss_before, threads_before = web.memory_info().rss, web.num_threads()
        stalled = []
        try:
            for _ in range(400):
                s = socket.create_connection(("127.0.0.1", serve.port))
                s.sendall(b"POST /api/v1/webhooks/reviews HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n" + b"{" * 1000)  # ... and never the rest
                stalled.append(s)
            time.sleep(1)
            loaded = _latency(serve)
            rss_after, threads_after = web.memory_info().rss, web.num_threads()
        finally:
            for s in stalled:
                s.close()
    print(f"webhook median latency: {baseline * 1000:.1f} ms alone, {loaded * 1000:.1f} ms beside 400 stalled "
          f"clients; web RSS +{(rss_after - rss_before) / 2**20:.1f} MiB, threads {threads_before}->{threads_after}")
    assert loaded - baseline < 0.100
    assert rss_after - rss_before < 64 * 2**20
    assert threads_after == threads_before  # stalled bodies hold no thread


def test_logs_are_plain_and_carry_no_per_job_lines(tmp_path):
    with running_serve(tmp_path) as serve:
        serve.wait_for_children()
        assert serve.post(reviews("log", 300)).status_code == 202
        serve.wait_scored(300, timeout=60)
    log = (tmp_path / "serve.log").read_text()
    assert "\x1b[" not in log
    assert "Job OK" not in log and "Successfully completed" not in log
    assert "start-up sweep" in log  # our own INFO lines still come


def test_no_process_is_left_when_serve_stops(tmp_path):
    with running_serve(tmp_path) as serve:
        started = list(serve.wait_for_children().values())
        started += [p for c in started for p in c.children(recursive=True)]
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(60) == 0
        _gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == []
