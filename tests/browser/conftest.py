"""The real app on 127.0.0.1 (an ephemeral port, a temp SQLite file) driven by Debian's Chromium.

Playwright for Python drives the system Chromium given as `executable_path`; it never downloads a
browser of its own. Chromium is found at $CHROMIUM_PATH, else /usr/bin/chromium, else on PATH.
When it (or Playwright) is missing every browser test skips with one line saying what to install.
Set TRIAGE_SCREENSHOTS=DIR to keep a screenshot of each page the tests visit.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AGENT = ("wang.agent", "agent-password-1", "agent", "王小二")
SUPERVISOR = ("zhao.supervisor", "supervisor-password-1", "supervisor", "赵主管")


def find_chromium() -> tuple[str | None, str]:
    """(path, None) or (None, the reason in one line)."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if os.access(configured, os.X_OK):
            return configured, ""
        return None, f"browser tests: CHROMIUM_PATH={configured} is not an executable"
    if os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM, ""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found, ""
    return None, f"browser tests: no Chromium at {DEFAULT_CHROMIUM} or on PATH (apt-get install chromium)"


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, in one line, or None when they can."""
    path, reason = find_chromium()
    if path is None:
        return reason
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests: Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@dataclass
class LiveApp:
    url: str
    db_path: Path

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    from werkzeug.serving import make_server

    from tests.report_rows import add_reviews
    from triage.agents import add_agent
    from triage.config import Settings
    from triage.db import open_db
    from triage.reports.weeks import last_complete_week
    from triage.timeutil import utcnow
    from web import create_app

    root = tmp_path_factory.mktemp("browser-app")
    settings = Settings.from_env(
        {"TRIAGE_DB": str(root / "triage.db"), "TRIAGE_SECRET_KEY": "browser-tests",
         "TRIAGE_WEBHOOK_SECRET": "browser-tests", "TRIAGE_TIMEZONE": "Asia/Shanghai"},
        var_dir=root / "var",
    )
    app = create_app(settings)
    conn = open_db(settings.db_path)
    try:
        for username, password, role, name in (AGENT, SUPERVISOR):
            add_agent(conn, username, password, role, display_name=name)
        # Last week's reviews, so the report page has figures and charts to draw.
        week = last_complete_week(utcnow(), settings.zone)
        midweek = (week.bounds(settings.zone)[0] + timedelta(days=2, hours=12)).isoformat()
        add_reviews(conn, 6, midweek, sentiment="negative", rating=1, causes=["logistics"], category="家居",
                    product_name="收纳箱")
        add_reviews(conn, 3, midweek, sentiment="negative", rating=2, causes=["defect"], category="数码",
                    product_id="p2", product_name="蓝牙耳机")
        add_reviews(conn, 21, midweek, sentiment="positive", rating=5, category="家居")
        conn.commit()
    finally:
        conn.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-app", daemon=True)
    thread.start()
    yield LiveApp(f"http://127.0.0.1:{server.server_port}", settings.db_path)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    path, _ = find_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, live_app) -> Iterator[object]:
    """A fresh browser context (no cookies); CSP violations, script errors and missing resources fail the test."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 800})
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg) -> None:
        # A page answered 400/403 on purpose is logged as a failed load; resources are checked below.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(msg.text)

    def on_response(response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            problems.append(f"{response.status} for {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    assert not problems, f"browser console errors: {problems}"


@pytest.fixture()
def screenshot(request: pytest.FixtureRequest) -> Callable[[object, str], None]:
    directory = os.environ.get("TRIAGE_SCREENSHOTS")

    def take(page, name: str) -> None:
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)

    return take
