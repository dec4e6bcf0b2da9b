"""Helpers for tests of the human pages: the CSRF token a form carries, signing in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path` (it is bound to this client's session)."""
    html = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(html)
    assert match, f"no csrf_token field on {path}"
    return match.group(1)



def sign_in(client: FlaskClient, username: str) -> None:
    """Signed in as `username`, the session as a successful login leaves it (the login form itself,
    its throttling and its records are test_web_auth's and test_login_throttle's business)."""
    from web.auth import SESSION_KEY

    with client.session_transaction() as session:
        session.clear()
        session[SESSION_KEY] = username
        session.permanent = True
