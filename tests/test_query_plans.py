"""Query plans of what stats, the case page and the case list run: no full scan of reviews or
cases, no temporary B-tree for ordering (the plans SQLite picks without ANALYZE do not depend on
table size, so a small database shows the plans a million-row one gets)."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import pytest

import web.db
from tests.pipeline_support import COMPLAINTS, PRAISE, T0, add_reviews, review
from triage import cases
from triage import db as triage_db
from triage.apply import apply_results
from triage.sla import default_policy

FULL_SCAN = re.compile(r"^SCAN (reviews|cases)(?! USING)")
# A walk along an index in its order; allowed when a LIMIT stops it, or over `cases_late_finish`,
# a partial index holding only active cases finished late and not yet marked breached (normally none).
INDEX_WALK = re.compile(r"^SCAN (reviews|cases) USING (?!(COVERING )?INDEX cases_late_finish$)")
TEMP_SORT = re.compile(r"USE TEMP B-TREE FOR (ORDER BY|RIGHT PART OF ORDER BY|LAST TERM OF ORDER BY)")


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]


# Sorts allowed, each bounded by one case's rows: a case's corrections come from several reviews
# (corrections has no case id), so their time order needs a sort of that case's few corrections.
BOUNDED_SORTS = ("FROM corrections c JOIN reviews r ON r.id = c.review_pk WHERE r.case_id = ",)


def problems(conn: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """Each SELECT whose plan scans reviews/cases or sorts in a temporary B-tree, with its plan.
    An index walk in order counts as a scan too, unless the statement stops it with a LIMIT."""
    found = {}
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or any(b in sql for b in BOUNDED_SORTS):
            continue
        steps = plan(conn, sql)
        bad = [s for s in steps if FULL_SCAN.search(s) or TEMP_SORT.search(s)
               or (INDEX_WALK.search(s) and " LIMIT " not in sql.upper())]
        if bad:
            found[sql] = steps
    return found


@pytest.fixture()
def statements(monkeypatch) -> list[str]:
    seen: list[str] = []

    def traced(path, **kwargs):
        conn = triage_db.connect(path, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(web.db, "connect", traced)
    return seen


@pytest.fixture()
def case_id(db) -> int:
    """A few customers' reviews scored through the real apply: cases opened and joined."""
    raws = [review(f"n{i}", COMPLAINTS[i % len(COMPLAINTS)], customer_id=f"c{i % 3}", rating=1) for i in range(6)]
    raws += [review(f"p{i}", PRAISE[i % len(PRAISE)], customer_id=f"c{i}", rating=5) for i in range(3)]
    pks = add_reviews(db, raws)
    results = [{"pk": pk, "model_version": "t", "sentiment": "negative", "negative_prob": 0.95,
                "causes": ["defect"], "cause_probs": {"defect": 0.9}, "terms": [], "cause_terms": {}}
               for pk in pks[:6]]
    results += [{"pk": pk, "model_version": "t", "sentiment": "positive", "negative_prob": 0.05,
                 "causes": [], "cause_probs": {}, "terms": [], "cause_terms": {}} for pk in pks[6:]]
    apply_results(db, results, now=T0 + timedelta(minutes=1), policy=default_policy(), ltv_threshold=None)
    case = db.execute("SELECT id FROM cases ORDER BY id LIMIT 1").fetchone()[0]
    cases.transition(db, case, "claimed", "agent1", T0 + timedelta(minutes=2), policy=default_policy())
    return case


PAGES = {
    "stats": "/api/v1/stats",
    "case page": "/api/v1/cases/{case_id}",
    "case list, newest first": "/api/v1/cases",
    "case list by status": "/api/v1/cases?status=open",
    "case list by status, deep page": "/api/v1/cases?status=open&offset=1&limit=1",
    "case list by status and priority": "/api/v1/cases?status=open&priority=P1",
    "case list by priority": "/api/v1/cases?priority=P2&offset=1",
    "queue order": "/api/v1/cases?sort=queue",
    "queue, one priority": "/api/v1/cases?sort=queue&priority=P1",
    "queue, deep offset": "/api/v1/cases?sort=queue&offset=1&limit=1",
    "queue by status": "/api/v1/cases?sort=queue&status=claimed",
    "queue by product": "/api/v1/cases?sort=queue&product=p1",
    "queue, unassigned": "/api/v1/cases?sort=queue&unassigned=1",
    "alerts": "/api/v1/alerts",
}


@pytest.mark.parametrize("page", list(PAGES), ids=list(PAGES))
def test_no_full_scan_and_no_sort(page, client, auth_headers, case_id, statements, db):
    statements.clear()
    response = client.get(PAGES[page].format(case_id=case_id), headers=auth_headers)
    assert response.status_code == 200
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects, "the page ran no query; the trace is not installed"
    assert problems(db, statements) == {}


def test_queue_pages_by_cursor_read_the_index_in_order(client, auth_headers, case_id, statements, db):
    first = client.get("/api/v1/cases?sort=queue&limit=1", headers=auth_headers).get_json()
    assert first["next_cursor"]
    statements.clear()
    response = client.get(f"/api/v1/cases?sort=queue&limit=1&cursor={first['next_cursor']}", headers=auth_headers)
    assert response.status_code == 200 and response.get_json()["items"]
    assert problems(db, statements) == {}


def test_the_checker_catches_a_full_scan_and_a_sort(db):
    """The test above can fail: what today's plan checker flags."""
    flagged = problems(db, ["SELECT count(*) FROM reviews",
                            "SELECT * FROM cases WHERE status = 'open' ORDER BY risk LIMIT 5"])
    assert len(flagged) == 2


def test_stats_read_counters_and_two_range_lookups(client, auth_headers, statements, db, case_id):
    statements.clear()
    client.get("/api/v1/stats", headers=auth_headers)
    steps = [step for sql in statements if sql.lstrip().upper().startswith("SELECT") and "api_tokens" not in sql
             for step in plan(db, sql)]
    assert any("cases_running_first_contact" in s and s.startswith("SEARCH") for s in steps)
    assert any("cases_running_resolution" in s and s.startswith("SEARCH") for s in steps)
    assert not any("reviews" in s for s in steps)


@pytest.mark.parametrize("scope", [{"product_id": "p1", "category": None}, {"product_id": None, "category": "数码"}],
                         ids=["product alert", "category alert"])
def test_an_alerts_reviews_are_found_by_scope_and_time(scope, db, case_id):
    """Alerts (migration 030) look up a scope's reviews since a moment: by the product's or the
    category's index in time order, not by status (migration 040 keeps only pending in that index)."""
    from triage.alerts.store import _matching_reviews

    seen: list[str] = []
    db.set_trace_callback(seen.append)
    try:
        _matching_reviews(db, {**scope, "cause": "defect", "id": 1}, T0 - timedelta(days=1))
    finally:
        db.set_trace_callback(None)
    assert seen and problems(db, seen) == {}
    assert not any("reviews_pending" in step for sql in seen for step in plan(db, sql))


# -- the agents' pages: the queue (its rows and counts) and the case page ------------------------

# Sorting groups, not rows: the queue's facets list the most frequent categories, platforms and
# products of the active cases (a GROUP BY, then its groups by count: at most one per value), and
# that figure is memoised per process (web.views.queue, 60 s). The rows of every page and list
# come off an index in order.


def page_problems(conn: sqlite3.Connection, statements: list[str]) -> dict[str, list[str]]:
    """`problems`, except that a GROUP BY statement may sort its groups (never scan a table)."""
    grouped = [s for s in statements if " GROUP BY " in s.upper()]
    found = problems(conn, [s for s in statements if s not in grouped])
    for sql in grouped:
        steps = plan(conn, sql)
        if any(FULL_SCAN.search(step) or (INDEX_WALK.search(step) and " LIMIT " not in sql.upper())
               for step in steps):
            found[sql] = steps
    return found


HTML_PAGES = {
    "queue": "/queue",
    "queue, filtered": "/queue?priority=P1&cause=defect&assignee=unassigned",
    "queue, by product": "/queue?product=p1",
    "queue rows (poll)": "/queue/rows",
    "queue counts (poll)": "/queue/counts",
    "case page": "/cases/{case_id}",
}


@pytest.fixture()
def agent_client(app, db, statements):
    from tests.web_support import csrf_token
    from triage.agents import add_agent

    add_agent(db, "planner", "pw", "agent", display_name="P")
    client = app.test_client()
    response = client.post("/login", data={"username": "planner", "password": "pw", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("page", list(HTML_PAGES), ids=list(HTML_PAGES))
def test_agents_pages_no_full_scan_and_no_sort(page, agent_client, case_id, statements, db):
    import web.views.queue

    web.views.queue._cache.clear()  # the counts' memo: compute them in this request
    statements.clear()
    response = agent_client.get(HTML_PAGES[page].format(case_id=case_id))
    assert response.status_code == 200
    assert [s for s in statements if "FROM cases" in s], "the page read no case; the trace is not installed"
    assert page_problems(db, statements) == {}


def test_the_queue_page_after_the_first_reads_the_index_from_its_cursor(agent_client, case_id, statements, db):
    from triage.cases.queue import _encode_cursor

    statements.clear()
    response = agent_client.get(f"/queue?after={_encode_cursor('queue', '0P2', 1)}")
    assert response.status_code == 200
    assert page_problems(db, statements) == {}
