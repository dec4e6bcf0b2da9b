"""Alerts in SQLite: hourly counters fed by the apply path, the incremental detection run, actions.

Counting. The apply path counts the reviews it scores inside its transaction (`AlertCounts`, its
stamps stored with the scores; `record_reviews` does the same for reviews already stored): each
review adds one to its product's, its category's and the overall review count for its hour, and one
to the complaint count of each of its causes. What a review was counted as is kept on the review
(`reviews.alert_counted`), so a re-scored revision or a correction moves its counts instead of adding
them twice. The touched product and category are marked dirty (`alert_dirty`).

Detection. `detect` takes the dirty scopes and, for each cause, reads that scope's counters for the
baseline and the windows (a few hundred rows at most: never a scan of the reviews), judges them with
`triage.alerts.detect.evaluate`, and opens an alert or lets new matching reviews join the one that is
open. Windows are whole UTC hours (`triage.alerts.detect.window_start`): the 24-hour window is the
current hour and the 24 before it.
After a resolve, counting restarts at the next full hour.

A category alert is judged on the category's complaints minus those of its products that have an
alert for the cause (active, or resolved within the last 7 days), so one bad product raises one
alert, not two.

One alert per scope and cause is active (open or acknowledged) at a time: the partial unique index
`alerts_one_active` enforces it.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from classifier.causes import CAUSES
from triage.alerts.detect import (
    DEFAULT_PARAMS,
    Counts,
    Decision,
    DetectorParams,
    WindowCounts,
    baseline_start,
    category_rate,
    evaluate,
    floor_hour,
    window_start,
)
from triage.alerts.terms import evidence_from_stored, recurring_terms
from triage.db import transaction
from triage.timeutil import from_db, to_db, to_wire

__all__ = [
    "ACTIONS",
    "RESOLUTIONS",
    "STATUSES",
    "AlertActionError",
    "AlertCounts",
    "AlertNotFound",
    "DetectOutcome",
    "act",
    "add_alert_event",
    "alert_events",
    "alert_json",
    "alert_reviews",
    "daily_counts",
    "detect",
    "get_alert",
    "list_alerts",
    "record_reviews",
]

STATUSES = ("open", "acknowledged", "resolved")
ACTIONS = ("acknowledge", "resolve")
# 详情页已修改, 联系供应商质检, 更换物流/仓库, 下架, 其他
RESOLUTIONS = ("listing_fixed", "supplier_qc", "logistics_changed", "delisted", "other")
OVERALL = "all"
TOTAL = ""  # the counters' cause for "every review"
MAX_CATEGORY_REVIEWS = 200  # a category alert lists its most recent reviews only
HOUR = timedelta(hours=1)


class AlertNotFound(LookupError):
    """No alert with that id."""


class AlertActionError(ValueError):
    """The action cannot be taken on this alert (bad field, or the alert is resolved)."""

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


def product_scope(product_id: str) -> str:
    return f"p:{product_id}"


def category_scope(category: str) -> str:
    return f"c:{category}"


def _causes(value: str | None) -> list[str]:
    try:
        parsed = json.loads(value) if value else []
    except ValueError:
        return []
    return [c for c in parsed if c in CAUSES] if isinstance(parsed, list) else []


# ------------------------------------------------------------------ counting (apply path)


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps(..., ensure_ascii=False) without one per call


def _hour_of(created_at: str) -> str:
    """The stored start of the UTC hour of a stored time (`to_db(floor_hour(from_db(...)))`)."""
    # Stored times are to_db's fixed-width UTC text: the hour is a prefix. Anything else is parsed.
    if len(created_at) == 32 and created_at.endswith("+00:00"):
        return created_at[:13] + ":00:00.000000+00:00"
    return to_db(floor_hour(from_db(created_at)))


class AlertCounts:
    """What a set of reviews counts as in the hourly counters, gathered review by review, then
    written as one upsert per (scope, cause, hour) and one per dirty scope (inside the caller's
    transaction). `add` gives the review's new `alert_counted` stamp, for the caller to store in
    the statement that stores the review (the apply path does, with its scores)."""

    def __init__(self) -> None:
        self.delta: Counter[tuple[str, str, str]] = Counter()
        self.dirty: dict[str, str | None] = {}
        self.changed = 0

    def add(self, counted: str | None, created_at: str, product_id: str, category: str | None,
            causes: str | Sequence[str] | None, *, scored: bool = True) -> str | None:
        """Count a review (stored as `counted`, None if never) as it is now; its new stamp.
        `causes` is the review's stored causes column, or the list it holds."""
        now_counts = None
        if scored:
            known = _causes(causes) if causes is None or isinstance(causes, str) else [c for c in causes if c in CAUSES]
            now_counts = {"hour": _hour_of(created_at), "product": product_id, "category": category, "causes": known}
        before = json.loads(counted) if counted else None
        if before == now_counts:
            return counted
        self.changed += 1
        delta, dirty = self.delta, self.dirty
        for entry, sign in ((before, -1), (now_counts, 1)):
            if entry is None:
                continue
            hour, category = entry["hour"], entry["category"]
            product = product_scope(entry["product"])
            scopes = (product, OVERALL, category_scope(category)) if category else (product, OVERALL)
            for scope in scopes:
                delta[(scope, TOTAL, hour)] += sign
                for cause in entry["causes"]:
                    delta[(scope, cause, hour)] += sign
            dirty[product] = category
            if category:
                dirty[category_scope(category)] = category
        return _ENCODER.encode(now_counts) if now_counts else None

    def write(self, conn: sqlite3.Connection, now: datetime) -> int:
        """Apply the gathered counts; how many reviews changed what they count as."""
        conn.executemany(
            "INSERT INTO alert_counters (scope, cause, hour, n) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (scope, cause, hour) DO UPDATE SET n = n + excluded.n",
            [(scope, cause, hour, n) for (scope, cause, hour), n in self.delta.items() if n],
        )
        marked_at = to_db(now)
        conn.executemany(
            "INSERT INTO alert_dirty (scope, category, marked_at) VALUES (?, ?, ?)"
            " ON CONFLICT (scope) DO UPDATE SET category = excluded.category, marked_at = excluded.marked_at",
            [(scope, category, marked_at) for scope, category in self.dirty.items()],
        )
        changed, self.changed = self.changed, 0
        self.delta.clear()
        self.dirty.clear()
        return changed


def record_reviews(conn: sqlite3.Connection, pks: Iterable[int], now: datetime) -> int:
    """Bring the counters in line with the scored reviews `pks` (inside the caller's transaction).

    Returns how many reviews changed what they count as. Idempotent: a review already counted as
    it is now changes nothing.
    """
    pks = list(pks)
    if not pks:
        return 0
    counts = AlertCounts()
    stamps: list[tuple[str | None, int]] = []
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, product_id, category, created_at, causes, status, alert_counted FROM reviews"
            f" WHERE id IN ({marks})", chunk,
        ).fetchall()
        for row in rows:
            stamp = counts.add(row["alert_counted"], row["created_at"], row["product_id"],
                               row["category"], row["causes"], scored=row["status"] == "scored")
            if stamp != row["alert_counted"]:
                stamps.append((stamp, row["id"]))
    conn.executemany("UPDATE reviews SET alert_counted = ? WHERE id = ?", stamps)
    return counts.write(conn, now)


# ------------------------------------------------------------------ detection (database-host job)


@dataclass
class DetectOutcome:
    scopes: int = 0
    opened: list[int] = field(default_factory=list)
    joined: int = 0  # reviews that joined an active alert

    def summary(self) -> dict[str, Any]:
        return {"scopes": self.scopes, "opened": len(self.opened), "joined": self.joined}


class _Series:
    """One scope's hourly counters from `since` on, summed per cause over any range.

    Per cause, the hours in order and their running totals: a range is two bisections, so judging
    many windows costs little more than judging one.
    """

    def __init__(self, conn: sqlite3.Connection, scope: str, since: datetime) -> None:
        rows: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for r in conn.execute("SELECT cause, hour, n FROM alert_counters WHERE scope = ? AND hour >= ?",
                              (scope, to_db(since))):
            rows[r["cause"]].append((r["hour"], r["n"]))
        self.hours: dict[str, list[str]] = {}
        self.running: dict[str, list[int]] = {}
        for cause, items in rows.items():
            items.sort()
            self.hours[cause] = [hour for hour, _ in items]
            self.running[cause] = list(accumulate((n for _, n in items), initial=0))

    def total(self, cause: str, start: datetime, end: datetime | None = None) -> int:
        return self.sum(cause, to_db(start), None if end is None else to_db(end))

    def sum(self, cause: str, lo: str, hi: str | None = None) -> int:
        """The counts of hours in [lo, hi) (stored hour text; no end: up to now)."""
        hours = self.hours.get(cause)
        if not hours:
            return 0
        running = self.running[cause]
        first = bisect_left(hours, lo)
        last = len(hours) if hi is None else bisect_left(hours, hi)
        return running[last] - running[first] if last > first else 0

    def counts(self, cause: str, start: datetime, end: datetime | None = None) -> Counts:
        reviews = self.total(TOTAL, start, end)
        return Counts(min(self.total(cause, start, end), reviews), reviews)


def _active(conn: sqlite3.Connection, scope: str, cause: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM alerts WHERE scope_key = ? AND cause = ? AND status != 'resolved'",
                        (scope, cause)).fetchone()


def _last_resolved(conn: sqlite3.Connection, scope: str, cause: str) -> datetime | None:
    row = conn.execute("SELECT MAX(resolved_at) FROM alerts WHERE scope_key = ? AND cause = ? AND status = 'resolved'",
                       (scope, cause)).fetchone()
    return from_db(row[0]) if row and row[0] else None


def add_alert_event(conn: sqlite3.Connection, alert_id: int, kind: str, now: datetime, *, actor: str = "system",
                    detail: dict[str, Any] | None = None) -> None:
    conn.execute("INSERT INTO alert_events (alert_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
                 (alert_id, to_db(now), actor, kind, json.dumps(detail or {}, ensure_ascii=False)))


def _matching_reviews(conn: sqlite3.Connection, alert: sqlite3.Row | dict[str, Any], since: datetime) -> list[int]:
    """Scored reviews of the alert's scope carrying its cause, created from `since` on, not yet joined."""
    common = (" AND r.status = 'scored' AND r.created_at >= ?"
              " AND EXISTS (SELECT 1 FROM json_each(r.causes) WHERE value = ?)"
              " AND NOT EXISTS (SELECT 1 FROM alert_reviews ar WHERE ar.alert_id = ? AND ar.review_pk = r.id)")
    if alert["product_id"] is not None:
        rows = conn.execute(f"SELECT r.id FROM reviews r WHERE r.product_id = ?{common} ORDER BY r.created_at",
                            (alert["product_id"], to_db(since), alert["cause"], alert["id"])).fetchall()
    else:
        rows = conn.execute(
            f"SELECT r.id FROM reviews r WHERE r.category = ?{common} ORDER BY r.created_at DESC LIMIT ?",
            (alert["category"], to_db(since), alert["cause"], alert["id"], MAX_CATEGORY_REVIEWS),
        ).fetchall()
    return [r[0] for r in rows]


def _refresh_terms(conn: sqlite3.Connection, alert_id: int, cause: str) -> None:
    rows = conn.execute(
        "SELECT r.* FROM alert_reviews ar JOIN reviews r ON r.id = ar.review_pk"
        " WHERE ar.alert_id = ? ORDER BY ar.review_pk DESC LIMIT 200", (alert_id,),
    ).fetchall()
    evidence = [evidence_from_stored(cause, r["text"], r["terms"], _complaints(_get(r, "complaints"))) for r in rows]
    terms = recurring_terms(evidence)
    conn.execute("UPDATE alerts SET terms = ? WHERE id = ?",
                 (json.dumps([t.to_json() for t in terms], ensure_ascii=False), alert_id))


def _get(row: sqlite3.Row, column: str) -> Any:
    return row[column] if column in row.keys() else None


def _complaints(value: str | None) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(value) if value else []
    except ValueError:
        return []
    return [c for c in parsed if isinstance(c, dict) and {"start", "end", "cause"} <= c.keys()] if isinstance(parsed, list) else []


def _join(conn: sqlite3.Connection, alert: sqlite3.Row | dict[str, Any], since: datetime, now: datetime) -> int:
    pks = _matching_reviews(conn, alert, since)
    conn.executemany("INSERT OR IGNORE INTO alert_reviews (alert_id, review_pk, joined_at) VALUES (?, ?, ?)",
                     [(alert["id"], pk, to_db(now)) for pk in pks])
    return len(pks)


@lru_cache(maxsize=256)
def _bounds(now: datetime, resolved: datetime | None, params: DetectorParams) -> tuple[tuple[str, ...], str, str]:
    """Each window's first hour and the baseline's [start, end), as stored hour text: the same for
    every scope and cause judged in a run (and every resolved one alike), so computed once."""
    starts = tuple(to_db(window_start(now, length, resolved)) for length in params.windows)
    b_start, b_end = baseline_start(now, params)
    return starts, to_db(b_start), to_db(b_end)


def _judge(series: _Series, cause: str, now: datetime, resolved: datetime | None, p_cat: float,
           params: DetectorParams, subtract: Sequence[_Series] = ()) -> Decision | None:
    """The statistic for one scope and cause; None when no window can alert (the windows are nested
    in the longest, and it holds fewer complaints than any window's minimum): most judgements."""
    starts, b_lo, b_hi = _bounds(now, resolved, params)

    def complaints(lo: str) -> int:
        return series.sum(cause, lo) - sum(s.sum(cause, lo) for s in subtract)

    if complaints(starts[params.windows.index(params.long_window)]) < params.min_count:
        return None
    windows = []
    for length, min_count, lo in zip(params.windows, params.min_counts, starts, strict=True):
        k = complaints(lo)
        if k < min_count and length != params.long_window:
            continue  # cannot fire (its tail would be 1.0); the longest stays: the alert reports it
        n = series.sum(TOTAL, lo) - sum(s.sum(TOTAL, lo) for s in subtract)
        windows.append(WindowCounts(length, Counts(max(min(k, max(n, 0)), 0), max(n, 0))))
    reviews = series.sum(TOTAL, b_lo, b_hi)
    baseline = Counts(min(series.sum(cause, b_lo, b_hi), reviews), reviews)
    return evaluate(windows, baseline, p_cat, params)


def detect(
    conn: sqlite3.Connection,
    now: datetime,
    *,
    params: DetectorParams = DEFAULT_PARAMS,
    limit: int = 500,
    outbox: Any = None,
) -> DetectOutcome:
    """Judge the dirty scopes (at most `limit`), each in its own transaction.

    `outbox(conn, alert_json, now)`, when given, is called in the opening transaction of each new
    alert (delivery: see `triage.alerts.deliver`).
    """
    outcome = DetectOutcome()
    dirty = conn.execute(
        "SELECT scope, category, marked_at FROM alert_dirty ORDER BY scope LIKE 'c:%', marked_at LIMIT ?", (limit,),
    ).fetchall()
    b_start, b_end = baseline_start(now, params)
    since = b_start
    rate_cache: dict[tuple[str | None, str], float] = {}
    overall = _Series(conn, OVERALL, b_start)
    # A category's counters serve its products' baselines and its own judgement: read once a run.
    categories: dict[str, _Series] = {}

    def category_series(category: str) -> _Series:
        if category not in categories:
            categories[category] = _Series(conn, category_scope(category), since)
        return categories[category]

    def p_cat(category: str | None, cause: str) -> float:
        key = (category, cause)
        if key not in rate_cache:
            all_counts = overall.counts(cause, b_start, b_end)
            if category is None:
                rate_cache[key] = category_rate(Counts(0, 0), all_counts, params)
            else:
                rate_cache[key] = category_rate(category_series(category).counts(cause, b_start, b_end), all_counts,
                                                params)
        return rate_cache[key]

    for item in dirty:
        scope, category = item["scope"], item["category"]
        is_product = scope.startswith("p:")
        with transaction(conn):
            series = _Series(conn, scope, since) if is_product else category_series(category)
            for cause in CAUSES:
                active = _active(conn, scope, cause)
                if active is not None:
                    outcome.joined += _grow(conn, active, series, now)
                    continue
                resolved = _last_resolved(conn, scope, cause)
                subtract: list[_Series] = []
                if not is_product:
                    # Products whose own alert (active, or resolved within the long window) explains
                    # their complaints do not count toward their category's.
                    subtract = [
                        _Series(conn, product_scope(r[0]), since)
                        for r in conn.execute(
                            "SELECT DISTINCT product_id FROM alerts WHERE category = ? AND cause = ?"
                            " AND product_id IS NOT NULL AND (status != 'resolved' OR resolved_at >= ?)",
                            (category, cause, to_db(now - params.long_window)))
                    ]
                decision = _judge(series, cause, now, resolved, p_cat(category if is_product else None, cause),
                                  params, subtract)
                if decision is not None and decision.alert:
                    alert_id = _open(conn, scope, category, cause, decision, now, resolved, series, params)
                    outcome.opened.append(alert_id)
                    if outbox is not None:
                        outbox(conn, alert_json(conn, get_alert(conn, alert_id)), now)
            conn.execute("DELETE FROM alert_dirty WHERE scope = ? AND marked_at = ?", (scope, item["marked_at"]))
        outcome.scopes += 1
    return outcome


def _open(conn: sqlite3.Connection, scope: str, category: str | None, cause: str, decision: Decision, now: datetime,
          resolved: datetime | None, series: _Series, params: DetectorParams) -> int:
    opened_from = window_start(now, params.long_window, resolved)
    product_id = scope[2:] if scope.startswith("p:") else None
    counts = series.counts(cause, opened_from)
    cur = conn.execute(
        "INSERT INTO alerts (scope_key, product_id, category, cause, status, opened_at, updated_at, window_start,"
        " count, window_reviews, rate, baseline_rate, p_value, fired_window_hours, terms)"
        " VALUES (?, ?, ?, ?, 'open', ?, ?, ?, 0, ?, ?, ?, ?, ?, '[]')",
        (scope, product_id, category, cause, to_db(now), to_db(now), to_db(opened_from), counts.reviews,
         counts.rate, decision.baseline_rate, decision.p_value,
         decision.window.total_seconds() / 3600 if decision.window else None),
    )
    alert_id = int(cur.lastrowid)
    alert = get_alert(conn, alert_id)
    joined = _join(conn, alert, opened_from, now)
    conn.execute("UPDATE alerts SET count = (SELECT COUNT(*) FROM alert_reviews WHERE alert_id = ?) WHERE id = ?",
                 (alert_id, alert_id))
    previous = conn.execute("SELECT MAX(id) FROM alerts WHERE scope_key = ? AND cause = ? AND status = 'resolved'",
                            (scope, cause)).fetchone()[0]
    add_alert_event(conn, alert_id, "opened", now, detail={
        "reviews": joined, "window_hours": decision.window.total_seconds() / 3600 if decision.window else None,
        "p_value": decision.p_value, "window_count": decision.count, "window_reviews": decision.reviews,
        "baseline_rate": round(decision.baseline_rate, 6), "after_alert": previous,
    })
    _refresh_terms(conn, alert_id, cause)
    return alert_id


def _grow(conn: sqlite3.Connection, alert: sqlite3.Row, series: _Series, now: datetime) -> int:
    """New matching reviews join the active alert; its count and rate follow."""
    joined = _join(conn, alert, from_db(alert["window_start"]), now)
    counts = series.counts(alert["cause"], from_db(alert["window_start"]))
    conn.execute(
        "UPDATE alerts SET count = (SELECT COUNT(*) FROM alert_reviews WHERE alert_id = ?), window_reviews = ?,"
        " rate = ?, updated_at = CASE WHEN ? > 0 THEN ? ELSE updated_at END WHERE id = ?",
        (alert["id"], counts.reviews, counts.rate, joined, to_db(now), alert["id"]),
    )
    if joined:
        add_alert_event(conn, alert["id"], "reviews_joined", now, detail={"reviews": joined})
        _refresh_terms(conn, alert["id"], alert["cause"])
    return joined


# ------------------------------------------------------------------ reading


def get_alert(conn: sqlite3.Connection, alert_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise AlertNotFound(f"no alert {alert_id}")
    return row


def list_alerts(conn: sqlite3.Connection, status: str | None = None, *, limit: int = 100,
                offset: int = 0) -> tuple[list[sqlite3.Row], int]:
    """Alerts newest first, optionally of one status; returns (rows, total)."""
    where, args = ("WHERE status = ?", [status]) if status else ("", [])
    total = conn.execute(f"SELECT COUNT(*) FROM alerts {where}", args).fetchone()[0]
    rows = conn.execute(f"SELECT * FROM alerts {where} ORDER BY opened_at DESC, id DESC LIMIT ? OFFSET ?",
                        [*args, limit, offset]).fetchall()
    return rows, total


def alert_reviews(conn: sqlite3.Connection, alert_id: int, *, limit: int = 200) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT r.* FROM alert_reviews ar JOIN reviews r ON r.id = ar.review_pk WHERE ar.alert_id = ?"
        " ORDER BY r.created_at DESC LIMIT ?", (alert_id, limit),
    ).fetchall()


def alert_events(conn: sqlite3.Connection, alert_id: int) -> list[dict[str, Any]]:
    return [
        {"at": to_wire(from_db(r["at"])), "actor": r["actor"], "kind": r["kind"], "detail": json.loads(r["detail"] or "{}")}
        for r in conn.execute("SELECT * FROM alert_events WHERE alert_id = ? ORDER BY at, id", (alert_id,))
    ]


def alert_json(conn: sqlite3.Connection, row: sqlite3.Row, *, detail: bool = False) -> dict[str, Any]:
    """The contract's alert object (plus extra fields; `detail` adds events)."""
    review_ids = [r[0] for r in conn.execute(
        "SELECT r.review_id FROM alert_reviews ar JOIN reviews r ON r.id = ar.review_pk WHERE ar.alert_id = ?"
        " ORDER BY r.created_at, r.id", (row["id"],))]
    terms = json.loads(row["terms"] or "[]")
    out: dict[str, Any] = {
        "id": row["id"],
        "product_id": row["product_id"],
        "category": row["category"],
        "cause": row["cause"],
        "status": row["status"],
        "opened_at": to_wire(from_db(row["opened_at"])),
        "count": row["count"],
        "rate": None if row["rate"] is None else round(row["rate"], 6),
        "baseline_rate": None if row["baseline_rate"] is None else round(row["baseline_rate"], 6),
        "review_ids": review_ids,
        "terms": [t["term"] for t in terms],
        # Beyond the contract:
        "scope": "product" if row["product_id"] is not None else "category",
        "kind": "listing_audit" if row["cause"] == "description_mismatch" else "quality",
        "term_counts": terms,
        "window_start": to_wire(from_db(row["window_start"])),
        "window_reviews": row["window_reviews"],
        "p_value": row["p_value"],
        "fired_window_hours": row["fired_window_hours"],
        "acknowledged_at": to_wire(from_db(row["acknowledged_at"])),
        "resolved_at": to_wire(from_db(row["resolved_at"])),
        "resolution": row["resolution"],
        "note": row["note"],
        "updated_at": to_wire(from_db(row["updated_at"])),
    }
    if detail:
        out["events"] = alert_events(conn, row["id"])
    return out


def daily_counts(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime, zone: Any, *,
                 days: int = 35) -> list[tuple[str, int, int]]:
    """(local date, complaints of the cause, reviews) per day for the alert's scope, oldest first."""
    start_local = (now.astimezone(zone) - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    since = start_local.astimezone(now.tzinfo)
    by_day: dict[str, list[int]] = {}
    for d in range(days):
        by_day[(start_local + timedelta(days=d)).date().isoformat()] = [0, 0]
    for r in conn.execute("SELECT cause, hour, n FROM alert_counters WHERE scope = ? AND cause IN (?, ?) AND hour >= ?",
                          (row["scope_key"], row["cause"], TOTAL, to_db(since))):
        day = from_db(r["hour"]).astimezone(zone).date().isoformat()
        if day in by_day:
            by_day[day][0 if r["cause"] == row["cause"] else 1] += r["n"]
    return [(day, c, n) for day, (c, n) in by_day.items()]


# ------------------------------------------------------------------ actions


def act(conn: sqlite3.Connection, alert_id: int, action: str, *, actor: str, now: datetime,
        resolution: str | None = None, note: str | None = None) -> sqlite3.Row:
    """Acknowledge or resolve an alert (in its own transaction); returns the updated row."""
    if action not in ACTIONS:
        raise AlertActionError(f"action must be one of {', '.join(ACTIONS)}", field="action")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise AlertActionError("note must be text of at most 2000 characters", field="note")
    if action == "resolve" and resolution not in RESOLUTIONS:
        raise AlertActionError(f"resolution must be one of {', '.join(RESOLUTIONS)}", field="resolution")
    if action == "acknowledge" and resolution is not None:
        raise AlertActionError("resolution is only for resolve", field="resolution")
    with transaction(conn):
        row = get_alert(conn, alert_id)
        if row["status"] == "resolved":
            raise AlertActionError("the alert is already resolved", conflict=True)
        if action == "acknowledge":
            if row["status"] == "acknowledged":
                raise AlertActionError("the alert is already acknowledged", conflict=True)
            conn.execute("UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?,"
                         " note = COALESCE(?, note), updated_at = ? WHERE id = ?",
                         (to_db(now), actor, note, to_db(now), alert_id))
        else:
            conn.execute("UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, resolution = ?,"
                         " note = COALESCE(?, note), updated_at = ? WHERE id = ?",
                         (to_db(now), actor, resolution, note, to_db(now), alert_id))
        add_alert_event(conn, alert_id, "acknowledged" if action == "acknowledge" else "resolved", now, actor=actor,
                        detail={"resolution": resolution, "note": note} if action == "resolve" else {"note": note})
        return get_alert(conn, alert_id)
