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

