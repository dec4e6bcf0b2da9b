"""CSRF on every form, exemptions for the token API and the signed webhook, cookie flags, headers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import sign
from tests.web_support import csrf_token
from triage.agents import add_agent


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def agent(db):
    add_agent(db, "wang.agent", "agent password", role="agent")
    return ("wang.agent", "agent password")


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_login_without_a_valid_csrf_token_is_400(client, agent, token):
    data = {"username": agent[0], "password": agent[1]}
    if token is not None:
        data["csrf_token"] = token
    client.get("/login")
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert client.get("/queue").status_code == 302


def test_logout_without_a_csrf_token_is_400_and_keeps_the_session(client, agent):
    client.post("/login", data={"username": agent[0], "password": agent[1], "csrf_token": csrf_token(client)})
    assert client.post("/logout").status_code == 400
    assert client.get("/queue").status_code == 200


def test_the_csrf_header_htmx_sends_is_accepted(client, agent):
    token = csrf_token(client)
    response = client.post("/login", data={"username": agent[0], "password": agent[1]},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 302


def test_the_signed_webhook_needs_no_csrf_token(client):
    body = json.dumps({"reviews": [{"review_id": "csrf-1", "text": "物流太慢了", "customer_id": "c1",
                                    "product_id": "p1"}]}).encode()
    response = client.post("/api/v1/webhooks/reviews", data=body, content_type="application/json",
                           headers=sign(body))
    assert response.status_code == 202


def test_the_token_api_needs_no_csrf_token(client):
    # An unauthenticated POST to the API is answered by the API's own rules (JSON), not by CSRF.
    response = client.post("/api/v1/cases/1/actions", json={"action": "claim", "version": 1})
    assert response.status_code in (401, 404, 405)
    assert response.is_json


def test_the_session_cookie_is_httponly_and_samesite_lax(client, agent):
    client.get("/login")
    response = client.post("/login", data={"username": agent[0], "password": agent[1],
                                           "csrf_token": csrf_token(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_when_configured(settings):
    import dataclasses

    from web import create_app

    app = create_app(dataclasses.replace(settings, cookie_secure=True))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_cookie_secure_comes_from_the_environment(tmp_path):
    from triage.config import ConfigError, Settings

    env = {"TRIAGE_DB": str(tmp_path / "t.db"), "TRIAGE_SECRET_KEY": "k", "TRIAGE_WEBHOOK_SECRET": "w"}
    assert Settings.from_env(env, var_dir=tmp_path).cookie_secure is False
    assert Settings.from_env({**env, "TRIAGE_COOKIE_SECURE": "1"}, var_dir=tmp_path).cookie_secure is True
    with pytest.raises(ConfigError, match="TRIAGE_COOKIE_SECURE"):
        Settings.from_env({**env, "TRIAGE_COOKIE_SECURE": "maybe"}, var_dir=tmp_path)


@pytest.mark.parametrize("path", ["/", "/login", "/queue", "/reports/weekly", "/healthz", "/api/v1/stats",
                                  "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Server"] == "review-triage"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/site.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_htmx_is_served_locally_and_pages_have_no_inline_script(client):
    response = client.get("/static/htmx.min.js")
    assert response.status_code == 200 and response.data.startswith(b"var htmx=")
    response.close()
    html = client.get("/").get_data(as_text=True)
    assert '<script src="/static/htmx.min.js" defer></script>' in html
    assert '<script src="/static/app.js" defer></script>' in html  # countdowns, copy buttons
    assert html.count("<script") == 2  # both from /static, neither inline
