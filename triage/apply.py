"""Store a batch of scoring results, then risk and cases. Runs on the database host.

Idempotent: only reviews still ``pending`` are touched, all in one transaction, so a second run of
the same results (a retried or duplicated job) finds nothing to do and changes nothing.
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

from classifier.causes import CAUSES
from triage import cases, risk
from triage.db import transaction
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
) -> ApplyOutcome:
    """Apply `results` (from `triage.jobs.scoring.score_items`): each {"pk", "model_version", sentiment,
    negative_prob, causes, cause_probs, terms, cause_terms} or {"pk", "error"}.

    The whole batch is one transaction and a fixed number of statements, whatever its size: one
    read of the reviews, one of the customers' recent complaints, one of their active cases; risk
    and case membership are worked out in Python in review order (as if one review were applied
    after another); then one INSERT per new case, and one `executemany` each for the joined cases,
    the case events and the reviews. Only a case whose priority a join raised goes through the
    general SLA check (`check_case_in_tx`); a new case gets its clocks in its INSERT.
    """
    by_pk = {int(r["pk"]): r for r in results}
    outcome = ApplyOutcome()
    if not by_pk:
        return outcome
    with transaction(conn):
        marks = ",".join("?" * len(by_pk))
        rows = conn.execute(
            f"SELECT r.id, r.customer_id, r.rating, r.created_at, COALESCE(r.customer_ltv, c.ltv) AS ltv"
            f" FROM reviews r LEFT JOIN customers c ON c.customer_id = r.customer_id"
            f" WHERE r.id IN ({marks}) AND r.status = 'pending' ORDER BY r.created_at, r.id",
            list(by_pk),
        ).fetchall()
        outcome.skipped = len(by_pk) - len(rows)
        failed = [row for row in rows if "error" in by_pk[row["id"]]]
        good = [row for row in rows if "error" not in by_pk[row["id"]]]
        if failed:
            conn.executemany(
                "UPDATE reviews SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'",
                [(str(by_pk[row["id"]]["error"])[:1000], row["id"]) for row in failed],
            )
            outcome.failed = len(failed)
        if good:
            _apply_scored(conn, good, by_pk, now, policy, ltv_threshold, webhook_url, outcome)
    return outcome


def _apply_scored(
    conn: sqlite3.Connection,
    rows: Sequence[sqlite3.Row],
    by_pk: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: SlaPolicy,
    ltv_threshold: float | None,
    webhook_url: str | None,
    outcome: ApplyOutcome,
) -> None:
    complaints = _RecentComplaints(conn, rows)
    book = _CaseBook(conn, {row["customer_id"] for row in rows}, now)
    updates: list[list[Any]] = []
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
        case = None
        if assessed.priority is not None:
            case = book.add(row["customer_id"], row["id"], assessed.priority, assessed.score, causes)
            complaints.add(row)
        # Results from `score_items` carry their JSON columns ready (serialised on the scoring
        # machine); older ones, still queued from before an upgrade, are serialised here.
        stored = result.get("stored") or stored_json(result)
        updates.append([
            result["sentiment"],
            float(result["negative_prob"]),
            stored["causes"],
            stored["cause_probs"],
            stored["terms"],
            result.get("model_version"),
            to_db(now),
            round(assessed.score, 6),
            json.dumps(assessed.to_json()),
            assessed.priority,
            case,  # resolved to the case id once new cases are inserted
            row["id"],
        ])
    book.flush(conn, policy, outcome)
    outcome.scored += len(rows)
    for update in updates:
        if update[10] is not None:
            update[10] = update[10].id
    conn.executemany(
        "UPDATE reviews SET status = 'scored', error = NULL, sentiment = ?, negative_prob = ?, causes = ?,"
        " cause_probs = ?, terms = ?, model_version = ?, scored_at = ?, risk = ?, risk_factors = ?, priority = ?,"
        " case_id = ? WHERE id = ? AND status = 'pending'",
        updates,
    )
    # A plain join leaves the dues, the stored states and the armed timer as they were; a raised
    # priority moves the dues, so those cases get the full check (and escalation if now breached).
    for case_id in book.raised_existing():
        next_check, escalated = check_case_in_tx(conn, case_id, now, policy, webhook_url)
        outcome.checks[case_id] = next_check
        outcome.escalated += escalated
    for case_id in book.needs_check:
        next_check, escalated = check_case_in_tx(conn, case_id, now, policy, webhook_url)
        outcome.checks[case_id] = next_check
        outcome.escalated += escalated


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


@dataclass
class _Case:
    """A case as the batch leaves it: loaded (id known) or opened by the batch (id after flush)."""

    customer_id: str
    priority: str
    causes: list[str]
    risk: float
    id: int | None = None
    joins: int = 0
    raised: bool = False


class _CaseBook:
    """The batch's view of its customers' active cases (one per customer), changed in memory and
    written by `flush`, with the same events `triage.cases.add_review` would have written."""

    def __init__(self, conn: sqlite3.Connection, customers: set[str], now: datetime) -> None:
        self.now = now
        self.active: dict[str, _Case] = {}
        self.opened: list[_Case] = []
        self.events: list[tuple[_Case, str, str | None, dict[str, Any]]] = []
        self.needs_check: list[int] = []
        ordered = sorted(customers)
        marks = ",".join("?" * len(ordered))
        for r in conn.execute(
            f"SELECT id, customer_id, priority, causes, risk FROM cases"
            f" WHERE customer_id IN ({marks}) AND status NOT IN ('resolved', 'closed')",
            ordered,
        ):
            self.active[r["customer_id"]] = _Case(r["customer_id"], r["priority"], json.loads(r["causes"]),
                                                  r["risk"], id=r["id"])

    def add(self, customer_id: str, review_pk: int, priority: str, score: float, causes: Sequence[str]) -> _Case:
        detail = {"review_pk": review_pk, "priority": priority, "risk": round(score, 4)}
        case = self.active.get(customer_id)
        if case is None:
            case = _Case(customer_id, priority, _ordered_causes(causes), score)
            self.active[customer_id] = case
            self.opened.append(case)
            self.events.append((case, "opened", "open", detail))
            return case
        case.joins += 1
        case.causes = _ordered_causes([*case.causes, *causes])
        case.risk = max(case.risk, score)
        self.events.append((case, "review_added", None, detail))
        raised = cases.higher_priority(case.priority, priority)
        if raised != case.priority:
            self.events.append((case, "priority_changed", None,
                                {"from": case.priority, "to": raised, "review_pk": review_pk}))
            case.priority = raised
            case.raised = True
        return case

    def flush(self, conn: sqlite3.Connection, policy: SlaPolicy, outcome: ApplyOutcome) -> None:
        stamp = to_db(self.now)
        # Every case the batch opens starts now, unpaused: its clocks depend on its priority alone,
        # so the calendar walk runs at most once per priority, not once per case.
        by_priority: dict[str, cases.Clocks] = {}
        for case in self.opened:
            clocks = by_priority.get(case.priority)
            if clocks is None:
                clocks = by_priority[case.priority] = cases.compute_clocks(
                    priority=case.priority, started_at=self.now, first_contacted_at=None, resolved_at=None,
                    active=True, pauses=(), policy=policy, now=self.now)
            plain = clocks.first_contact == "ok" and clocks.resolution == "ok"
            case.id = conn.execute(
                "INSERT INTO cases (customer_id, priority, status, causes, risk, opened_at, updated_at, sla_started_at,"
                " first_contact_due, resolution_due, sla_next_check_at, version)"
                " VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (case.customer_id, case.priority, json.dumps(case.causes), case.risk, stamp, stamp, stamp,
                 _db_time(clocks.first_contact_due) if plain else None,
                 _db_time(clocks.resolution_due) if plain else None,
                 _db_time(clocks.next_check) if plain else None, 1 + case.joins),
            ).fetchone()[0]
            if plain:
                outcome.checks[case.id] = clocks.next_check
            else:  # a clock already at risk on opening (an odd policy): the general check audits it
                self.needs_check.append(case.id)
        opened = {id(c) for c in self.opened}
        joined = [c for c in self.active.values() if c.joins and id(c) not in opened]
        conn.executemany(
            "UPDATE cases SET priority = ?, causes = ?, risk = ?, updated_at = ?, version = version + ? WHERE id = ?",
            [(c.priority, json.dumps(c.causes), c.risk, stamp, c.joins, c.id) for c in joined],
        )
        conn.executemany(
            "INSERT INTO case_events (case_id, at, actor, kind, from_status, to_status, detail)"
            " VALUES (?, ?, 'system', ?, NULL, ?, ?)",
            [(case.id, stamp, kind, to_status, json.dumps(detail, ensure_ascii=False))
             for case, kind, to_status, detail in self.events],
        )

    def raised_existing(self) -> list[int]:
        opened = {id(c) for c in self.opened}
        return [c.id for c in self.active.values() if c.raised and id(c) not in opened]


def _ordered_causes(causes: Iterable[str]) -> list[str]:
    wanted = set(causes)
    return [c for c in CAUSES if c in wanted] + sorted(wanted - set(CAUSES))


def _db_time(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


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
