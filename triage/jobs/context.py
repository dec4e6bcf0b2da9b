"""Per-process resources for job code on the database host: settings, SQLite connection, policy.

rq calls job functions with their arguments only, so the worker configures this module once
(`configure`) and job code asks it for what it needs. Without `configure`, settings come from the
environment, as in any process started with the contract's variables.

For rq jobs alone (`triage.jobs.database`, `triage.reports.schedule`) and the worker that
configures it: everything else is handed its settings, connection and policy as arguments.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from triage.config import Settings
from triage.sla import SlaPolicy, load_policy

if TYPE_CHECKING:  # a scoring worker configures this module and must not even import sqlite3
    import sqlite3

__all__ = ["close_db", "configure", "db", "policy", "reset", "settings"]

_lock = threading.Lock()
_settings: Settings | None = None
_policy: SlaPolicy | None = None
_local = threading.local()


def configure(value: Settings | None) -> None:
    """Use `value` for this process from now on (drops cached connections and policy); None
    goes back to settings from the environment."""
    global _settings, _policy
    with _lock:
        _settings = value
        _policy = None
    _drop_connection()


def reset() -> None:
    """Forget everything (tests)."""
    configure(None)


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def policy() -> SlaPolicy:
    """The SLA policy (TRIAGE_SLA_POLICY or the built-in one), parsed once per process."""
    global _policy
    current = settings()
    with _lock:
        if _policy is None:
            _policy = load_policy(current.sla_policy_path, current.timezone)
        return _policy


def db() -> sqlite3.Connection:
    """This thread's connection to the configured database, opened (and migrated) once.

    Per thread and per process: a connection must not cross a fork, and the sweeper thread must
    not share the job thread's transaction.
    """
    from triage.db import open_db

    path = settings().db_path
    cached = getattr(_local, "conn", None)
    if cached is not None and _local.pid == os.getpid() and _local.path == path:
        return cached
    conn = open_db(path, role="apply")  # job code is the db worker's: derived, recoverable writes
    _local.conn, _local.pid, _local.path = conn, os.getpid(), path
    return conn


def close_db() -> None:
    """Close this thread's connection (before a fork, e.g.); the next `db()` reopens it."""
    _drop_connection()


def _drop_connection() -> None:
    conn = getattr(_local, "conn", None)
    if conn is not None and _local.pid == os.getpid():
        conn.close()
    _local.conn = None
