"""Session login for every human page, after flaskr's auth.py.

`load_logged_in_user` runs before every request and puts the signed-in agent on `g.agent` (None
when nobody is signed in, or when the agent has been disabled since: disabling takes effect on
the next request, not at the next login). Views say who may see them with `login_required` or
`role_required("supervisor", "admin")`; a blueprint that is all one audience calls `refusal()`
from its `before_request`, so a new route cannot forget the check.

The JSON API does not use this: it authenticates each request by Bearer token (web/api/auth.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, session, url_for

from triage.agents import Agent, authenticate, get_agent, record_login
from web.db import get_db

__all__ = ["bp", "login_required", "refusal", "role_required", "safe_next"]

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)

BAD_LOGIN = "用户名或密码不正确，或该账号已停用。"
MISSING_FIELDS = "请填写用户名和密码。"
SESSION_KEY = "agent"


@bp.before_app_request
def load_logged_in_user() -> None:
    username = session.get(SESSION_KEY)
    agent: Agent | None = None
    if username is not None:
        agent = get_agent(get_db(), username)
        if agent is not None and not agent.active:
            agent = None
    g.agent = agent


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (so a login link cannot send anyone elsewhere), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _here() -> str:
    return request.full_path if request.query_string else request.path


def refusal(roles: tuple[str, ...] = ()) -> Response | None:
    """The response that turns this request away (to the login page, or 403), or None to let it in."""
    if g.get("agent") is None:
        return redirect(url_for("auth.login", next=_here()))
    if roles and g.agent.role not in roles:
        return Response(render_template("forbidden.html", roles=roles), status=403)
    return None


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return refusal() or view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def role_required(*roles: str) -> Callable[[F], F]:
    """Only signed-in agents with one of `roles`; others get the 403 page."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return refusal(roles) or view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


@bp.route("/login", methods=("GET", "POST"))
def login():
    next_url = safe_next(request.values.get("next"))
    if g.agent is not None and request.method == "GET":
        return redirect(next_url or url_for("queue.index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not username or not password:
            error = MISSING_FIELDS
        else:
            agent = authenticate(get_db(), username, password)
            if agent is None:
                error = BAD_LOGIN  # one message for unknown user, wrong password and disabled account
            else:
                # A fresh session: nothing from before the login (e.g. a planted session id) survives.
                session.clear()
                session[SESSION_KEY] = agent.username
                record_login(get_db(), agent.username)
                session.permanent = True
                return redirect(next_url or url_for("queue.index"))
    status = 200 if error is None else 400
    return render_template("login.html", error=error, username=username, next=next_url or ""), status


@bp.post("/logout")
def logout():
    session.clear()
    flash("您已安全退出。", "info")
    return redirect(url_for("landing.index"))
