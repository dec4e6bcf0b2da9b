"""GET /healthz (no auth): can this service take reviews and score them now?

200 `{"db": "ok", "redis": "ok", "model": "<version>", "pending": {...}, "workers": {...}}`; 503 with
`"down"` naming each part that fails:

* `db` — "ok", "busy" (another writer has held the write lock past a short wait: webhooks would
  get 503 too) or "down";
* `redis` — "ok" or "down"; `model` — its version, or "down";
* `pending` — `{"count", "oldest_age_seconds"}`: reviews waiting to be scored; "scoring" is down
  when the oldest has waited longer than `TRIAGE_HEALTH_MAX_PENDING_AGE` seconds (default 300);
* `workers` — live rq workers per role, `{"score": n, "db": n}` (`triage.liveness`); a role with
  none is down ("workers.score", "workers.db"): nothing would be scored or stored.

Failure details go to the log, not to an unauthenticated caller.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from flask import Blueprint, current_app, jsonify

from triage.config import ConfigError
from web.db import get_db, get_redis, get_settings

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

DEFAULT_MAX_PENDING_AGE = 300
# How long the check waits for the write lock before calling the database busy.
BUSY_WAIT_MS = 250
_CONFIG_KEY = "TRIAGE_HEALTH_MAX_PENDING_AGE"


def max_pending_age(environ=None) -> float:
    env = os.environ if environ is None else environ
    raw = (env.get(_CONFIG_KEY) or "").strip()
    if not raw:
        return float(DEFAULT_MAX_PENDING_AGE)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{_CONFIG_KEY}={raw!r}: seconds, e.g. 300") from None
    if value <= 0:
        raise ConfigError(f"{_CONFIG_KEY}={raw!r}: must be positive")
    return value


@bp.record_once
def _configure(state) -> None:
    # Read once when the app is built, so a bad value stops the start instead of every check.
    state.app.config.setdefault(_CONFIG_KEY, max_pending_age())


def _db() -> str:
    from triage.db import connect

    try:
        get_db().execute("SELECT count(*) FROM _migrations").fetchone()
    except Exception:
        log.exception("health: database is down")
        return "down"
    # Readers never wait in WAL mode; a writer does. Ask for the write lock briefly, write nothing.
    try:
        conn = connect(get_settings().db_path)
    except Exception:
        log.exception("health: database is down")
        return "down"
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_MS}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            log.warning("health: database is busy (write lock held by another writer)")
            return "busy"
        log.exception("health: database cannot be written")
        return "down"
    finally:
        conn.close()
    return "ok"


def _redis() -> str:
    client = get_redis()
    if client is None:
        log.error("health: no Redis configured (REDIS_URL unset outside `triage serve`)")
        return "down"
    try:
        client.ping()
    except Exception:
        log.exception("health: Redis is down")
        return "down"
    return "ok"


def _model() -> str | None:
    try:
        from classifier import get_classifier

        # Loaded once per process; later checks are a dictionary lookup.
        return get_classifier().version
    except Exception:
        log.exception("health: the model cannot be loaded")
        return None


def _pending() -> dict | None:
    from triage.pipeline import pending_backlog

    try:
        count, oldest = pending_backlog(get_db())
    except Exception:
        log.exception("health: cannot count pending reviews")
        return None
    return {"count": count, "oldest_age_seconds": None if oldest is None else round(oldest, 1)}


def _workers(redis_ok: bool) -> dict | None:
    from triage.liveness import live_workers

    if not redis_ok:
        return None
    try:
        return live_workers(get_redis())
    except Exception:
        log.exception("health: cannot list workers")
        return None


@bp.get("/healthz")
def healthz():
    version = _model()
    body: dict = {"db": _db(), "redis": _redis(), "model": version or "down"}
    body["pending"] = _pending()
    body["workers"] = _workers(body["redis"] == "ok")
    down = [part for part in ("db", "redis") if body[part] != "ok"] + ([] if version else ["model"])
    pending = body["pending"]
    limit = current_app.config[_CONFIG_KEY]
    if pending and pending["oldest_age_seconds"] is not None and pending["oldest_age_seconds"] > limit:
        down.append("scoring")
    for role, count in (body["workers"] or {}).items():
        if count == 0:
            down.append(f"workers.{role}")
    if down:
        body["down"] = down
        response = jsonify(body)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    return jsonify(body), 200
