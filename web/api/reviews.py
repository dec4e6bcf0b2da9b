"""GET /api/v1/reviews/<platform>/<review_id> — one review and its scores (null until scored)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from flask import jsonify

from triage.errors import NotFound
from triage.timeutil import wire_from_db
from web.api import bp
from web.db import get_db


def _json(value: str | None) -> Any:
    return json.loads(value) if value is not None else None


def review_json(row: sqlite3.Row) -> dict[str, Any]:
    """The contract's review object, then extras (scores' details, the review's own fields)."""
    return {
        "platform": row["platform"],
        "review_id": row["review_id"],
        "status": row["status"],
        "sentiment": row["sentiment"],
        "negative_prob": row["negative_prob"],
        "causes": _json(row["causes"]),
        "risk": row["risk"],
        "case_id": row["case_id"],
        "model_version": row["model_version"],
        "cause_probs": _json(row["cause_probs"]),
        "terms": _json(row["terms"]),
        "priority": row["priority"],
        "risk_factors": _json(row["risk_factors"]),
        "scored_at": wire_from_db(row["scored_at"]),
        "error": row["error"],
        "text": row["text"],
        "rating": row["rating"],
        "customer_id": row["customer_id"],
        "product_id": row["product_id"],
        "order_id": row["order_id"],
        "created_at": wire_from_db(row["created_at"]),
        "received_at": wire_from_db(row["received_at"]),
    }


# path: a review_id may contain '/', since the contract allows any 1–128 characters.
@bp.get("/reviews/<platform>/<path:review_id>")
def get_review(platform: str, review_id: str):
    row = get_db().execute(
        "SELECT * FROM reviews WHERE platform = ? AND review_id = ?", (platform, review_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"no review {review_id!r} on platform {platform!r}")
    return jsonify(review_json(row))
