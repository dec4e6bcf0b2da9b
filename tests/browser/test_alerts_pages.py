"""The alerts pages in a real Chromium: list -> a listing audit -> its chart, reviews and timeline ->
resolve it with what changed on the listing; a defect alert acknowledged. The page fixture fails on
any console error (CSP violations included)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.browser.conftest import SUPERVISOR, browser_unavailable

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if (_why := browser_unavailable()) is not None:
    pytest.skip(_why, allow_module_level=True)


@pytest.fixture(scope="module")
def alerts(live_app) -> dict[str, int]:
    """Two alerts in the live app's database: a listing audit and a defect burst."""
    from triage.alerts.jobs import run_detection
    from triage.alerts.store import record_reviews
    from triage.config import Settings
    from triage.db import open_db, transaction
    from triage.timeutil import to_db, utcnow

    # Four complaints within hours each: the fewest a day's window alerts on.
    bursts = {
        "SKU-裙-红": ("description_mismatch", ("裙子有色差，和图片不一样", "颜色色差很大，尺码偏小", "实物色差严重，尺码偏小",
                                             "色差明显，和详情页不符")),
        "SKU-水杯": ("defect", ("杯盖漏液，质量差", "用了两天就漏液", "漏液严重，包都湿了", "漏液，退货")),
    }
    conn = open_db(live_app.db_path)
    try:
        now = utcnow()
        pks = []
        with transaction(conn):
            for product, (cause, texts) in bursts.items():
                for i, text in enumerate(texts):
                    at = to_db(now - timedelta(hours=2 * i + 1))
                    pks.append(conn.execute(
                        "INSERT INTO reviews (platform, review_id, text, customer_id, product_id, category,"
                        " created_at, received_at, status, sentiment, causes, rating) VALUES ('tmall', ?, ?, ?, ?,"
                        " '女装', ?, ?, 'scored', 'negative', ?, 1)",
                        (f"{product}-{i}", text, f"buyer-{product}-{i}", product, at, at, json.dumps([cause])),
                    ).lastrowid)
            record_reviews(conn, pks, now)
        settings = Settings.from_env({"TRIAGE_DB": str(live_app.db_path), "TRIAGE_SECRET_KEY": "x",
                                      "TRIAGE_WEBHOOK_SECRET": "x"}, var_dir=live_app.db_path.parent / "var")
        run_detection(conn, now, settings)
        return {r["product_id"]: r["id"] for r in conn.execute("SELECT id, product_id FROM alerts")}
    finally:
        conn.close()


def sign_in(page, live_app) -> None:
    page.goto(live_app("/login"))
    page.fill("input[name=username]", SUPERVISOR[0])
    page.fill("input[name=password]", SUPERVISOR[1])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/queue$"))


def test_a_supervisor_resolves_a_listing_audit_from_the_alerts_page(page, live_app, alerts, screenshot):
    sign_in(page, live_app)
    page.click(".site-nav >> text=差评预警")
    page.wait_for_url(re.compile(r"/alerts$"))
    rows = page.locator("table.alerts tbody tr")
    assert rows.count() == 2
    listing = page.locator(f'tr[data-alert-id="{alerts["SKU-裙-红"]}"]')
    assert "详情页审核" in listing.inner_text() and "色差" in listing.inner_text()
    screenshot(page, "alerts-list")

    listing.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/alerts/{alerts['SKU-裙-红']}$"))
    assert page.locator("svg.daily-chart rect.col.hit").count() >= 1
    assert page.locator("[data-review-id] mark").count() >= 3
    assert "色差" in page.locator(".listing-terms").inner_text()
    assert "预警开启" in page.locator(".timeline").inner_text()
    screenshot(page, "alert-listing-audit")

    # The note is required for a listing audit: the browser will not submit without it.
    page.click("form.resolve-form button[type=submit]")
    assert page.url.endswith(f"/alerts/{alerts['SKU-裙-红']}")
    assert page.locator(".state").first.inner_text() == "待处理"
    page.select_option("#resolution", "listing_fixed")
    page.fill("#resolve-note", "换了红色实拍图，尺码表改为实测")
    page.click("form.resolve-form button[type=submit]")
    page.locator(".flashes").wait_for()
    assert "预警已解决" in page.locator(".flashes").inner_text()
    assert page.locator("h1 .state").inner_text() == "已解决"
    assert "换了红色实拍图" in page.locator(".timeline").inner_text()
    screenshot(page, "alert-resolved")


def test_a_supervisor_acknowledges_a_defect_alert(page, live_app, alerts, screenshot):
    sign_in(page, live_app)
    page.goto(live_app(f"/alerts/{alerts['SKU-水杯']}"))
    assert "漏液" in page.locator("[data-review-id]").first.inner_text()
    page.fill("#ack-note", "已联系工厂")
    page.click("form.inline-form button[type=submit]")
    page.locator(".flashes").wait_for()
    assert page.locator("h1 .state").inner_text() == "已确认"
    screenshot(page, "alert-acknowledged")
