"""GET /api/v1/reports/weekly (token-protected JSON) and the supervisors' page /reports/weekly."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

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
def client(db, app):
    db.execute(
        "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?)",
        ("report-tests", hashlib.sha256(TOKEN.encode()).hexdigest(), to_db(utcnow())),
    )
    return app.test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
SUPERVISOR = ("zhao.supervisor", "correct horse battery")


def sign_in(client, username: str, password: str) -> None:
    """Sign in through the login form (the session holds the CSRF token the form needs)."""
    from tests.web_support import csrf_token

    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture()
def page(client, db):
    """GET a report page as a signed-in supervisor."""
    from triage.agents import add_agent

    add_agent(db, *SUPERVISOR, role="supervisor")
    sign_in(client, *SUPERVISOR)
    return client.get


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
def test_report_pages_send_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)
    location = urlsplit(response.location)
    assert (response.status_code, location.path, parse_qs(location.query)) == (302, "/login", {"next": [path]})


def test_report_pages_refuse_a_wrong_password(client, db):
    from tests.web_support import csrf_token
    from triage.agents import add_agent

    add_agent(db, *SUPERVISOR, role="supervisor")
    client.post("/login", data={"username": SUPERVISOR[0], "password": "wrong",
                                "csrf_token": csrf_token(client, "/login")})
    assert client.get("/reports/weekly").status_code == 302


@pytest.mark.parametrize("path", ["/reports/weekly?week=2026-W48", "/reports/weekly.csv?week=2026-W48"])
def test_report_pages_are_for_supervisors_not_agents(client, db, path):
    from triage.agents import add_agent

    add_agent(db, "wang.agent", "agent password", role="agent")
    sign_in(client, "wang.agent", "agent password")
    response = client.get(path)
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/reports/weekly?week=2026-W48", "/reports/weekly.csv?week=2026-W48"])
def test_report_pages_are_open_to_admins(client, db, path):
    from triage.agents import add_agent

    add_agent(db, "li.admin", "admin password", role="admin")
    sign_in(client, "li.admin", "admin password")
    assert client.get(path).status_code == 200


def test_report_pages_ignore_http_basic_credentials(client, db):
    import base64

    from triage.agents import add_agent

    add_agent(db, *SUPERVISOR, role="supervisor")
    basic = "Basic " + base64.b64encode(":".join(SUPERVISOR).encode()).decode()
    response = client.get("/reports/weekly", headers={"Authorization": basic})
    assert response.status_code == 302 and "WWW-Authenticate" not in response.headers


def test_report_page_allows_exactly_its_inline_stylesheet(page, db):
    import base64 as b64
    import re

    response = page("/reports/weekly?week=2026-W48")
    html = response.get_data(as_text=True)
    css = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    digest = b64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"style-src 'self' 'sha256-{digest}'" in policy and "unsafe-inline" not in policy
    scripts = ('<script src="/static/htmx.min.js" defer></script>', '<script src="/static/app.js" defer></script>')
    assert "<script" not in html.replace(scripts[0], "").replace(scripts[1], "")


def test_an_unknown_query_parameter_is_a_422_not_the_default_week(client):
    response = client.get("/api/v1/reports/weekly?wek=2026-W48", headers=AUTH)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_query"
    assert [i["field"] for i in response.get_json()["items"]] == ["wek"]
