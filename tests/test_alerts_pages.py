"""The alerts pages through Flask's test client: access, list, detail, forms."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests import web_support
from tests.web_support import csrf_token
from triage.agents import add_agent
from triage.alerts.jobs import run_detection
from triage.alerts.store import record_reviews
from triage.db import transaction
from triage.timeutil import to_db, utcnow

PASSWORD = "correct horse battery"
TEXTS = ("衣服有色差，和图片不一样", "颜色色差很大，<script>alert(1)</script>", "实物色差严重")


def burst(db, product: str, cause: str, texts=TEXTS) -> None:
    now = utcnow()
    pks = []
    with transaction(db):
        for i, text in enumerate(texts):
            at = to_db(now - timedelta(hours=i + 1))
            pks.append(db.execute(
                "INSERT INTO reviews (platform, review_id, text, customer_id, product_id, category, created_at,"
                " received_at, status, sentiment, causes) VALUES ('tmall', ?, ?, ?, ?, '女装', ?, ?, 'scored',"
                " 'negative', ?)",
                (f"{product}-{i}", text, f"c-{product}-{i}", product, at, at, json.dumps([cause])),
            ).lastrowid)
        record_reviews(db, pks, now)


@pytest.fixture()
def alert_ids(db, settings) -> dict[str, int]:
    burst(db, "SKU-RED", "description_mismatch")
    burst(db, "SKU-BAG", "defect", texts=("拉链坏了", "拉链坏了，质量差", "拉链一拉就坏了"))
    opened = run_detection(db, utcnow(), settings).opened
    rows = {r["product_id"]: r["id"] for r in db.execute("SELECT id, product_id FROM alerts")}
    assert len(opened) == 2
    return rows


def sign_in(client, db, role: str) -> None:
    add_agent(db, f"u-{role}", PASSWORD, role)
    web_support.sign_in(client, f"u-{role}")


def test_the_alerts_page_needs_a_login(client):
    response = client.get("/alerts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_agents_may_not_see_alerts(client, db, alert_ids):
    sign_in(client, db, "agent")
    assert client.get("/alerts").status_code == 403
    assert client.get(f"/alerts/{alert_ids['SKU-RED']}").status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_the_open_alerts(client, db, alert_ids, role):
    sign_in(client, db, role)
    html = client.get("/alerts").get_data(as_text=True)
    assert f'data-alert-id="{alert_ids["SKU-RED"]}"' in html
    assert f'data-alert-id="{alert_ids["SKU-BAG"]}"' in html
    assert "详情页审核" in html and "色差" in html
    assert 'href="/alerts"' in html  # the navigation names the page


def test_the_list_is_empty_with_an_explanation(client, db):
    sign_in(client, db, "supervisor")
    assert "目前没有进行中的预警" in client.get("/alerts").get_data(as_text=True)


def test_the_detail_page_shows_chart_reviews_terms_and_timeline(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    html = client.get(f"/alerts/{alert_ids['SKU-RED']}").get_data(as_text=True)
    assert '<svg class="daily-chart"' in html
    assert len(re.findall(r'data-review-id="tmall/SKU-RED-\d"', html)) == 3
    assert "<mark>色差</mark>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "预警开启" in html
    assert "详情页修改了什么" in html


def test_acknowledge_through_the_form(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    path = f"/alerts/{alert_ids['SKU-BAG']}"
    response = client.post(f"{path}/actions", data={"action": "acknowledge", "note": "在查批次",
                                                    "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "已确认该预警" in html and "在查批次" in html
    assert tuple(db.execute("SELECT status, acknowledged_by FROM alerts WHERE id = ?",
                            (alert_ids["SKU-BAG"],)).fetchone()) == ("acknowledged", "u-supervisor")


def test_resolve_with_an_action_code(client, db, alert_ids):
    sign_in(client, db, "admin")
    path = f"/alerts/{alert_ids['SKU-BAG']}"
    client.post(f"{path}/actions", data={"action": "resolve", "resolution": "supplier_qc", "note": "",
                                         "csrf_token": csrf_token(client, path)})
    row = db.execute("SELECT status, resolution FROM alerts WHERE id = ?", (alert_ids["SKU-BAG"],)).fetchone()
    assert tuple(row) == ("resolved", "supplier_qc")
    assert "联系供应商质检" in client.get(path).get_data(as_text=True)


def test_resolving_a_listing_audit_asks_what_changed_on_the_listing(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    path = f"/alerts/{alert_ids['SKU-RED']}"
    client.post(f"{path}/actions", data={"action": "resolve", "resolution": "listing_fixed", "note": " ",
                                         "csrf_token": csrf_token(client, path)})
    assert db.execute("SELECT status FROM alerts WHERE id = ?", (alert_ids["SKU-RED"],)).fetchone()[0] == "open"
    assert "请写明详情页修改了什么" in client.get(path).get_data(as_text=True)
    client.post(f"{path}/actions", data={"action": "resolve", "resolution": "listing_fixed", "note": "换了实拍图",
                                         "csrf_token": csrf_token(client, path)})
    assert db.execute("SELECT note FROM alerts WHERE id = ?", (alert_ids["SKU-RED"],)).fetchone()[0] == "换了实拍图"


def test_resolve_without_an_action_code_is_refused_with_a_message(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    path = f"/alerts/{alert_ids['SKU-BAG']}"
    client.post(f"{path}/actions", data={"action": "resolve", "csrf_token": csrf_token(client, path)})
    assert "请选择处理方式" in client.get(path).get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    response = client.post(f"/alerts/{alert_ids['SKU-BAG']}/actions", data={"action": "acknowledge"})
    assert response.status_code == 400


def test_an_unknown_alert_is_a_404_page(client, db):
    sign_in(client, db, "supervisor")
    assert client.get("/alerts/99999").status_code == 404


def test_resolved_alerts_have_their_own_tab(client, db, alert_ids):
    sign_in(client, db, "supervisor")
    path = f"/alerts/{alert_ids['SKU-BAG']}"
    client.post(f"{path}/actions", data={"action": "resolve", "resolution": "delisted",
                                         "csrf_token": csrf_token(client, path)})
    assert f'data-alert-id="{alert_ids["SKU-BAG"]}"' not in client.get("/alerts").get_data(as_text=True)
    assert f'data-alert-id="{alert_ids["SKU-BAG"]}"' in client.get("/alerts?tab=resolved").get_data(as_text=True)
