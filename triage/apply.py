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

Statements per batch, for the single writer's sake, whatever the batch's size: one read of the
reviews and one of their customers' recent complaints (kept up to date in memory as the batch
assigns priorities), one read of their customers' active cases; the case rules of
`triage.cases.add_review` (open or join, raise the priority, merge causes, reasons, value tier, the
latest review's product) are worked out in memory in review order, then written with one
`executemany` each: new cases (complete, clocks included), joined cases, case events, reviews
(scores, case and product-alert stamp together). Reviews that need no case cost no statement of
their own; the JSON columns arrive serialised from the scoring machines. The clocks of the cases a
batch opens are computed once per priority (they all start now, unpaused); only a case whose
priority a join raised, or one whose clocks are not plain on opening, gets the general SLA check.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from triage import cases, priority, risk
from triage.alerts.store import AlertCounts
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
    candidates: dict[int, list[Mapping[str, Any]]] = {}
    for r in results:
        candidates.setdefault(int(r["pk"]), []).append(r)
    outcome = ApplyOutcome()
    if not candidates:
        return outcome
    by_pk: dict[int, Mapping[str, Any]] = {}
    with transaction(conn):
        marks = ",".join("?" * len(candidates))
        rows = conn.execute(
            f"SELECT r.id, r.customer_id, r.rating, r.created_at, r.text, r.revision, r.case_id, r.platform,"
            f" r.review_id, r.product_id, r.category, r.alert_counted, COALESCE(r.customer_ltv, c.ltv) AS ltv"
            f" FROM reviews r LEFT JOIN customers c ON c.customer_id = r.customer_id"
            f" WHERE r.id IN ({marks}) AND r.status = 'pending' ORDER BY r.created_at, r.id",
            list(candidates),
        ).fetchall()
        failed: list[tuple[str, int]] = []
        good: list[sqlite3.Row] = []
        for row in rows:
            # Several results for one review (jobs applied together, see triage.jobs.database): the
            # first that fits the review's text is applied, as one job after another would apply it;
            # a later one is skipped, as its job would find the review no longer pending.
            fingerprint = None
            for result in candidates[row["id"]]:
                if "text_sha1" in result:
                    fingerprint = fingerprint or text_fingerprint(row["text"])
                    if result["text_sha1"] != fingerprint:
                        continue  # scores for an earlier revision's text
                by_pk[row["id"]] = result
                if "error" in result:
                    failed.append((str(result["error"])[:1000], row["id"]))
                else:
                    good.append(row)
                break
        outcome.skipped = len(results) - len(failed) - len(good)
        if failed:
            conn.executemany("UPDATE reviews SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'",
                             failed)
            outcome.failed = len(failed)
        _apply_scored(conn, good, by_pk, now, policy, ltv_threshold, webhook_url, wecom_url, outcome)
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
) -> None:
    """Score `rows` (pending, current text, no error)."""
    if not rows:
        return
    stamp = to_db(now)
    complaints = _RecentComplaints(conn, rows)
    book = _CaseBook(conn, rows, stamp)
    counts = AlertCounts()
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
        decided = priority.decide(assessed, row["text"], causes, row["rating"])
        case: _Case | int | None = row["case_id"]
        if row["revision"] > 1 and case is not None and not assessed.complaint:
            _mark_if_revised_upward(conn, row, result, now, book)
        if decided.priority is not None:
            case = book.add(row, decided.priority, assessed, causes, decided.reasons)
            complaints.add(row)
        factors = {**assessed.to_json(), "priority": decided.priority,
                   "safety": [{"code": h.code, "label": h.label, "term": h.term, "start": h.start, "end": h.end}
                              for h in decided.safety]}
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
            stamp,
            round(assessed.score, 6),
            _dumps(factors),
            decided.priority,
            case,  # a case the batch opens has its id once the book is written
            stored.get("complaints") or _dumps(list(result.get("complaints") or [])),
            # What the product alerts count the review as, in the same statement (see triage.alerts.store).
            counts.add(row["alert_counted"], row["created_at"], row["product_id"], row["category"], causes),
            row["id"],
        ])
    book.write(conn, now, policy, outcome)
    for update in updates:
        if isinstance(update[10], _Case):
            update[10] = update[10].id
    # The statement counts its own pending -> scored moves (bumping status_self_counted tells the
    # counters trigger so, migration 065): one counters UPDATE for the batch instead of one per row.
    # A database without that migration yet counts through its trigger, as before.
    counts_itself = conn.execute(
        "SELECT 1 FROM pragma_table_info('reviews') WHERE name = 'status_self_counted'").fetchone() is not None
    moved = conn.executemany(
        "UPDATE reviews SET status = 'scored', error = NULL, sentiment = ?, negative_prob = ?, causes = ?,"
        " cause_probs = ?, terms = ?, model_version = ?, scored_at = ?, risk = ?, risk_factors = ?, priority = ?,"
        " case_id = ?, complaints = ?, alert_counted = ?"
        + (", status_self_counted = COALESCE(status_self_counted, 0) + 1" if counts_itself else "")
        + " WHERE id = ? AND status = 'pending'",
        updates,
    ).rowcount
    if moved and counts_itself:
        conn.execute(
            "UPDATE counters SET value = value + (CASE name WHEN 'reviews:scored' THEN ? ELSE -? END)"
            " WHERE name IN ('reviews:scored', 'reviews:pending')",
            (moved, moved),
        )
    outcome.scored += len(rows)
    # Product alerts count the batch in the same transaction, so counters and scores never disagree.
    outcome.alert_counts = counts.write(conn, now)
    for case_id in book.to_check:
        outcome.checks[case_id], escalated = check_case_in_tx(conn, case_id, now, policy, webhook_url,
                                                              wecom_url=wecom_url)
        outcome.escalated += escalated


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _dumps(value: Any) -> str:
    # json.dumps(value, ensure_ascii=False), without building an encoder per call.
    return _ENCODER.encode(value)


@dataclass(eq=False)
class _Case:
    """A customer's active case as the batch leaves it: read from the database (id known) or opened
    by the batch (id once written)."""

    customer_id: str
    priority: str
    causes: list[str]
    risk: float
    reasons: list[dict[str, Any]]
    value_tier: str | None
    customer_ltv: float | None
    shown: tuple[Any, Any, Any]  # product, category and platform of its latest review
    id: int | None = None
    opened_by_batch: bool = False
    joins: int = 0
    changed: bool = False
    stored: dict[str, Any] = field(default_factory=dict)  # the row as read (an existing case)


class _CaseBook:
    """The batch's customers' active cases (one per customer), changed in memory by the rules of
    `triage.cases.add_review` and `triage.priority`, then written in a few statements.

    The batch holds the write lock from its first read to its COMMIT, so no other writer can open,
    join or close one of these cases meanwhile: what the book read stays true until it writes.
    """

    def __init__(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], stamp: str) -> None:
        self.stamp = stamp
        self.active: dict[str, _Case] = {}
        self.opened: list[_Case] = []
        self.to_check: dict[int, None] = {}  # cases whose SLA needs the general check, in order
        # (case, kind, to_status, detail) in the order `add_review` would have written them.
        self.events: list[tuple[_Case, str, str | None, dict[str, Any]]] = []
        customers = sorted({row["customer_id"] for row in rows})
        marks = ",".join("?" * len(customers))
        for r in conn.execute(
            f"SELECT id, customer_id, priority, causes, risk, priority_reasons, value_tier, customer_ltv,"
            f" product_id, category, platform FROM cases"
            f" WHERE customer_id IN ({marks}) AND status NOT IN ('resolved', 'closed')",
            customers,
        ):
            self.active[r["customer_id"]] = _Case(
                r["customer_id"], r["priority"], json.loads(r["causes"]), r["risk"],
                json.loads(r["priority_reasons"] or "[]"), r["value_tier"], r["customer_ltv"],
                (r["product_id"], r["category"], r["platform"]), id=r["id"], stored=dict(r))

    def event(self, case: _Case, kind: str, detail: dict[str, Any], to_status: str | None = None) -> None:
        self.events.append((case, kind, to_status, detail))

    def existing(self, case_id: int) -> _Case:
        """A case by id for an event of its own (it need not be active)."""
        for case in self.active.values():
            if case.id == case_id:
                return case
        return _Case("", "P3", [], 0.0, [], None, None, (None, None, None), id=case_id)

    def add(self, row: sqlite3.Row, level: str, assessed: risk.Risk, causes: Sequence[str],
            reasons: list[dict[str, Any]]) -> _Case:
        """Put an at-risk review into its customer's active case, opening one if there is none."""
        score = assessed.score
        detail = {"review_pk": row["id"], "priority": level, "risk": round(score, 4)}
        case = self.active.get(row["customer_id"])
        if case is None:
            case = _Case(row["customer_id"], level, cases.ordered_causes(causes), score, [], None, None,
                         (None, None, None), opened_by_batch=True)
            self.active[row["customer_id"]] = case
            self.opened.append(case)
            self.event(case, "opened", detail, to_status="open")
        else:
            case.joins += 1
            case.causes = cases.ordered_causes([*case.causes, *causes])
            case.risk = max(case.risk, score)
            self.event(case, "review_added", detail)
            raised = cases.higher_priority(case.priority, level)
            if raised != case.priority:
                self.event(case, "priority_changed", {"from": case.priority, "to": raised, "review_pk": row["id"]})
                case.priority = raised
                if case.id is not None:  # a raise moves an existing case's dues: the general check
                    self.to_check[case.id] = None
        case.changed = True
        case.shown = (row["product_id"], row["category"], row["platform"])
        # The case's customer value (LTV, top-10 % tier) as of this review, and its merged reasons.
        case.reasons = priority.merge_reasons(case.reasons, reasons)
        case.value_tier = "top" if assessed.factors.get("top_customer") else "regular"
        if row["ltv"] is not None:
            case.customer_ltv = row["ltv"]
        return case

    def write(self, conn: sqlite3.Connection, now: datetime, policy: SlaPolicy, outcome: ApplyOutcome) -> None:
        stamp = self.stamp
        plain: list[_Case] = []
        if self.opened:
            clocks_of = _opening_clocks({case.priority for case in self.opened}, now, policy)
            inserts = []
            for case in self.opened:
                clocks = clocks_of[case.priority]
                if clocks is not None:
                    plain.append(case)
                inserts.append((
                    case.customer_id, case.priority, json.dumps(case.causes), case.risk, stamp, stamp, stamp,
                    _db_time(clocks.first_contact_due) if clocks else None,
                    _db_time(clocks.resolution_due) if clocks else None,
                    _db_time(clocks.next_check) if clocks else None,
                    1 + case.joins, _dumps(case.reasons), case.customer_ltv, case.value_tier, *case.shown,
                ))
            # The batch counts its new cases itself where the schema lets it (migration 065): one
            # counters UPDATE per priority and one change-counter upsert, instead of three
            # triggers per case. They open 'open', clocks 'ok', at `stamp`, with no agent, contact
            # or resolution, so their CS columns are already what migration 020 defines.
            counts_itself = conn.execute(
                "SELECT 1 FROM pragma_table_info('cases') WHERE name = 'opened_self_counted'").fetchone() is not None
            conn.executemany(
                "INSERT INTO cases (customer_id, priority, status, causes, risk, opened_at, updated_at, sla_started_at,"
                " first_contact_due, resolution_due, sla_next_check_at, version, priority_reasons, customer_ltv,"
                " value_tier, product_id, category, platform"
                + (", opened_self_counted) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
                   if counts_itself else ") VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                inserts,
            )
            if counts_itself:
                opened = Counter(case.priority for case in self.opened)
                conn.executemany("UPDATE counters SET value = value + ? WHERE name = 'cases:open:' || ?",
                                 [(n, level) for level, n in sorted(opened.items())])
                conn.execute("INSERT INTO cs_changes (hour, n) VALUES (substr(?, 1, 13), ?)"
                             " ON CONFLICT (hour) DO UPDATE SET n = n + excluded.n", (stamp, len(self.opened)))
            marks = ",".join("?" * len(self.opened))
            ids = dict(conn.execute(
                f"SELECT customer_id, id FROM cases WHERE customer_id IN ({marks})"
                f" AND status NOT IN ('resolved', 'closed')", [case.customer_id for case in self.opened]).fetchall())
            for case in self.opened:
                case.id = ids[case.customer_id]
                clocks = clocks_of[case.priority]
                if clocks is not None:
                    outcome.checks[case.id] = clocks.next_check
                else:  # a clock already at risk on opening (an odd policy): the general check audits it
                    self.to_check[case.id] = None
        # A joined case's row gets only the columns whose value changed: SQLite rewrites the entries
        # of every index on an assigned column (priority and value tier feed the queue's five
        # indexes; product, category and platform one each) whether or not the value moved.
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for case in self.active.values():
            if not case.changed or case.opened_by_batch:
                continue
            now_values = {"priority": case.priority, "causes": json.dumps(case.causes), "risk": case.risk,
                          "priority_reasons": _dumps(case.reasons), "customer_ltv": case.customer_ltv,
                          "value_tier": case.value_tier, "product_id": case.shown[0], "category": case.shown[1],
                          "platform": case.shown[2]}
            columns = tuple(c for c, v in now_values.items() if v != case.stored[c] or type(v) is not type(case.stored[c]))
            by_columns.setdefault(columns, []).append((stamp, case.joins, *(now_values[c] for c in columns), case.id))
        for columns, params in by_columns.items():
            conn.executemany(
                "UPDATE cases SET updated_at = ?, version = version + ?"
                + "".join(f", {column} = ?" for column in columns) + " WHERE id = ?",
                params,
            )
        conn.executemany(
            "INSERT INTO case_events (case_id, at, actor, kind, from_status, to_status, detail)"
            " VALUES (?, ?, 'system', ?, NULL, ?, ?)",
            [(case.id, stamp, kind, to_status, _dumps(detail)) for case, kind, to_status, detail in self.events],
        )


def _opening_clocks(levels: set[str], now: datetime, policy: SlaPolicy) -> dict[str, cases.Clocks | None]:
    """The clocks of a case opened now at each priority: they all start now, unpaused, so they
    depend on the priority alone (the calendar walk runs once per priority, not once per case).
    None where a clock is not plainly running on opening (an odd policy)."""
    out: dict[str, cases.Clocks | None] = {}
    for level in levels:
        clocks = cases.compute_clocks(priority=level, started_at=now, first_contacted_at=None, resolved_at=None,
                                      active=True, pauses=(), policy=policy, now=now)
        out[level] = clocks if clocks.first_contact == "ok" and clocks.resolution == "ok" else None
    return out


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
        seen = self.seen[row["customer_id"]]
        if not seen:
            return 0
        start = to_db(from_db(row["created_at"]) - risk.REPEAT_WINDOW)
        return sum(1 for created, pk in seen if start <= created <= row["created_at"] and pk != row["id"])

    def add(self, row: sqlite3.Row) -> None:
        self.seen[row["customer_id"]].append((row["created_at"], row["id"]))


def _db_time(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


def _mark_if_revised_upward(conn: sqlite3.Connection, row: sqlite3.Row, result: Mapping[str, Any],
                            now: datetime, book: _CaseBook) -> None:
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
        book.event(book.existing(case_id), "revised_upward", {
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
