"""Per-request resources on `g` (the SQLite connection) and accessors for the app's shared ones.

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
from triage.sla import SlaPolicy
from web.resources import resources, resources_of

POOL_SIZE = 16
_POOL = "triage_db_pool"
# Page cache per pooled connection, KiB (SQLite's default is 2 MB). A deep offset page of the case
# list steps through 600-1,500 pages of an index; with the default they fall out of the cache between
# requests and come back through the OS each time (measured at 200,000 cases: the SQL of a page
# 150,000 deep took 7.3 ms with the default, 4.4 ms with this). It fills only as far as it is used.
READ_CACHE_KIB = 16_384


def get_settings() -> Settings:
    return resources().settings


def get_policy() -> SlaPolicy:
    """The SLA policy the app was built with (domain functions take it as an argument)."""
    return resources().policy


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        try:
            g.db = current_app.extensions[_POOL].get_nowait()
        except queue.Empty:
            g.db = connect(get_settings().db_path)
            g.db.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
    return g.db


def get_redis() -> redis.Redis | None:
    """The shared Redis client, or None when the app runs without one configured."""
    return resources().redis()


def _close_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is None:
        return
    pool = current_app.extensions[_POOL]
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
    conn = connect(resources_of(app).settings.db_path)
    try:
        migrate(conn)
    finally:
        conn.close()
    app.extensions[_POOL] = queue.SimpleQueue()
    app.teardown_appcontext(_close_db)
