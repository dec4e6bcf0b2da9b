"""Per-request resources on `g`: the SQLite connection and the Redis client."""

from __future__ import annotations

import sqlite3

import redis
from flask import Flask, current_app, g

from triage.config import Settings
from triage.db import connect, migrate
from triage.redis_conn import connect_redis


def get_settings() -> Settings:
    return current_app.config["SETTINGS"]


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(get_settings().db_path)
    return g.db


def get_redis() -> redis.Redis | None:
    """The shared Redis client, or None when the app runs without one configured."""
    client = current_app.extensions.get("triage_redis")
    if client is None:
        url = get_settings().redis_url
        if not url:
            return None
        client = connect_redis(url)
        current_app.extensions["triage_redis"] = client
    return client


def _close_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    # Migrate once at start-up so requests never race to create tables.
    conn = connect(app.config["SETTINGS"].db_path)
    try:
        migrate(conn)
    finally:
        conn.close()
    app.teardown_appcontext(_close_db)
