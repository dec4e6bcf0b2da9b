"""The supervisors' board in a real Chromium: it loads under the CSP, and a bulk reassignment
(filter → preview the count → confirm) moves exactly the filtered cases.

Its own app and database (module scope), so the cases it makes and moves never meet other pages' tests.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, LiveApp, browser_unavailable  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if (_why := browser_unavailable()) is not None:
    pytest.skip(_why, allow_module_level=True)

SUPERVISOR = ("zhao.supervisor", "supervisor-password-1")
AGENTS = (("li.agent", "李娜", "白班"), ("wang.agent", "王小二", "夜班"), ("chen.agent", "陈晨", "夜班"))


def _seed(conn, policy) -> dict[str, list[int]]:
    from tests.pipeline_support import COMPLAINTS, add_reviews, review
    from triage import cases
    from triage.agents import add_agent
    from triage.cases.actions import Actor, perform
    from triage.db import transaction
    from triage.timeutil import to_db, utcnow

    add_agent(conn, SUPERVISOR[0], SUPERVISOR[1], "supervisor", display_name="赵主管")
    for username, name, shift in AGENTS:
        add_agent(conn, username, "agent-password-1", "agent", display_name=name)
        conn.execute("UPDATE agents SET shift = ? WHERE username = ?", (shift, username))
    now = utcnow()
    made: dict[str, list[int]] = {"unassigned_p1": [], "other": []}

    def case(customer: str, priority: str, ago_minutes: int) -> int:
        opened = now - dt.timedelta(minutes=ago_minutes)
        (pk,) = add_reviews(conn, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)], now=opened)
        with transaction(conn):
            return cases.add_review(conn, review_pk=pk, customer_id=customer, priority=priority, risk=0.8,
                                    causes=("logistics",), now=opened, policy=policy).case_id

    def act(case_id: int, who: str, action: str, when: dt.datetime, **fields) -> None:
        version = cases.get_case(conn, case_id)["version"]
        perform(conn, case_id, Actor(who, "agent"), action, fields, version=version, policy=policy, now=when)

    for i in range(3):
        made["unassigned_p1"].append(case(f"p1-{i}", "P1", 30 + i))
    for i in range(2):
        made["other"].append(case(f"p2-{i}", "P2", 40 + i))
    held = case("held-1", "P1", 50)
    act(held, "li.agent", "claim", now - dt.timedelta(minutes=45))
    made["other"].append(held)
    # Worked cases over the last days, so the metrics have figures; one overdue for the urgent list.
    for i in range(6):
        who = AGENTS[i % 3][0]
        c = case(f"done-{i}", "P2", 60 * 24 + i * 300)
        start = now - dt.timedelta(minutes=60 * 24 + i * 300)
        act(c, who, "claim", start + dt.timedelta(minutes=3))
        act(c, who, "contact", start + dt.timedelta(minutes=10 + i * 7), channel="phone", outcome="reached")
        act(c, who, "resolve", start + dt.timedelta(hours=2), resolution="refund",
            satisfaction=("satisfied", "neutral")[i % 2])
    late = case("late-1", "P1", 600)
    act(late, "wang.agent", "claim", now - dt.timedelta(minutes=500))
    with transaction(conn):
        conn.execute("UPDATE cases SET first_contact_due = ? WHERE id = ?", (to_db(now - dt.timedelta(hours=3)), late))
    made["other"].append(late)
    return made


@pytest.fixture(scope="module")
def board_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, dict[str, list[int]]]]:
    from werkzeug.serving import make_server

    from triage.config import Settings
    from triage.db import open_db
    from triage.sla import default_policy
    from web import create_app

    root = tmp_path_factory.mktemp("board-app")
    settings = Settings.from_env(
        {"TRIAGE_DB": str(root / "triage.db"), "TRIAGE_SECRET_KEY": "board-tests",
         "TRIAGE_WEBHOOK_SECRET": "board-tests", "TRIAGE_TIMEZONE": "Asia/Shanghai"},
        var_dir=root / "var",
    )
    app = create_app(settings)
    conn = open_db(settings.db_path)
    try:
        made = _seed(conn, default_policy("Asia/Shanghai"))
    finally:
        conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="board-test-app", daemon=True)
    thread.start()
    yield LiveApp(f"http://127.0.0.1:{server.server_port}", settings.db_path), made
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture()
def board_page(browser) -> Iterator[object]:
    """A fresh context; console errors (CSP violations included) and failed resources fail the test."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    assert not problems, f"browser console errors: {problems}"


def sign_in_as_supervisor(page, app: LiveApp) -> None:
    page.goto(app("/supervisor"))
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", SUPERVISOR[0])
    page.fill("input[name=password]", SUPERVISOR[1])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/supervisor$"))


def assignees(app: LiveApp, ids: list[int]) -> dict[int, str | None]:
    import sqlite3

    conn = sqlite3.connect(app.db_path)
    try:
        marks = ",".join("?" * len(ids))
        return dict(conn.execute(f"SELECT id, assignee FROM cases WHERE id IN ({marks})", ids).fetchall())
    finally:
        conn.close()


def test_the_board_loads_with_workload_urgent_cases_and_metrics(board_page, board_app, screenshot):
    app, made = board_app
    page = board_page
    sign_in_as_supervisor(page, app)
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.locator("h1").first.inner_text() == "主管看板"
    # The parts load themselves after the frame (htmx "load").
    for part in ('[data-part="workload"]', '[data-part="shift-metrics"]', f'[data-urgent-case="{made["other"][-1]}"]'):
        page.locator(part).first.wait_for()
    li = page.locator('[data-agent-load="li.agent"]')
    assert li.locator('[data-count="open"]').inner_text() == "1"
    assert page.locator('[data-unassigned="P1"] [data-count="total"]').inner_text() == "3"
    assert page.locator(f'[data-urgent-case="{made["other"][-1]}"]').count() == 1
    shifts = page.locator('[data-part="shift-metrics"] thead th').all_inner_texts()
    assert shifts[1:] == ["白班 09:00–21:00", "夜班 21:00–09:00", "全部"]
    # A poll swaps the part in place without a reload (htmx, no inline script).
    with page.expect_response(re.compile(r"/supervisor/workload$")):
        page.evaluate("htmx.trigger(document.body, 'board-changed')")
    screenshot(page, "supervisor-board")


def test_a_bulk_reassignment_moves_exactly_the_filtered_cases(board_page, board_app, screenshot):
    app, made = board_app
    page = board_page
    sign_in_as_supervisor(page, app)
    before_others = assignees(app, made["other"])
    form = page.locator("#bulk-filter")
    form.locator("select[name=assignee]").select_option("-")
    form.locator("select[name=priority]").select_option("P1")
    page.locator('#bulk-preview [data-preview-count="3"]').wait_for()
    assert "确认改派 3 个工单" in page.locator("#bulk-preview").inner_text()
    screenshot(page, "supervisor-bulk-preview")
    page.locator("#bulk-preview select[name=agent]").select_option("chen.agent")
    with page.expect_response(re.compile(r"/supervisor/workload$")):  # the board refreshes itself
        page.click("#bulk-preview button[type=submit]")
    assert "已将 3 个工单改派给 chen.agent" in page.locator("#board-result").inner_text()
    page.locator('[data-agent-load="chen.agent"] [data-count="open"]:text("3")').wait_for()
    assert set(assignees(app, made["unassigned_p1"]).values()) == {"chen.agent"}
    assert assignees(app, made["other"]) == before_others
    screenshot(page, "supervisor-after-bulk")
