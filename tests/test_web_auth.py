"""Session login for the human pages: /login, /logout, g.agent, login_required, role_required."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.web_support import csrf_token
from triage.agents import add_agent

AGENT = ("wang.agent", "agent password")
SUPERVISOR = ("zhao.supervisor", "correct horse battery")
BAD_LOGIN = "用户名或密码不正确，或该账号已停用。"


@pytest.fixture()
def agents(db):
    add_agent(db, *AGENT, role="agent", display_name="王小二")
    add_agent(db, *SUPERVISOR, role="supervisor")


def login(client, username, password, **extra):
    data = {"username": username, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post("/login", data=data)


def test_login_page_is_a_form_with_username_and_password(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<form method="post" action="/login"' in html
    assert 'name="username"' in html and 'name="password" type="password"' in html
    assert 'name="csrf_token"' in html


def test_a_good_login_redirects_to_the_queue(client, agents):
    response = login(client, *AGENT)
    assert (response.status_code, response.location) == (302, "/queue")
    page = client.get("/queue").get_data(as_text=True)
    assert "王小二" in page and "客服" in page


@pytest.mark.parametrize("username, password", [(AGENT[0], "wrong"), ("nobody", AGENT[1])])
def test_a_bad_login_shows_one_chinese_message_for_wrong_password_and_unknown_user(client, agents, username,
                                                                                    password):
    response = login(client, username, password)
    assert response.status_code == 400
    assert BAD_LOGIN in response.get_data(as_text=True)
    assert client.get("/queue").status_code == 302


def test_a_login_with_empty_fields_asks_for_both(client, agents):
    response = login(client, "", "")
    assert "请填写用户名和密码。" in response.get_data(as_text=True)


def test_a_disabled_agent_cannot_log_in(client, agents, db):
    db.execute("UPDATE agents SET active = 0 WHERE username = ?", (AGENT[0],))
    db.commit()
    response = login(client, *AGENT)
    assert response.status_code == 400 and BAD_LOGIN in response.get_data(as_text=True)


def test_disabling_an_agent_ends_their_session_on_the_next_request(client, agents, db):
    login(client, *AGENT)
    db.execute("UPDATE agents SET active = 0 WHERE username = ?", (AGENT[0],))
    db.commit()
    assert client.get("/queue").status_code == 302


def test_login_starts_a_fresh_session(client, agents):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, *AGENT)
    with client.session_transaction() as session:
        assert "planted" not in session and session["agent"] == AGENT[0]


def test_logout_ends_the_session(client, agents):
    login(client, *AGENT)
    token = csrf_token(client, "/queue")
    response = client.post("/logout", data={"csrf_token": token})
    assert (response.status_code, response.location) == (302, "/")
    assert "您已安全退出。" in client.get("/").get_data(as_text=True)
    assert client.get("/queue").status_code == 302


def test_logout_is_not_a_get(client, agents):
    login(client, *AGENT)
    assert client.get("/logout").status_code == 405
    assert client.get("/queue").status_code == 200


@pytest.mark.parametrize("path", ["/queue", "/reports/weekly?week=2026-W48"])
def test_pages_behind_login_redirect_with_next(client, path):
    response = client.get(path)
    location = urlsplit(response.location)
    assert (response.status_code, location.path, parse_qs(location.query)) == (302, "/login", {"next": [path]})


def test_login_returns_to_a_same_site_next(client, agents):
    response = login(client, *SUPERVISOR, next="/reports/weekly?week=2026-W48")
    assert response.location == "/reports/weekly?week=2026-W48"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x",
                                    "/queue\r\nLocation: https://evil.example/"])
def test_login_ignores_a_next_that_leaves_the_site(client, agents, target):
    assert login(client, *AGENT, next=target).location == "/queue"


def test_an_agent_gets_403_on_the_supervisor_report(client, agents):
    login(client, *AGENT)
    response = client.get("/reports/weekly")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "无权访问" in html and "主管、管理员" in html


def test_navigation_shows_the_report_only_to_supervisors(client, agents):
    login(client, *AGENT)
    assert "/reports/weekly" not in client.get("/queue").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/queue")})
    login(client, *SUPERVISOR)
    assert 'href="/reports/weekly"' in client.get("/queue").get_data(as_text=True)


def test_landing_page_for_visitors_links_to_login(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and 'href="/login"' in html


def test_landing_page_sends_a_signed_in_agent_to_the_queue(client, agents):
    login(client, *AGENT)
    response = client.get("/")
    assert (response.status_code, response.location) == (302, "/queue")


def test_unknown_pages_get_a_chinese_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


def test_role_required_wraps_any_view(app, agents):
    from flask import g

    from web.auth import role_required

    @role_required("admin")
    def admin_only():
        return "secret"

    with app.test_request_context("/x"):
        g.agent = None
        assert admin_only().status_code == 302
    with app.test_request_context("/x"):
        from triage.agents import get_agent
        from web.db import get_db

        g.agent = get_agent(get_db(), SUPERVISOR[0])
        assert admin_only().status_code == 403
