"""The queue query reads its page off an index in queue order: for every filter, EXPLAIN QUERY PLAN
shows no full scan of cases and no sort step (USE TEMP B-TREE). Plus the filter counts."""

from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest

from triage import cases
from triage.cases.queue import page_sql
from triage.db import open_db, transaction
from triage.timeutil import to_db

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
STATUSES = ("open", "claimed", "contacted", "waiting_customer", "resolved", "resolved", "closed")


@pytest.fixture(scope="module")
def many_cases(tmp_path_factory, migrated_template):
    """One database for the module (the tests only read it, apart from ANALYZE, which only adds stats)."""
    path = tmp_path_factory.mktemp("plans") / "triage.db"
    shutil.copyfile(migrated_template, path)
    db = open_db(path)
    rng = random.Random(7)
    with transaction(db):
        for i in range(1500):
            status = rng.choice(STATUSES)
            opened = T0 + dt.timedelta(minutes=i)
            db.execute(
                "INSERT INTO cases (customer_id, priority, status, causes, risk, opened_at, updated_at, sla_started_at,"
                " first_contact_due, resolution_due, assignee, value_tier, product_id, category, platform)"
                " VALUES (?, ?, ?, ?, 0.5, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (f"c{i}", rng.choice(("P1", "P2", "P3")), status, rng.choice(('["defect"]', '["logistics"]')),
                 to_db(opened), to_db(opened), to_db(opened), to_db(opened + dt.timedelta(hours=4)),
                 to_db(opened + dt.timedelta(hours=48)), None if status == "open" else rng.choice(("li", "wang")),
                 rng.choice(("top", "regular", "regular")), f"p{i % 50}", f"cat{i % 8}",
                 rng.choice(("tmall", "jd"))),
            )
    yield db
    db.close()


CURSOR = cases.queue._encode_cursor("queue", "0P2", 10)
QUERIES = {
    "everything": {},
    "one priority": {"priorities": ("P1",)},
    "two priorities": {"priorities": ("P1", "P2")},
    "status": {"statuses": ("claimed",)},
    "statuses": {"statuses": ("claimed", "contacted")},
    "assignee (mine)": {"assignees": ("li",)},
    "unassigned": {"unassigned": True},
    "cause": {"causes": ("defect",)},
    "sla": {"sla": ("breached",)},
    "sla states": {"sla": ("at_risk", "ok")},
    "product": {"products": ("p3",)},
    "category": {"categories": ("cat2",)},
    "platform": {"platforms": ("jd",)},
    "products": {"products": ("p3", "p4")},
    "mine + product + cause": {"assignees": ("li",), "products": ("p3",), "causes": ("defect",)},
    "priority + unassigned": {"priorities": ("P1",), "unassigned": True},
    "next page": {"cursor": CURSOR},
    "next page of mine": {"assignees": ("wang",), "cursor": CURSOR},
    "resolved in queue order": {"statuses": ("resolved",)},
}


@pytest.mark.parametrize("name", QUERIES)
def test_the_queue_page_is_read_off_an_index_without_sorting(many_cases, name):
    sql, params = page_sql(cases.CaseQuery(order="queue", **QUERIES[name]), T0)
    plan = [row[3] for row in many_cases.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert not any(step.startswith("SCAN cases") and "USING" not in step for step in plan), plan
    assert not any(step.startswith("SCAN cases") for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_the_plans_hold_after_analyze(tmp_path, many_cases):
    analyzed = tmp_path / "analyzed.db"
    many_cases.execute("VACUUM INTO ?", (str(analyzed),))
    conn = open_db(analyzed)
    try:
        conn.execute("ANALYZE")
        for name in ("everything", "assignee (mine)", "product", "cause", "status"):
            sql, params = page_sql(cases.CaseQuery(order="queue", **QUERIES[name]), T0)
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert not any(step.startswith("SCAN cases") or "TEMP B-TREE" in step for step in plan), (name, plan)
    finally:
        conn.close()


def test_the_queue_order_is_priority_then_tier_then_due(many_cases):
    rows = cases.list_cases(many_cases, cases.CaseQuery(order="queue", limit=1000), now=T0).rows
    keys = [({"P1": 0, "P2": 1, "P3": 2}[r["priority"]], r["value_tier"] != "top",
             r["first_contact_due"] if r["first_contacted_at"] is None else r["resolution_due"], r["id"]) for r in rows]
    assert keys == sorted(keys)
    assert {r["status"] for r in rows} <= set(cases.ACTIVE_STATUSES)


def test_counts_per_filter_over_the_active_cases(many_cases):
    counts = cases.queue_counts(many_cases, username="li", now=T0)
    active = many_cases.execute("SELECT COUNT(*) FROM cases WHERE status NOT IN ('resolved', 'closed')").fetchone()[0]
    assert counts["total"] == active == sum(counts["status"].values()) == sum(counts["priority"].values())
    mine = many_cases.execute("SELECT COUNT(*) FROM cases WHERE assignee = 'li' AND status NOT IN ('resolved', 'closed')"
                              ).fetchone()[0]
    assert counts["mine"] == mine
    assert counts["unassigned"] == counts["status"]["open"]
    assert counts["cause"]["defect"] + counts["cause"]["logistics"] == active
    assert counts["sla"]["ok"] + counts["sla"]["at_risk"] + counts["sla"]["breached"] == active
    assert sum(counts["platform"].values()) == active and set(counts["platform"]) == {"tmall", "jd"}
    assert len(counts["category"]) == 8 and list(counts["product"].values()) == sorted(
        counts["product"].values(), reverse=True)


def test_counts_take_one_pass_over_the_active_range_of_the_queue_index(many_cases, monkeypatch):
    statements = []
    many_cases.set_trace_callback(statements.append)
    try:
        cases.queue_counts(many_cases, username="li", now=T0)
    finally:
        many_cases.set_trace_callback(None)
    plan = [row[3] for row in many_cases.execute(f"EXPLAIN QUERY PLAN {statements[0]}")]
    assert plan == ["SEARCH cases USING INDEX cases_queue (queue_key<?)"]
    for sql in statements[1:]:  # the facets: no full scan of the table
        plan = [row[3] for row in many_cases.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not any(step == "SCAN cases" for step in plan), plan


OFFSET_PAGES = {
    "newest first": {},
    "newest first, one status": {"statuses": ("open",)},
    "newest first, status and priority": {"statuses": ("open",), "priorities": ("P1",)},
    "queue order": {"order": "queue"},
    "queue order, one priority": {"order": "queue", "priorities": ("P2",)},
}


@pytest.mark.parametrize("name", OFFSET_PAGES)
def test_a_deep_offset_skips_index_entries_without_reading_the_table(many_cases, name):
    """`list_cases` reads an offset page's ids first. The skipped entries must cost an index step
    each, not a table row: the program reads no column of the cases table (the queue's index is on
    a virtual column, which SQLite does not call covering, but it only defers the seek and never
    makes it), and the offset is counted off before the row is looked at."""
    sql, params = page_sql(cases.CaseQuery(offset=1000, **OFFSET_PAGES[name]), T0, columns="id")
    root = many_cases.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'cases'").fetchone()[0]
    program = many_cases.execute(f"EXPLAIN {sql}", params).fetchall()
    table_cursors = {op[2] for op in program if op[1] == "OpenRead" and op[3] == root}
    assert not [op for op in program if op[1] == "Column" and op[2] in table_cursors], program
    plan = [row[3] for row in many_cases.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert not any(step.startswith("SCAN cases") and "INDEX" not in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
