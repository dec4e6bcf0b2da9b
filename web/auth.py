"""Session login for every human page, after flaskr's auth.py.

`load_logged_in_user` runs before every request and puts the signed-in agent on `g.agent` (None
when nobody is signed in, or when the agent has been disabled since: disabling takes effect on
the next request, not at the next login). Views say who may see them with `login_required` or
`role_required("supervisor", "admin")`; a blueprint that is all one audience calls `refusal()`
from its `before_request`, so a new route cannot forget the check.

The JSON API does not use this: it authenticates each request by Bearer token (web/api/auth.py).

Failed sign-ins are throttled per account and per address and lock an account out after repeated
failures (`triage.login_throttle`); password checks are bounded in number (`triage.passwords`).
Each failed sign-in and each refusal for want of a role is one line on the `triage.audit` logger.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, session, url_for

from triage.agents import Agent, authenticate, get_agent
from triage.login_throttle import check_login_allowed, record_login_failure, record_login_success
from triage.passwords import HashingBusy
from triage.timeutil import utcnow
from web.db import get_db

__all__ = ["bp", "login_required", "refusal", "role_required", "safe_next"]

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)

audit = logging.getLogger("triage.audit")

BAD_LOGIN = "用户名或密码不正确，或该账号已停用。"
LOCKED = "登录失败次数过多，该账号已暂时锁定，请 {minutes} 分钟后再试，或请管理员解锁（triage agent unlock 用户名）。"
THROTTLED = "此网络地址登录失败次数过多，请 {minutes} 分钟后再试。"
BUSY = "登录请求过多，请稍后再试。"
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
        audit.warning("permission refused: agent=%s role=%s %s %s needs=%s address=%s", g.agent.username,
                      g.agent.role, request.method, request.path, "|".join(roles), request.remote_addr)
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
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        address = request.remote_addr or "?"
        if not username or not password:
            error, status = MISSING_FIELDS, 400
        else:
            conn = get_db()
            now = utcnow()
            refused = check_login_allowed(conn, username, address, now=now)
            if refused is not None:
                wait = refused.retry_after(now)
                audit.warning("login refused: username=%r address=%s reason=%s", username, address, refused.reason)
                template = LOCKED if refused.reason == "account_locked" else THROTTLED
                error, status = template.format(minutes=max(wait // 60, 1)), 429
                headers["Retry-After"] = str(wait)
            else:
                try:
                    agent = authenticate(conn, username, password)
                except HashingBusy:
                    agent = None
                    error, status = BUSY, 503
                    headers["Retry-After"] = "5"
                if agent is None and status != 503:
                    locked_until = record_login_failure(conn, username, address, now=now)
                    audit.warning("login failed: username=%r address=%s%s", username, address,
                                  " (account now locked)" if locked_until else "")
                    error, status = BAD_LOGIN, 400  # one message for unknown user, wrong password and disabled
                elif agent is not None:
                    record_login_success(conn, agent.username)
                    # A fresh session: nothing from before the login (e.g. a planted session id) survives.
                    session.clear()
                    session[SESSION_KEY] = agent.username
                    session.permanent = True
                    return redirect(next_url or url_for("queue.index"))
    return render_template("login.html", error=error, username=username, next=next_url or ""), status, headers


@bp.post("/logout")
def logout():
    session.clear()
    flash("您已安全退出。", "info")
    return redirect(url_for("landing.index"))
