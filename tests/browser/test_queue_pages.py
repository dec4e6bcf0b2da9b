"""The agents' pages in a real Chromium: filter the queue, open a case, copy a handbook reply, claim,
log a contact, resolve; hostile review data renders inert; two agents racing for one case, one wins.

A session app of its own (cases, handbook) on an ephemeral port; the `page` fixture fails a test on
any console error or CSP violation. TRIAGE_SCREENSHOTS=DIR keeps a screenshot of every page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import AGENT, SUPERVISOR, browser_unavailable

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if (_why := browser_unavailable()) is not None:
    pytest.skip(_why, allow_module_level=True)

SECOND_AGENT = ("li.agent", "agent-password-2", "agent", "李小美")
ADMIN = ("root.admin", "admin-password-1", "admin", "系统管理员")
HOSTILE = ('<script>window.__xss=1;alert(1)</script><img src=x onerror="window.__xss=2">'
           '<a href="javascript:window.__xss=3">点我</a>')
HOSTILE_STYLE = "<style>body{display:none}</style>"


@dataclass
class QueueApp:
    url: str
    db_path: Path
    cases: dict[str, int]

    def __call__(self, path: str) -> str:
        return self.url + path


def _case(conn, policy, key: str, text: str, cause: str, **extra) -> int:
    from tests.pipeline_support import T0, add_reviews, review
    from triage import cases
    from triage.db import transaction

    (pk,) = add_reviews(conn, [review(key, text, customer_id=f"cust-{key}", **extra)])
    with transaction(conn):
        cid = cases.add_review(conn, review_pk=pk, customer_id=f"cust-{key}", priority="P2", risk=0.7,
                               causes=(cause,), now=T0, policy=policy).case_id
        conn.execute("UPDATE reviews SET case_id = ?, status = 'scored', sentiment = 'negative', negative_prob = 0.93,"
                     " causes = ?, complaints = ? WHERE id = ?",
                     (cid, f'["{cause}"]', f'[{{"start": 0, "end": 4, "cause": "{cause}", "prob": 0.9}}]', pk))
    return cid


@pytest.fixture(scope="session")
def queue_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueueApp]:
    from werkzeug.serving import make_server

    from tests.pipeline_support import T0
    from triage.agents import add_agent
    from triage.config import Settings
    from triage.db import open_db
    from triage.handbook import save_reply
    from triage.sla import default_policy
    from web import create_app

    root = tmp_path_factory.mktemp("queue-pages")
    settings = Settings.from_env(
        {"TRIAGE_DB": str(root / "triage.db"), "TRIAGE_SECRET_KEY": "queue-pages",
         "TRIAGE_WEBHOOK_SECRET": "queue-pages", "TRIAGE_TIMEZONE": "Asia/Shanghai"}, var_dir=root / "var")
    app = create_app(settings)
    policy = default_policy("Asia/Shanghai")
    conn = open_db(settings.db_path)
    try:
        for username, password, role, name in (AGENT, SUPERVISOR, SECOND_AGENT, ADMIN):
            add_agent(conn, username, password, role, display_name=name)
        ids = {
            "flow": _case(conn, policy, "flow", "快递太慢了，等了一个星期才到。", "logistics", customer_name="王女士",
                          product_name="电热水壶", order_id="o-1001", platform="tmall", category="家用电器"),
            "race": _case(conn, policy, "race", "做工太差，用两天就坏了。", "defect", customer_name="陈先生",
                          product_name="蓝牙耳机", platform="jd", category="数码配件"),
            "evil": _case(conn, policy, "evil", HOSTILE, "defect", customer_name=HOSTILE, product_name=HOSTILE,
                          category=HOSTILE_STYLE, platform="douyin"),
        }
        save_reply(conn, cause="logistics", title="物流延误致歉",
                   body="{customer_name}您好，您购买的「{product_name}」（订单 {order_id}）物流延误，非常抱歉。",
                   author=SUPERVISOR[0], now=T0)
    finally:
        conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="queue-pages-app", daemon=True)
    thread.start()
    yield QueueApp(f"http://127.0.0.1:{server.server_port}", settings.db_path, ids)
    server.shutdown()
    thread.join(timeout=10)


def sign_in(page, app: QueueApp, who) -> None:
    page.goto(app("/login"))
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", who[1])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/queue$"))


def assignee(app: QueueApp, case_id: int) -> str | None:
    from triage.db import connect

    conn = connect(app.db_path)
    try:
        return conn.execute("SELECT assignee FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
    finally:
        conn.close()


def test_an_agent_filters_opens_copies_claims_contacts_and_resolves(page, queue_app, screenshot):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=queue_app.url)
    sign_in(page, queue_app, AGENT)
    flow = queue_app.cases["flow"]
    assert page.locator(f"tr[data-case-id='{flow}']").count() == 1
    assert page.locator(".countdown").first.get_attribute("data-due")
    screenshot(page, "queue-agent-cases")

    page.click("a[data-filter='cause=logistics']")
    page.wait_for_url(re.compile(r"cause=logistics"))
    rows = page.locator("tbody#queue-rows tr[data-case-id]")
    assert rows.count() == 1 and rows.first.get_attribute("data-case-id") == str(flow)
    assert page.locator("a[data-filter='cause=logistics']").get_attribute("aria-current") == "true"
    screenshot(page, "queue-filtered")

    page.click(f"tr[data-case-id='{flow}'] td.customer a")
    page.wait_for_url(re.compile(rf"/cases/{flow}$"))
    review = page.locator("[data-review-id='tmall/flow']")
    assert review.locator("mark").first.inner_text() == "快递太慢"
    screenshot(page, "case-open")

    reply = page.locator(".handbook .reply").first
    reply.locator("button.copy").click()
    reply.locator(".copied:not([hidden])").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == "王女士您好，您购买的「电热水壶」（订单 o-1001）物流延误，非常抱歉。"

    page.click("button[data-action=claim]")
    page.locator(".flash", has_text="已认领").wait_for()
    assert assignee(queue_app, flow) == AGENT[0]

    contact = page.locator("form[data-form-action=contact]")
    contact.locator("input[name=channel][value=wecom]").check()
    contact.locator("input[name=outcome][value=reached]").check()
    contact.locator("input[name=note]").fill("企业微信联系上了，顾客同意补偿")
    contact.locator("button[type=submit]").click()
    page.locator(".flash", has_text="已记录联系").wait_for()
    assert "企业微信 · 已联系上" in page.locator("#timeline").inner_text()

    resolve = page.locator("form[data-form-action=resolve]")
    resolve.locator("select[name=resolution]").select_option("coupon")
    resolve.locator("input[name=satisfaction][value=satisfied]").check()
    resolve.locator("button[type=submit]").click()
    page.locator(".flash", has_text="已解决").wait_for()
    assert page.locator(".case-meta .status").inner_text() == "已解决"
    assert "优惠券补偿 · 顾客满意" in page.locator("#timeline").inner_text()
    screenshot(page, "case-resolved")


def test_hostile_review_data_renders_inert(page, queue_app, screenshot):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, queue_app, AGENT)
    evil = queue_app.cases["evil"]
    row = page.locator(f"tr[data-case-id='{evil}']")
    assert "<script>window.__xss=1" in row.inner_text()
    page.goto(queue_app(f"/cases/{evil}"))
    text = page.locator("[data-review-id='douyin/evil'] .review-text").inner_text()
    assert text == HOSTILE  # shown literally, character for character
    assert HOSTILE_STYLE in page.locator(".review-head .category").inner_text()
    assert page.locator("body").is_visible()  # the <style> trick did not hide the page
    assert page.locator("a[href^='javascript:']").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("window.__xss") is None and dialogs == []
    screenshot(page, "case-hostile")


def test_two_agents_race_to_claim_one_case_and_exactly_one_wins(browser, queue_app, screenshot):
    race = queue_app.cases["race"]
    pages = []
    for who in (AGENT, SECOND_AGENT):
        context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800})
        page = context.new_page()
        sign_in(page, queue_app, who)
        page.goto(queue_app(f"/cases/{race}"))
        pages.append(page)
    try:
        # Both pages show the same version; both click before either has a response.
        pages[0].click("button[data-action=claim]", no_wait_after=True)
        pages[1].click("button[data-action=claim]", no_wait_after=True)
        for page in pages:
            page.locator(".flash").first.wait_for()
        messages = [page.locator(".flash").first.inner_text() for page in pages]
        winners = [m for m in messages if m == "已认领。"]
        assert len(winners) == 1, messages
        loser = next(m for m in messages if m != "已认领。")
        assert "认领" in loser and ("刚刚被其他人更新过" in loser or "已被" in loser)
        holder = assignee(queue_app, race)
        assert holder == (AGENT[0] if messages[0] == "已认领。" else SECOND_AGENT[0])
        screenshot(pages[1] if messages[0] == "已认领。" else pages[0], "case-race-loser")
    finally:
        for page in pages:
            page.context.close()


def test_supervisor_and_admin_pages(page, queue_app, screenshot):
    sign_in(page, queue_app, SUPERVISOR)
    page.goto(queue_app("/handbook"))
    assert "物流延误致歉" in page.locator("#cause-logistics").inner_text()
    screenshot(page, "handbook")
    page.click("#cause-logistics a.button:has-text('编辑')")
    page.fill("textarea[name=body]", "{customer_name}您好，物流延误非常抱歉，我们已加急。")
    page.click("form.handbook-form button[type=submit]")
    page.locator(".flash", has_text="第 2 版").wait_for()
    screenshot(page, "handbook-saved")
    page.goto(queue_app("/accounts"))
    assert page.locator(f"tr[data-agent='{AGENT[0]}']").count() == 1
    assert page.locator("form.add-agent").count() == 0  # supervisors look, admins change
    screenshot(page, "accounts-supervisor")
    page.click("form.logout button")
    sign_in(page, queue_app, ADMIN)
    page.goto(queue_app("/accounts"))
    row = page.locator(f"tr[data-agent='{SECOND_AGENT[0]}']")
    row.locator("input[name=shift]").fill("夜班")
    row.locator("form:has(input[name=shift]) button").click()
    page.locator(".flash", has_text="班次").wait_for()
    screenshot(page, "accounts-admin")
    page.goto(queue_app("/accounts/tokens"))
    screenshot(page, "tokens")


