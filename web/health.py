"""GET /healthz (no auth): is the database, Redis and the model usable by this process?

The body names each part, "ok" (the model: its version) or "down"; failure details go to the log,
not to an unauthenticated caller.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from web.db import get_db, get_redis

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def _db() -> str:
    try:
        get_db().execute("SELECT count(*) FROM _migrations").fetchone()
    except Exception:
        log.exception("health: database is down")
        return "down"
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


@bp.get("/healthz")
def healthz():
    version = _model()
    body = {"db": _db(), "redis": _redis(), "model": version or "down"}
    down = [part for part in ("db", "redis") if body[part] != "ok"] + ([] if version else ["model"])
    if down:
        body["down"] = down
        return jsonify(body), 503
    return jsonify(body), 200
