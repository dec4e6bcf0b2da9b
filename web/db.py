"""Per-request resources on `g` (the SQLite connection) and accessors for the app's shared ones."""

from __future__ import annotations

import sqlite3

import redis
from flask import Flask, g

from triage.config import Settings
from triage.db import connect, migrate
from triage.sla import SlaPolicy
from web.resources import resources, resources_of


def get_settings() -> Settings:
    return resources().settings


def get_policy() -> SlaPolicy:
    """The SLA policy the app was built with (domain functions take it as an argument)."""
    return resources().policy


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(get_settings().db_path)
    return g.db


def get_redis() -> redis.Redis | None:
    """The shared Redis client, or None when the app runs without one configured."""
    return resources().redis()


def _close_db(exc: BaseException | None = None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def init_app(app: Flask) -> None:
    # Migrate once at start-up so requests never race to create tables.
    conn = connect(resources_of(app).settings.db_path)
    try:
        migrate(conn)
    finally:
        conn.close()
    app.teardown_appcontext(_close_db)
