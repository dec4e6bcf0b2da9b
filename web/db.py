"""Per-request resources on `g`: the SQLite connection and the Redis client.

SQLite connections are pooled per app: opening one costs its pragmas and a parse of the schema
on first use (about a millisecond), which a webhook request would otherwise pay every time. A
connection goes back to the pool at the end of the request, rolled back if a transaction is
still open, so no request sees another's state.
"""

from __future__ import annotations

import queue
import sqlite3

import redis
from flask import Flask, current_app, g

from triage.config import Settings
from triage.db import connect, migrate
from triage.redis_conn import connect_redis


def get_settings() -> Settings:
    return current_app.config["SETTINGS"]


POOL_SIZE = 16


def _pool() -> queue.SimpleQueue:
    return current_app.extensions["triage_db_pool"]


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        try:
            g.db = _pool().get_nowait()
        except queue.Empty:
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
    if conn is None:
        return
    pool = _pool()
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if pool.qsize() < POOL_SIZE:
            pool.put(conn)
            return
    except sqlite3.Error:
        pass
    conn.close()


def init_app(app: Flask) -> None:
    # Migrate once at start-up so requests never race to create tables.
    conn = connect(app.config["SETTINGS"].db_path)
    try:
        migrate(conn)
    finally:
        conn.close()
    app.extensions["triage_db_pool"] = queue.SimpleQueue()
    app.teardown_appcontext(_close_db)
