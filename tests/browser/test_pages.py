"""Every page in a real Chromium: landing -> login -> queue, a bad login, the report, the 403 page.

The app runs with its real Content-Security-Policy (`script-src 'self'`, no inline styles but the
report's hashed one); the `page` fixture fails a test on any console error, CSP violations included.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import AGENT, SUPERVISOR, browser_unavailable

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if (_why := browser_unavailable()) is not None:
    pytest.skip(_why, allow_module_level=True)  # one line for the module, not one per test


def sign_in(page, live_app, username: str, password: str) -> None:
    page.goto(live_app("/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")


def test_landing_page_leads_to_login_and_then_to_the_queue(page, live_app, screenshot):
    page.goto(live_app("/"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.evaluate("typeof window.htmx") == "object"  # served from /static under the CSP
    screenshot(page, "landing")
    page.click("text=登录工作台")
    page.wait_for_url(re.compile(r"/login$"))
    screenshot(page, "login")
    page.fill("input[name=username]", AGENT[0])
    page.fill("input[name=password]", AGENT[1])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/queue$"))
    header = page.locator(".site-header").inner_text()
    assert AGENT[3] in header and "客服" in header and "差评周报" not in header
    screenshot(page, "queue-agent")


def test_a_bad_login_shows_the_chinese_error(page, live_app, screenshot):
    sign_in(page, live_app, AGENT[0], "not-the-password")
    error = page.locator("p.error[role=alert]")
    error.wait_for()
    assert error.inner_text() == "用户名或密码不正确，或该账号已停用。"
    assert page.input_value("input[name=username]") == AGENT[0]
    screenshot(page, "login-error")


def test_logout_returns_to_the_landing_page(page, live_app):
    sign_in(page, live_app, AGENT[0], AGENT[1])
    page.wait_for_url(re.compile(r"/queue$"))
    page.click("form.logout button")
    page.wait_for_url(re.compile(r"/$"))
    assert "您已安全退出。" in page.locator(".flashes").inner_text()
    page.goto(live_app("/queue"))
    assert re.search(r"/login\?next=", page.url)


def test_a_supervisor_opens_the_weekly_report(page, live_app, screenshot):
    page.goto(live_app("/reports/weekly"))
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", SUPERVISOR[0])
    page.fill("input[name=password]", SUPERVISOR[1])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/reports/weekly$"))
    assert page.locator("h1").first.inner_text().startswith("差评周报 ")
    assert page.locator("[data-metric=reviews]").inner_text() == "30"
    assert page.locator("[data-metric=negative_rate]").inner_text() == "30.00%"
    # The report's own stylesheet applied (allowed by its CSP hash): the KPI cards are a grid.
    assert page.locator(".kpis").evaluate("el => getComputedStyle(el).display") == "grid"
    assert page.locator("a[download]").get_attribute("href").startswith("/reports/weekly.csv?week=")
    screenshot(page, "report-supervisor")


def test_an_agent_gets_the_forbidden_page_for_the_report(page, live_app, screenshot):
    sign_in(page, live_app, AGENT[0], AGENT[1])
    page.wait_for_url(re.compile(r"/queue$"))
    response = page.goto(live_app("/reports/weekly"))
    assert response.status == 403
    assert "无权访问" in page.locator("h1").inner_text()
    screenshot(page, "forbidden-agent")
