"""The stats counters (migration 040): backfilled from existing rows, then kept by triggers in the
same transaction as every change, so stats read a few rows instead of scanning a million."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.pipeline_support import COMPLAINTS, PRAISE, T0, add_reviews, review
from triage import cases, metrics, reviews
from triage import db as triage_db
from triage.apply import apply_results, mark_failed
from triage.sla import default_policy
from triage.timers import check_case
from triage.timeutil import to_db


def stats(conn, now) -> dict:
    """What GET /api/v1/stats returns: from counters and index range lookups."""
    return {"reviews": reviews.review_counts(conn), "cases": metrics.open_case_counts(conn, now)}


# The same figures as one full scan of each table, breaches by `triage.metrics`' rule: the reference.
SCAN_REVIEWS = """SELECT count(*), coalesce(sum(status = 'pending'), 0), coalesce(sum(status = 'scored'), 0),
                         coalesce(sum(status = 'failed'), 0) FROM reviews"""
SCAN_CASES = f"""
    SELECT count(*), coalesce(sum({metrics.breached_sql()}), 0)
    FROM cases WHERE status NOT IN ('resolved', 'closed')"""


def scanned(conn, now) -> dict:
    total, pending, scored, failed = conn.execute(SCAN_REVIEWS).fetchone()
    open_, breached = conn.execute(SCAN_CASES, {"now": to_db(now)}).fetchone()
    return {"reviews": {"total": total, "pending": pending, "scored": scored, "failed": failed},
            "cases": {"open": open_, "breached": breached}}


def by_status_and_priority(conn) -> dict[str, int]:
    counted = {f"cases:{s}:{p}": n for s, p, n in
               conn.execute("SELECT status, priority, count(*) FROM cases GROUP BY status, priority")}
    kept = {name: value for name, value in conn.execute("SELECT name, value FROM counters WHERE name LIKE 'cases:%:%'")}
    return {k: v for k, v in kept.items() if v} == counted


def scored(pk, negative=True):
    if negative:
        return {"pk": pk, "model_version": "t", "sentiment": "negative", "negative_prob": 0.97, "causes": ["defect"],
                "cause_probs": {"defect": 0.9}, "terms": [], "cause_terms": {}}
    return {"pk": pk, "model_version": "t", "sentiment": "positive", "negative_prob": 0.03, "causes": [],
            "cause_probs": {}, "terms": [], "cause_terms": {}}


def a_working_day(db):
    """Reviews in, scored, failed; cases opened, joined, claimed, contacted, paused, resolved, closed."""
    policy = default_policy()
    pks = add_reviews(db, [review(f"n{i}", COMPLAINTS[i % 4], customer_id=f"c{i % 5}", rating=1) for i in range(12)]
                      + [review(f"p{i}", PRAISE[i % 3], customer_id=f"c{i}", rating=5) for i in range(4)]
                      + [review("x", COMPLAINTS[0], customer_id="c9")])
    now = T0 + timedelta(minutes=1)
    apply_results(db, [scored(pk) for pk in pks[:12]] + [scored(pk, False) for pk in pks[12:16]],
                  now=now, policy=policy, ltv_threshold=None)
    mark_failed(db, [pks[16]], "broken")
    ids = [r[0] for r in db.execute("SELECT id FROM cases ORDER BY id")]
    steps = [(ids[0], "claimed"), (ids[0], "contacted"), (ids[0], "resolved"), (ids[0], "closed"),
             (ids[1], "claimed"), (ids[1], "contacted"), (ids[1], "waiting_customer"),
             (ids[2], "claimed"), (ids[2], "open")]
    for case_id, status in steps:
        now += timedelta(minutes=5)
        cases.transition(db, case_id, status, "agent1", now, policy=policy)
    return ids, policy


def test_counters_agree_with_a_full_scan_through_a_working_day_and_past_the_dues(db):
    ids, policy = a_working_day(db)
    for later in (T0 + timedelta(hours=1), T0 + timedelta(hours=9), T0 + timedelta(days=4)):
        assert stats(db, later) == scanned(db, later)
        for case_id in ids:  # the SLA checks mark what is due; still the same figures
            check_case(db, case_id, later, policy, None)
        assert stats(db, later) == scanned(db, later)
    assert by_status_and_priority(db)


def test_a_rolled_back_change_leaves_the_counters_as_they_were(db):
    add_reviews(db, [review("a", COMPLAINTS[0])])
    before = stats(db, T0)
    with pytest.raises(RuntimeError), triage_db.transaction(db):
        db.execute("UPDATE reviews SET status = 'failed'")
        raise RuntimeError
    assert stats(db, T0) == before


def test_the_migration_backfills_counters_from_existing_rows(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    before_040 = [m for m in triage_db.MIGRATIONS if m[0] < "040"]
    monkeypatch.setattr(triage_db, "MIGRATIONS", before_040)
    conn = triage_db.open_db(path)
    a_working_day(conn)
    monkeypatch.undo()
    assert "040_counters_and_indexes" in triage_db.migrate(conn)
    later = T0 + timedelta(days=1)
    assert stats(conn, later) == scanned(conn, later)
    assert by_status_and_priority(conn)
