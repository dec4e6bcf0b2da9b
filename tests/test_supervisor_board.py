"""The supervisors' board (/supervisor) through Flask's test client: who may see it, what it counts,
and that a bulk reassignment moves exactly the filtered cases, each move in the audit timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.pipeline_support import COMPLAINTS, add_reviews, review
from tests.supervisor_support import PEOPLE, add_people, sign_in
from triage import board, cases
from triage.cases.actions import Actor, perform
from triage.db import transaction
from triage.sla import default_policy
from triage.timeutil import to_db, utcnow

POLICY = default_policy("Asia/Shanghai")
LI, WANG = PEOPLE["li"][0], PEOPLE["wang"][0]
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture()
def people(db):
    add_people(db)


def open_case(db, customer: str, priority: str = "P2", *, ago: dt.timedelta = dt.timedelta(minutes=5),
              agent: str | None = None) -> int:
    opened = utcnow() - ago
    (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)], now=opened)
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id=customer, priority=priority, risk=0.8,
                                   causes=("logistics",), now=opened, policy=POLICY).case_id
    if agent:
        row = cases.get_case(db, case_id)
        perform(db, case_id, Actor(agent, "agent"), "claim", {}, version=row["version"], policy=POLICY,
                now=opened + dt.timedelta(minutes=1))
    return case_id


def breach(db, case_id: int) -> None:
    """Make the case's first-contact clock overdue (as if it had been opened long ago)."""
    with transaction(db):
        db.execute("UPDATE cases SET first_contact_due = ? WHERE id = ?",
                   (to_db(utcnow() - dt.timedelta(hours=1)), case_id))


def csrf(client) -> str:
    return _TOKEN.search(client.get("/supervisor").get_data(as_text=True)).group(1)


@pytest.mark.parametrize("who", ["zhao", "root"])
def test_supervisors_and_admins_see_the_board(client, db, people, who):
    sign_in(client, who)
    response = client.get("/supervisor")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "主管看板" in html and 'hx-trigger="load, every 20s' in html
    assert "<script>" not in html  # htmx only, from /static


def test_an_agent_gets_403_and_an_anonymous_visitor_the_login(client, db, people):
    assert client.get("/supervisor").status_code == 302
    sign_in(client, "li")
    for path in ("/supervisor", "/supervisor/workload", "/supervisor/urgent", "/supervisor/metrics",
                 "/supervisor/preview"):
        assert client.get(path).status_code == 403, path
    assert client.post("/supervisor/reassign", data={"agent": LI, "case_ids": "1"}).status_code in (400, 403)


def test_the_nav_links_to_the_board_only_for_supervisors(client, db, people):
    sign_in(client, "li")
    assert "/supervisor" not in client.get("/queue").get_data(as_text=True)


def test_workload_counts_per_agent_and_unassigned_by_priority(client, db, people):
    a = open_case(db, "c1", agent=LI)
    open_case(db, "c2", agent=LI)
    breach(db, a)
    open_case(db, "c3", "P1")
    open_case(db, "c4", "P3")
    now = utcnow()
    loads = {load.username: load for load in board.workload(db, now, [LI, WANG])}
    assert (loads[LI].claimed, loads[LI].open, loads[LI].breached) == (2, 2, 1)
    assert (loads[WANG].open, loads[WANG].breached) == (0, 0)
    unassigned = board.unassigned_by_priority(db, now)
    assert [unassigned[p]["total"] for p in ("P1", "P2", "P3")] == [1, 0, 1]
    sign_in(client, "zhao")
    html = client.get("/supervisor/workload").get_data(as_text=True)
    row = re.search(rf'data-agent-load="{re.escape(LI)}".*?</tr>', html, re.S).group(0)
    assert 'data-count="open">2<' in row and 'data-count="breached">1<' in row


def test_urgent_cases_are_breached_and_at_risk_ones_soonest_due_first(client, db, people):
    late = open_case(db, "c1", "P1")
    later = open_case(db, "c2", "P2")
    risky = open_case(db, "c3", "P3")
    open_case(db, "c4", "P3")  # fine
    breach(db, later)
    with transaction(db):
        db.execute("UPDATE cases SET first_contact_due = ? WHERE id = ?",
                   (to_db(utcnow() - dt.timedelta(hours=5)), late))
        db.execute("UPDATE cases SET sla_first_contact = 'at_risk', first_contact_due = ? WHERE id = ?",
                   (to_db(utcnow() + dt.timedelta(minutes=20)), risky))
    urgent, total = board.urgent_cases(db, utcnow())
    assert [(c.id, c.state) for c in urgent] == [(late, "breached"), (later, "breached"), (risky, "at_risk")]
    assert total == 3
    sign_in(client, "zhao")
    html = client.get("/supervisor/urgent").get_data(as_text=True)
    assert html.index(f'data-urgent-case="{late}"') < html.index(f'data-urgent-case="{risky}"')
    assert f'href="/cases/{late}"' in html


def test_preview_counts_what_the_filter_selects(client, db, people):
    for i in range(3):
        open_case(db, f"u{i}", "P1")
    open_case(db, "u9", "P2")
    open_case(db, "l1", "P1", agent=LI)
    sign_in(client, "zhao")
    html = client.get("/supervisor/preview?assignee=-&priority=P1").get_data(as_text=True)
    assert 'data-preview-count="3"' in html and "确认改派 3 个工单" in html


def test_preview_refuses_a_bad_filter(client, db, people):
    sign_in(client, "zhao")
    assert client.get("/supervisor/preview?priority=P9").status_code == 422


def test_bulk_reassign_moves_exactly_the_filtered_cases_and_audits_each(client, db, people):
    chosen = [open_case(db, f"u{i}", "P1") for i in range(3)]
    others = [open_case(db, "u8", "P2"), open_case(db, "l1", "P1", agent=LI)]
    sign_in(client, "zhao")
    html = client.get("/supervisor/preview?assignee=-&priority=P1").get_data(as_text=True)
    ids = re.search(r'name="case_ids" value="([^"]*)"', html).group(1)
    response = client.post("/supervisor/reassign", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf(client), "bulk": "1", "assignee": "-", "priority": "P1", "status": "", "sla": "",
        "case_ids": ids, "agent": WANG})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "board-changed"
    assert "已将 3 个工单改派给" in response.get_data(as_text=True)
    for case_id in chosen:
        row = cases.get_case(db, case_id)
        assert (row["assignee"], row["status"]) == (WANG, "claimed")
        event = db.execute("SELECT actor, kind, detail FROM case_events WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                           (case_id,)).fetchone()
        assert (event["actor"], event["kind"]) == (PEOPLE["zhao"][0], "assigned")
    assert cases.get_case(db, others[0])["assignee"] is None
    assert cases.get_case(db, others[1])["assignee"] == LI


def test_a_case_that_left_the_filter_after_the_preview_is_not_moved(client, db, people):
    a, b = open_case(db, "u1", "P1"), open_case(db, "u2", "P1")
    sign_in(client, "zhao")
    token = csrf(client)
    # Between preview and confirm, li claims one of them: it no longer matches "unassigned".
    perform(db, b, Actor(LI, "agent"), "claim", {}, version=cases.get_case(db, b)["version"], policy=POLICY,
            now=utcnow())
    response = client.post("/supervisor/reassign", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "bulk": "1", "assignee": "-", "priority": "P1", "case_ids": f"{a},{b}", "agent": WANG})
    text = response.get_data(as_text=True)
    assert "已将 1 个工单改派给" in text and "1 个工单在预览后已不再符合筛选条件" in text
    assert cases.get_case(db, a)["assignee"] == WANG
    assert cases.get_case(db, b)["assignee"] == LI


def test_one_case_is_reassigned_from_the_urgent_list_and_without_htmx_the_page_redirects(client, db, people):
    case_id = open_case(db, "c1", agent=LI)
    sign_in(client, "zhao")
    response = client.post("/supervisor/reassign", data={"csrf_token": csrf(client), "case_ids": str(case_id),
                                                         "agent": WANG})
    assert (response.status_code, response.location) == (302, "/supervisor")
    assert cases.get_case(db, case_id)["assignee"] == WANG
    assert "已将 1 个工单改派给" in client.get("/supervisor").get_data(as_text=True)


def test_reassign_without_a_csrf_token_is_refused(client, db, people):
    case_id = open_case(db, "c1")
    sign_in(client, "zhao")
    response = client.post("/supervisor/reassign", data={"case_ids": str(case_id), "agent": WANG})
    assert response.status_code == 400
    assert cases.get_case(db, case_id)["assignee"] is None


@pytest.mark.parametrize(("data", "message"), [
    ({"case_ids": "1"}, "请选择"),
    ({"case_ids": "", "agent": "x"}, "没有选中"),
    ({"case_ids": "1", "agent": "nobody"}, "没有在岗的客服"),
])
def test_reassign_explains_what_is_missing(client, db, people, data, message):
    open_case(db, "c1")
    sign_in(client, "zhao")
    response = client.post("/supervisor/reassign", headers={"HX-Request": "true"},
                           data={"csrf_token": csrf(client), **data})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_metrics_part_shows_day_and_night_side_by_side_with_n(client, db, people):
    sign_in(client, "zhao")
    html = client.get("/supervisor/metrics?period=today").get_data(as_text=True)
    assert html.index('data-shift="白班"') < html.index('data-shift="夜班"')
    assert "白班 09:00–21:00" in html and "夜班 21:00–09:00" in html
    assert "100%" not in html


def test_metrics_part_with_a_bad_custom_period_falls_back_and_says_so(client, db, people):
    sign_in(client, "zhao")
    html = client.get("/supervisor/metrics?period=custom&from=2026-13-01&to=2026-01-01").get_data(as_text=True)
    assert "已改为近 7 天" in html


def test_the_board_page_is_a_frame_whose_parts_load_themselves(client, db, people):
    sign_in(client, "zhao")
    html = client.get("/supervisor?period=84d").get_data(as_text=True)
    for part in ("workload", "urgent", "metrics"):
        assert f'hx-get="/supervisor/{part}" ' in html or f'hx-get="/supervisor/{part}"' in html
    assert html.count('hx-trigger="load, every') == 3
    assert 'data-part="workload"' not in html  # computed by the part's own request, not the page's
    assert '<option value="84d" selected>' in html  # the period form keeps the asked period for its part


def test_a_case_stored_at_risk_whose_due_has_passed_counts_as_breached_only(db, people):
    held_risky, held_late = open_case(db, "c1", agent=LI), open_case(db, "c2", agent=LI)
    free_risky, free_late = open_case(db, "c3", "P1"), open_case(db, "c4", "P1")
    open_case(db, "c5", "P1")  # fine
    with transaction(db):
        for case_id, due in ((held_risky, 20), (held_late, -20), (free_risky, 20), (free_late, -20)):
            db.execute("UPDATE cases SET sla_first_contact = 'at_risk', first_contact_due = ? WHERE id = ?",
                       (to_db(utcnow() + dt.timedelta(minutes=due)), case_id))
    now = utcnow()
    (load,) = board.workload(db, now, [LI])
    assert (load.open, load.at_risk, load.breached) == (2, 1, 1)
    assert board.unassigned_by_priority(db, now)["P1"] == {"total": 3, "at_risk": 1, "breached": 1}
