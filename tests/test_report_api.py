"""GET /api/v1/reports/weekly (token-protected JSON) and the supervisors' page /reports/weekly."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from tests.report_rows import add_review, add_reviews
from triage.reports.store import publish_weekly
from triage.reports.weeks import IsoWeek, last_complete_week
from triage.timeutil import to_db, utcnow

TOKEN = "trg_report-test-token"
MID_W48 = "2026-11-25T12:00:00+08:00"
CONTRACT_KEYS = {"week", "start", "end", "timezone", "reviews", "negative", "negative_rate", "rating_negative_rate",
                 "previous", "by_cause", "by_category", "top_products", "cases"}


@pytest.fixture()
def client(settings, db):
    from web import create_app

    db.execute(
        "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)",
        ("report-tests", hashlib.sha256(TOKEN.encode()).hexdigest(), to_db(utcnow())),
    )
    return create_app(settings).test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUPERVISOR = ("zhao.supervisor", "correct horse battery")


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture()
def page(client, db):
    """GET a report page as a signed-in supervisor."""
    from triage.agents import add_agent

    add_agent(db, *SUPERVISOR, role="supervisor")
    return lambda path: client.get(path, headers=basic(*SUPERVISOR))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_api_refuses_requests_without_a_valid_token(client, headers):
    response = client.get("/api/v1/reports/weekly?week=2026-W48", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_api_returns_the_contract_object(client, db):
    add_reviews(db, 3, MID_W48, sentiment="negative", rating=1, causes=["logistics"], category="家居")
    add_review(db, MID_W48, sentiment="positive", rating=5)
    response = client.get("/api/v1/reports/weekly?week=2026-W48", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert CONTRACT_KEYS <= body.keys()
    assert (body["week"], body["reviews"], body["negative"], body["negative_rate"]) == ("2026-W48", 4, 3, 0.75)
    assert body["previous"]["week"] == "2026-W47"
    assert body["by_cause"]["logistics"] == 3
    assert set(body["cases"]) >= {"opened", "first_contact_within_sla", "resolved_within_sla", "breached"}


def test_api_sends_chinese_as_utf8_not_escapes(client, db):
    add_review(db, MID_W48, sentiment="negative", category="家居")
    response = client.get("/api/v1/reports/weekly?week=2026-W48", headers=AUTH)
    assert "家居".encode() in response.data


def test_api_defaults_to_the_last_complete_week(client, settings):
    before = str(last_complete_week(utcnow(), settings.zone))
    body = client.get("/api/v1/reports/weekly", headers=AUTH).get_json()
    after = str(last_complete_week(utcnow(), settings.zone))  # the request may straddle Monday 00:00
    assert body["week"] in (before, after)


@pytest.mark.parametrize("week", ["2027-W53", "2026-W00", "2026-48", "last"])
def test_api_rejects_a_bad_week_with_400(client, week):
    response = client.get(f"/api/v1/reports/weekly?week={week}", headers=AUTH)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_week" and body["message"]


def test_api_serves_a_published_week_as_published_and_fresh_on_request(client, db):
    add_review(db, MID_W48, sentiment="negative")
    publish_weekly(db, IsoWeek(2026, 48), "Asia/Shanghai", now=datetime(2026, 11, 30, 1, tzinfo=UTC))
    add_review(db, MID_W48, sentiment="positive")
    published = client.get("/api/v1/reports/weekly?week=2026-W48", headers=AUTH).get_json()
    fresh = client.get("/api/v1/reports/weekly?week=2026-W48&fresh=1", headers=AUTH).get_json()
    assert (published["published"], published["reviews"]) == (True, 1)
    assert (fresh["published"], fresh["reviews"]) == (False, 2)


def test_page_renders_the_report_with_navigation(page, db):
    add_review(db, MID_W48, sentiment="negative", category="家居")
    response = page("/reports/weekly?week=2026-W48")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "差评周报 2026-W48" in html and "家居" in html
    assert 'href="/reports/weekly?week=2026-W47"' in html
    assert 'href="/reports/weekly.csv?week=2026-W48"' in html


def test_page_lists_past_published_reports(page, db):
    for week in (IsoWeek(2026, 47), IsoWeek(2026, 48)):
        publish_weekly(db, week, "Asia/Shanghai", now=datetime(2026, 12, 7, 1, tzinfo=UTC))
    html = page("/reports/weekly?week=2026-W40").get_data(as_text=True)
    past = html[html.index("往期报告"):]
    assert past.index("2026-W48") < past.index("2026-W47")
    assert 'href="/reports/weekly?week=2026-W47"' in past


@pytest.mark.parametrize("path", ["/reports/weekly", "/reports/weekly.csv"])
def test_page_rejects_a_bad_week_with_400(page, path):
    response = page(f"{path}?week=2026-W54")
    assert (response.status_code, response.mimetype) == (400, "text/html")
    assert "2026 has 53 ISO weeks" in response.get_data(as_text=True)


def test_csv_download_is_an_attachment_with_a_bom(page, db):
    add_review(db, MID_W48, sentiment="negative", category="家居")
    response = page("/reports/weekly.csv?week=2026-W48")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="weekly-report-2026-W48.csv"'
    assert response.data.startswith("\ufeffsection,key,label,metric,value".encode())
    assert "家居".encode() in response.data


def test_page_and_api_show_the_same_figures(client, page, db):
    add_reviews(db, 2, MID_W48, sentiment="negative")
    add_reviews(db, 5, MID_W48, sentiment="positive")
    body = client.get("/api/v1/reports/weekly?week=2026-W48", headers=AUTH).get_json()
    html = page("/reports/weekly?week=2026-W48").get_data(as_text=True)
    assert body["negative_rate"] == 2 / 7
    assert 'data-metric="negative_rate">28.57%<' in html
    assert f'data-metric="reviews">{body["reviews"]}<' in html


@pytest.mark.parametrize("path", ["/reports/weekly?week=2026-W48", "/reports/weekly.csv?week=2026-W48"])
def test_every_report_page_passes_the_supervisor_gate(client, monkeypatch, path):
    from flask import Response

    import web.reports

    monkeypatch.setattr(web.reports, "_require_supervisor", lambda: Response("login first", status=403))
    response = client.get(path)
    assert (response.status_code, response.get_data(as_text=True)) == (403, "login first")


@pytest.mark.parametrize("path", ["/reports/weekly?week=2026-W48", "/reports/weekly.csv?week=2026-W48"])
def test_report_pages_ask_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_report_pages_refuse_a_wrong_password(client, page):
    assert client.get("/reports/weekly", headers=basic(SUPERVISOR[0], "wrong")).status_code == 401


def test_report_pages_are_for_supervisors_not_agents(client, db):
    from triage.agents import add_agent

    add_agent(db, "wang.agent", "agent password", role="agent")
    response = client.get("/reports/weekly", headers=basic("wang.agent", "agent password"))
    assert response.status_code == 403
