"""The embedded Redis (triage.redis_conn.EmbeddedRedis): private files, stops for good whoever is
connected, and comes back on the same socket with its data after being killed."""

from __future__ import annotations

import os
import signal
import stat

import psutil

from triage.redis_conn import EmbeddedRedis


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


def test_a_restart_over_the_same_var_dir_keeps_the_data(tmp_path):
    first = EmbeddedRedis(tmp_path / "var")
    first.client().set("k", "v")
    first.stop()
    second = EmbeddedRedis(tmp_path / "var")
    try:
        assert second.client().get("k") == b"v"
    finally:
        second.stop()


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
