"""GET /api/v1/reviews/<platform>/<review_id> — one review and its scores (null until scored)."""

from __future__ import annotations

from flask import jsonify

from triage import reviews
from web.api.blueprint import bp
from web.db import get_db


# path: a review_id may contain '/', since the contract allows any 1–128 characters.
@bp.get("/reviews/<platform>/<path:review_id>")
def get_review(platform: str, review_id: str):
    return jsonify(reviews.review_json(reviews.get_review(get_db(), platform, review_id)))
