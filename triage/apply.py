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

Statements per batch, for the single writer's sake: one read of the reviews and one of their
customers' recent complaints (kept up to date in memory as the batch assigns priorities), one
`executemany` each for failed and scored reviews; the JSON columns arrive serialised from the
scoring machines. Only at-risk reviews touch cases (`triage.cases.add_review`, one review after
another, as the case rules need), and the clocks of the cases a batch opens are computed once per
priority (they all start now, unpaused) instead of by a full check per case.
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
from triage.score_columns import stored_json
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
    negative_prob, causes, cause_probs, terms, cause_terms, complaints, text_sha1, stored} or
    {"pk", "error"}. Applying a batch gives what applying its results one at a time (in the
    reviews' created_at order) gives."""
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
        failed: list[tuple[str, int]] = []
        good: list[sqlite3.Row] = []
        for row in rows:
            result = by_pk[row["id"]]
            if "text_sha1" in result and result["text_sha1"] != text_fingerprint(row["text"]):
                outcome.skipped += 1  # scores for an earlier revision's text
            elif "error" in result:
                failed.append((str(result["error"])[:1000], row["id"]))
            else:
                good.append(row)
        if failed:
            conn.executemany("UPDATE reviews SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'",
                             failed)
            outcome.failed = len(failed)
        scored = _apply_scored(conn, good, by_pk, now, policy, ltv_threshold, webhook_url, wecom_url, outcome)
        # Product alerts count the batch in the same transaction, so counters and scores never disagree.
        outcome.alert_counts = record_reviews(conn, scored, now)
    return outcome


def _apply_scored(
    conn: sqlite3.Connection,
    rows: Sequence[sqlite3.Row],
    by_pk: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: SlaPolicy,
    ltv_threshold: float | None,
    webhook_url: str | None,
    wecom_url: str | None,
    outcome: ApplyOutcome,
) -> list[int]:
    """Score `rows` (pending, current text, no error); their ids."""
    if not rows:
        return []
    complaints = _RecentComplaints(conn, rows)
    updates: list[tuple[Any, ...]] = []
    opened: dict[int, str] = {}  # case opened by this batch -> its priority as the batch leaves it
    to_check: dict[int, None] = {}  # other cases whose SLA changed (a raised priority), in order
    for row in rows:
        result = by_pk[row["id"]]
        causes = list(result["causes"])
        assessed = risk.assess(
            risk.RiskInput(
                negative_prob=float(result["negative_prob"]),
                sentiment=result["sentiment"],
                causes=causes,
                rating=row["rating"],
                prior_complaints=complaints.before(row),
                customer_ltv=row["ltv"],
                ltv_threshold=ltv_threshold,
            )
        )
        decided = priority.decide(assessed, row["text"], causes, row["rating"])
        case_id = row["case_id"]
        if row["revision"] > 1 and case_id is not None and not assessed.complaint:
            _mark_if_revised_upward(conn, row, result, now)
        if decided.priority is not None:
            added = cases.add_review(
                conn, review_pk=row["id"], customer_id=row["customer_id"], priority=decided.priority,
                risk=assessed.score, causes=causes, now=now, policy=policy,
                refresh=False,  # each touched case's clocks are set once, after the batch
            )
            case_id = added.case_id
            complaints.add(row)
            if added.opened:
                opened[case_id] = decided.priority
            elif case_id in opened:
                opened[case_id] = cases.higher_priority(opened[case_id], decided.priority)
            elif added.sla_changed:
                # A plain join leaves the dues, the stored states and the armed timer as they were.
                to_check[case_id] = None
            _record_value_and_reasons(conn, case_id, row["ltv"], assessed, decided.reasons)
        factors = {**assessed.to_json(), "priority": decided.priority,
                   "safety": [{"code": h.code, "label": h.label, "term": h.term, "start": h.start, "end": h.end}
                              for h in decided.safety]}
        # Results from `score_items` carry their JSON columns ready (serialised on the scoring
        # machine); older ones, still queued from before an upgrade, are serialised here.
        stored = result.get("stored") or stored_json(result)
        updates.append((
            result["sentiment"],
            float(result["negative_prob"]),
            stored["causes"],
            stored["cause_probs"],
            stored["terms"],
            result.get("model_version"),
            to_db(now),
            round(assessed.score, 6),
            json.dumps(factors, ensure_ascii=False),
            decided.priority,
            case_id,
            stored.get("complaints") or json.dumps(list(result.get("complaints") or []), ensure_ascii=False),
            row["id"],
        ))
    conn.executemany(
        "UPDATE reviews SET status = 'scored', error = NULL, sentiment = ?, negative_prob = ?, causes = ?,"
        " cause_probs = ?, terms = ?, model_version = ?, scored_at = ?, risk = ?, risk_factors = ?, priority = ?,"
        " case_id = ?, complaints = ? WHERE id = ? AND status = 'pending'",
        updates,
    )
    outcome.scored += len(rows)
    _start_clocks(conn, opened, now, policy, outcome, to_check)
    for case_id in to_check:
        outcome.checks[case_id], escalated = check_case_in_tx(conn, case_id, now, policy, webhook_url,
                                                              wecom_url=wecom_url)
        outcome.escalated += escalated
    return [row["id"] for row in rows]


def _start_clocks(conn: sqlite3.Connection, opened: Mapping[int, str], now: datetime, policy: SlaPolicy,
                  outcome: ApplyOutcome, to_check: dict[int, None]) -> None:
    """Set the clocks of the cases the batch opened. They all start now, unpaused, so their clocks
    depend on their priority alone: the calendar walk runs once per priority, not once per case."""
    by_priority: dict[str, cases.Clocks] = {}
    plain: list[tuple[str | None, str | None, str | None, int]] = []
    for case_id, level in opened.items():
        clocks = by_priority.get(level)
        if clocks is None:
            clocks = by_priority[level] = cases.compute_clocks(
                priority=level, started_at=now, first_contacted_at=None, resolved_at=None,
                active=True, pauses=(), policy=policy, now=now)
        if clocks.first_contact == "ok" and clocks.resolution == "ok":
            plain.append((_db_time(clocks.first_contact_due), _db_time(clocks.resolution_due),
                          _db_time(clocks.next_check), case_id))
            outcome.checks[case_id] = clocks.next_check
        else:  # a clock already at risk on opening (an odd policy): the general check audits it
            to_check[case_id] = None
    conn.executemany(
        "UPDATE cases SET first_contact_due = ?, resolution_due = ?, sla_next_check_at = ? WHERE id = ?", plain)


class _RecentComplaints:
    """The risk score's "prior complaints": a customer's reviews with a priority in the 30 days up
    to a review's own time. Read once for the batch, then kept up to date as the batch assigns
    priorities (the batch's own reviews are still pending, so none of them is in the read)."""

    def __init__(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> None:
        customers = sorted({row["customer_id"] for row in rows})
        earliest = min(from_db(row["created_at"]) for row in rows) - risk.REPEAT_WINDOW
        marks = ",".join("?" * len(customers))
        self.seen: dict[str, list[tuple[str, int]]] = {c: [] for c in customers}
        for r in conn.execute(
            f"SELECT customer_id, created_at, id FROM reviews WHERE customer_id IN ({marks})"
            f" AND created_at >= ? AND priority IS NOT NULL",
            [*customers, to_db(earliest)],
        ):
            self.seen[r["customer_id"]].append((r["created_at"], r["id"]))

    def before(self, row: sqlite3.Row) -> int:
        start = to_db(from_db(row["created_at"]) - risk.REPEAT_WINDOW)
        return sum(1 for created, pk in self.seen[row["customer_id"]]
                   if start <= created <= row["created_at"] and pk != row["id"])

    def add(self, row: sqlite3.Row) -> None:
        self.seen[row["customer_id"]].append((row["created_at"], row["id"]))


def _db_time(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


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
