"""Store a batch of scoring results, then risk, priority and cases. Runs on the database host.

Idempotent: only reviews still ``pending`` are touched, all in one transaction, so a second run of
the same results (a retried or duplicated job) finds nothing to do and changes nothing. A result
for text the review no longer has (the customer edited it while it was being scored; results
carry a fingerprint of the text they scored) is skipped: the new revision has its own job.

Priority follows `triage.priority` (risk, safety P1, reasons); the case records the customer's
LTV and value tier (top 10 %) and the reasons of every review that joined it.

A re-scored revision (see `triage.ingest`) whose previous revision was negative (negative
sentiment, or 1-2 stars) and which is no longer a complaint marks its case ``revised_upward``
(已改评) with a ``revised_upward`` event, whatever the case's status: the customer revising a bad
review is the outcome the CS team works for. A revision that is still a complaint joins the
customer's active case as any complaint does (or opens a new one when the old case is done).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from triage import cases, priority, risk
from triage.alerts.store import record_reviews
from triage.db import transaction
from triage.fingerprint import text_fingerprint
from triage.sla import SlaPolicy
from triage.timers import check_case_in_tx
from triage.timeutil import from_db, to_db

__all__ = ["ApplyOutcome", "apply_results", "cached_ltv_threshold", "mark_failed"]

LTV_CACHE_SECONDS = 60.0


@dataclass
class ApplyOutcome:
    scored: int = 0
    failed: int = 0
    skipped: int = 0  # no longer pending: applied before, or failed
    checks: dict[int, datetime | None] = field(default_factory=dict)  # case whose SLA changed -> next check
    escalated: int = 0
    alert_counts: int = 0  # reviews whose alert counters changed: the alerts job has work

    def summary(self) -> dict[str, Any]:
        return {"scored": self.scored, "failed": self.failed, "skipped": self.skipped,
                "cases": len(self.checks), "escalated": self.escalated}


def apply_results(
    conn: sqlite3.Connection,
    results: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    policy: SlaPolicy,
    ltv_threshold: float | None,
    webhook_url: str | None = None,
    wecom_url: str | None = None,
) -> ApplyOutcome:
    """Apply `results` (from `triage.jobs.scoring.score_items`): each {"pk", "model_version", sentiment,
    negative_prob, causes, cause_probs, terms, cause_terms} or {"pk", "error"}."""
    by_pk = {int(r["pk"]): r for r in results}
    outcome = ApplyOutcome()
    if not by_pk:
        return outcome
    with transaction(conn):
        marks = ",".join("?" * len(by_pk))
        rows = conn.execute(
            f"SELECT r.id, r.customer_id, r.rating, r.created_at, r.text, r.revision, r.case_id, r.platform,"
            f" r.review_id, COALESCE(r.customer_ltv, c.ltv) AS ltv"
            f" FROM reviews r LEFT JOIN customers c ON c.customer_id = r.customer_id"
            f" WHERE r.id IN ({marks}) AND r.status = 'pending' ORDER BY r.created_at, r.id",
            list(by_pk),
        ).fetchall()
        outcome.skipped = len(by_pk) - len(rows)
        scored: list[int] = []
        for row in rows:
            result = by_pk[row["id"]]
            if "text_sha1" in result and result["text_sha1"] != text_fingerprint(row["text"]):
                outcome.skipped += 1  # scores for an earlier revision's text
                continue
            if "error" in result:
                _fail(conn, [row["id"]], str(result["error"]))
                outcome.failed += 1
                continue
            added = _apply_one(conn, row, result, now, policy, ltv_threshold)
            outcome.scored += 1
            scored.append(row["id"])
            if added is not None and added.sla_changed:
                # A plain join leaves the dues, the stored states and the armed timer as they were.
                outcome.checks[added.case_id] = None
        for case_id in outcome.checks:
            next_check, escalated = check_case_in_tx(conn, case_id, now, policy, webhook_url, wecom_url=wecom_url)
            outcome.checks[case_id] = next_check
            outcome.escalated += escalated
        # Product alerts count the batch in the same transaction, so counters and scores never disagree.
        outcome.alert_counts = record_reviews(conn, scored, now)
    return outcome


def _apply_one(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    result: Mapping[str, Any],
    now: datetime,
    policy: SlaPolicy,
    ltv_threshold: float | None,
) -> cases.AddResult | None:
    causes = list(result["causes"])
    created_at = from_db(row["created_at"])
    prior = conn.execute(
        "SELECT COUNT(*) FROM reviews WHERE customer_id = ? AND id != ? AND priority IS NOT NULL"
        " AND created_at >= ? AND created_at <= ?",
        (row["customer_id"], row["id"], to_db(created_at - risk.REPEAT_WINDOW), row["created_at"]),
    ).fetchone()[0]
    assessed = risk.assess(
        risk.RiskInput(
            negative_prob=float(result["negative_prob"]),
            sentiment=result["sentiment"],
            causes=causes,
            rating=row["rating"],
            prior_complaints=prior,
            customer_ltv=row["ltv"],
            ltv_threshold=ltv_threshold,
        )
    )
    decided = priority.decide(assessed, row["text"], causes, row["rating"])
    added = None
    case_id = row["case_id"]
    if row["revision"] > 1 and case_id is not None and not assessed.complaint:
        _mark_if_revised_upward(conn, row, result, now)
    if decided.priority is not None:
        added = cases.add_review(
            conn, review_pk=row["id"], customer_id=row["customer_id"], priority=decided.priority,
            risk=assessed.score, causes=causes, now=now, policy=policy,
            refresh=False,  # apply_results refreshes each touched case once, after the batch
        )
        case_id = added.case_id
        _record_value_and_reasons(conn, case_id, row["ltv"], assessed, decided.reasons)
    factors = {**assessed.to_json(), "priority": decided.priority,
               "safety": [{"code": h.code, "label": h.label, "term": h.term, "start": h.start, "end": h.end}
                          for h in decided.safety]}
    conn.execute(
        "UPDATE reviews SET status = 'scored', error = NULL, sentiment = ?, negative_prob = ?, causes = ?,"
        " cause_probs = ?, terms = ?, model_version = ?, scored_at = ?, risk = ?, risk_factors = ?, priority = ?,"
        " case_id = ?, complaints = ? WHERE id = ? AND status = 'pending'",
        (
            result["sentiment"],
            float(result["negative_prob"]),
            json.dumps(causes),
            json.dumps(result.get("cause_probs") or {}),
            json.dumps({"sentiment": result.get("terms") or [], "causes": result.get("cause_terms") or {}},
                       ensure_ascii=False),
            result.get("model_version"),
            to_db(now),
            round(assessed.score, 6),
            json.dumps(factors, ensure_ascii=False),
            decided.priority,
            case_id,
            json.dumps(list(result.get("complaints") or []), ensure_ascii=False),
            row["id"],
        ),
    )
    return added


def _record_value_and_reasons(conn: sqlite3.Connection, case_id: int, ltv: float | None, assessed: risk.Risk,
                              reasons: list[dict[str, Any]]) -> None:
    """The case's customer value (LTV, top-10 % tier) as of this review, and its merged reasons."""
    current = conn.execute("SELECT priority_reasons, value_tier FROM cases WHERE id = ?", (case_id,)).fetchone()
    merged = priority.merge_reasons(json.loads(current["priority_reasons"] or "[]"), reasons)
    tier = "top" if assessed.factors.get("top_customer") else "regular"
    conn.execute(
        "UPDATE cases SET priority_reasons = ?, customer_ltv = COALESCE(?, customer_ltv), value_tier = ? WHERE id = ?",
        (json.dumps(merged, ensure_ascii=False), ltv, tier, case_id),
    )


def _mark_if_revised_upward(conn: sqlite3.Connection, row: sqlite3.Row, result: Mapping[str, Any],
                            now: datetime) -> None:
    previous = conn.execute(
        "SELECT sentiment, rating FROM review_revisions WHERE review_pk = ? AND revision = ?",
        (row["id"], row["revision"] - 1),
    ).fetchone()
    if previous is None:
        return
    was_negative = previous["sentiment"] == "negative" or (previous["rating"] is not None and previous["rating"] <= 2)
    if not was_negative or result["sentiment"] != "positive":
        return
    case_id = row["case_id"]
    cur = conn.execute(
        "UPDATE cases SET revised_upward = 1, revised_upward_at = COALESCE(revised_upward_at, ?), updated_at = ?,"
        " version = version + 1 WHERE id = ?",
        (to_db(now), to_db(now), case_id),
    )
    if cur.rowcount:
        cases.add_event(conn, case_id, "revised_upward", now, detail={
            "review": f"{row['platform']}/{row['review_id']}", "revision": row["revision"],
            "previous_rating": previous["rating"], "rating": row["rating"],
            "negative_prob": round(float(result["negative_prob"]), 4)})


def _fail(conn: sqlite3.Connection, pks: Iterable[int], error: str) -> int:
    pks = list(pks)
    if not pks:
        return 0
    marks = ",".join("?" * len(pks))
    cur = conn.execute(
        f"UPDATE reviews SET status = 'failed', error = ? WHERE id IN ({marks}) AND status = 'pending'",
        [error[:1000], *pks],
    )
    return cur.rowcount


def mark_failed(conn: sqlite3.Connection, pks: Iterable[int], error: str) -> int:
    """Give up on reviews still pending: status 'failed' with `error`. Returns how many changed."""
    with transaction(conn):
        return _fail(conn, pks, error)


_ltv_lock = threading.Lock()
_ltv_cache: dict[Path, tuple[float, float | None]] = {}


def cached_ltv_threshold(conn: sqlite3.Connection, db_path: Path, *, max_age: float = LTV_CACHE_SECONDS) -> float | None:
    """The top-10 % LTV threshold over the customers table, recomputed at most every `max_age` s:
    the 90th percentile (nearest rank) of the known LTVs, None when none is known or it is 0 (a
    threshold of 0 would make every customer "top 10 %").

    The percentile is read with ORDER BY/OFFSET on the ltv index, so only one value is fetched.
    """
    now = time.monotonic()
    with _ltv_lock:
        hit = _ltv_cache.get(db_path)
        if hit is not None and now - hit[0] < max_age:
            return hit[1]
    count = conn.execute("SELECT COUNT(*) FROM customers WHERE ltv IS NOT NULL AND ltv >= 0").fetchone()[0]
    value = None
    if count:
        rank = risk.nearest_rank(count)
        found = conn.execute(
            "SELECT ltv FROM customers WHERE ltv IS NOT NULL AND ltv >= 0 ORDER BY ltv LIMIT 1 OFFSET ?", (rank - 1,)
        ).fetchone()
        value = found[0] if found and found[0] > 0 else None
    with _ltv_lock:
        _ltv_cache[db_path] = (now, value)
    return value
