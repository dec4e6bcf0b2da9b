"""Applying a batch in a fixed number of statements gives what applying its reviews one after
another gives: same risk, same cases (opened, joined, raised), same events, same clocks."""

from __future__ import annotations

import statistics
from datetime import timedelta

from tests.pipeline_support import COMPLAINTS, PRAISE, T0, add_reviews, review, snapshot
from triage import db as triage_db
from triage.apply import apply_results
from triage.sla import default_policy


def results_for(pks: list[int]) -> list[dict]:
    """Complaints of rising strength (so joins raise priorities) and some praise."""
    out = []
    for i, pk in enumerate(pks):
        if i % 4 == 3:
            out.append({"pk": pk, "model_version": "t", "sentiment": "positive", "negative_prob": 0.04, "causes": [],
                        "cause_probs": {}, "terms": [], "cause_terms": {}})
        else:
            out.append({"pk": pk, "model_version": "t", "sentiment": "negative", "negative_prob": 0.6 + 0.03 * i,
                        "causes": [("defect", "logistics", "description_mismatch")[i % 3]],
                        "cause_probs": {}, "terms": [["差", 1.0]], "cause_terms": {}})
    return out


def database(tmp_path, name: str):
    conn = triage_db.open_db(tmp_path / name)
    # A customer with an active case from yesterday, whom the batch joins.
    old = add_reviews(conn, [review("old", COMPLAINTS[0], customer_id="c0", rating=2)], T0 - timedelta(days=1))
    apply_results(conn, results_for(old)[:1], now=T0 - timedelta(days=1), policy=default_policy(),
                  ltv_threshold=None)
    raws = [review(f"r{i}", (COMPLAINTS + PRAISE)[i % 7], customer_id=f"c{i % 4}", rating=1 + i % 5,
                   customer_ltv=100.0 * i, created_at=(T0 - timedelta(hours=20 - i)).isoformat())
            for i in range(20)]
    return conn, add_reviews(conn, raws)


def comparable(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Rows as they are, except the audit trail's order: a batch runs its SLA checks after its
    last review (as it always has), one review at a time runs them after each."""
    appended = ("case_events", "notifications", "outbox")
    return {t: sorted(r[1:] for r in rows) if t in appended else rows for t, rows in tables.items()}


def test_one_batch_equals_one_review_at_a_time(tmp_path):
    policy = default_policy()
    now = T0 + timedelta(minutes=3)
    batch_db, pks = database(tmp_path, "batch.db")
    single_db, same_pks = database(tmp_path, "single.db")
    assert pks == same_pks
    results = results_for(pks)
    ltv = statistics.median(100.0 * i for i in range(20))
    batch = apply_results(batch_db, results, now=now, policy=policy, ltv_threshold=ltv)
    checks = {}
    for one in results:  # in created_at order, as apply orders a batch
        checks.update(apply_results(single_db, [one], now=now, policy=policy, ltv_threshold=ltv).checks)
    assert comparable(snapshot(batch_db)) == comparable(snapshot(single_db))
    assert batch.checks == checks
    kinds = {k for (k,) in batch_db.execute("SELECT kind FROM case_events")}
    assert {"opened", "review_added", "priority_changed"} <= kinds  # the batch exercised every path
