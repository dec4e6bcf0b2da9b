"""The review read side: one review by platform and id, its JSON (the contract's review object), counts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from triage.counters import counters
from triage.errors import NotFound
from triage.timeutil import wire_from_db
from triage.validation import normalise_platform

__all__ = ["get_review", "review_counts", "review_json"]


def _json(value: str | None) -> Any:
    return json.loads(value) if value is not None else None


def get_review(conn: sqlite3.Connection, platform: str, review_id: str) -> sqlite3.Row:
    """The stored review; raises NotFound if there is none.

    The platform is looked up as ingestion stores it (`"TB "` finds `tb`), then as given, for
    reviews stored before platforms were normalised."""
    row = None
    for name in dict.fromkeys((normalise_platform(platform), platform)):
        row = conn.execute("SELECT * FROM reviews WHERE platform = ? AND review_id = ?", (name, review_id)).fetchone()
        if row is not None:
            break
    if row is None:
        raise NotFound(f"no review {_shown(review_id)} on platform {_shown(platform)}")
    return row


def _shown(value: str, limit: int = 140) -> str:
    # repr escapes what cannot be shown or sent (controls, surrogates); a URL may decode to anything.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def review_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """{"total", "pending", "scored", "failed"}: every stored review by scoring status, from the
    counters the triggers keep (`triage.counters`), not a scan."""
    counts = counters(conn)
    by_status = {s: counts.get(f"reviews:{s}", 0) for s in ("pending", "scored", "failed")}
    return {"total": sum(by_status.values()), **by_status}


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
        "complaints": _json(row["complaints"]) or [],
        "revision": row["revision"],
        "text": row["text"],
        "rating": row["rating"],
        "customer_id": row["customer_id"],
        "customer_name": row["customer_name"],
        "customer_ltv": row["customer_ltv"],
        "product_id": row["product_id"],
        "product_name": row["product_name"],
        "category": row["category"],
        "order_id": row["order_id"],
        "created_at": wire_from_db(row["created_at"]),
        "received_at": wire_from_db(row["received_at"]),
    }
