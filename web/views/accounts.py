"""`/accounts` (agents) and `/accounts/tokens` (API tokens): admins manage, supervisors look.

Admins add agents, disable and re-enable them, reset passwords and set shifts; they list and
revoke API tokens. Supervisors see the same lists read-only (who is on which shift), with no
buttons; the POST routes check the admin role themselves. A new or reset password is typed by
the admin (never shown back, never put in a flash cookie).
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from triage import agents as accounts
from triage import tokens
from triage.errors import Conflict, NotFound, ValidationFailed
from triage.login_throttle import lockout_of, unlock_account
from web.auth import refusal
from web.db import get_db
from web.views.base import ROLE_NAMES

__all__ = ["ADMIN", "SHIFTS", "VIEWERS", "bp"]

bp = Blueprint("accounts", __name__)

VIEWERS = ("supervisor", "admin")
ADMIN = ("admin",)
SHIFTS = ("白班", "夜班")  # offered first; any other name may be typed


@bp.before_request
def _gate() -> Response | None:
    return refusal(ADMIN if request.method == "POST" else VIEWERS)


def _back() -> Response:
    return redirect(url_for("accounts.agents"), code=303)


def _problems(exc: ValidationFailed) -> str:
    names = {"username": "用户名", "password": "密码", "role": "角色", "shift": "班次"}
    return "；".join(f"{names.get(str(i.get('field')), i.get('field'))}：{i.get('message')}" for i in exc.items)


@bp.get("/accounts")
def agents():
    conn = get_db()
    live_tokens = [t for t in tokens.list_tokens(conn) if t.revoked_at is None]
    agent_list = accounts.list_agents(conn)
    locked = {a.username: until for a in agent_list if (until := lockout_of(conn, a.username)) is not None}
    return render_template("accounts/agents.html", agents=agent_list, role_names=ROLE_NAMES,
                           shifts=SHIFTS, roles=accounts.ROLES, can_edit=g.agent.role in ADMIN,
                           token_count=len(live_tokens), locked=locked)


@bp.post("/accounts")
def add():
    form = request.form
    try:
        accounts.add_agent(get_db(), form.get("username", "").strip(), form.get("password", ""),
                           form.get("role", "agent"), display_name=form.get("display_name", "").strip() or None)
        shift = form.get("shift", "").strip()
        if shift:
            accounts.set_shift(get_db(), form.get("username", "").strip(), shift)
    except ValidationFailed as exc:
        flash(f"没有添加：{_problems(exc)}", "error")
    except Conflict:
        flash(f"没有添加：用户名 {form.get('username', '').strip()} 已存在。", "error")
    else:
        flash(f"已添加账号 {form.get('username', '').strip()}。请把初始密码当面或通过企业微信私聊告知本人。", "info")
    return _back()


@bp.post("/accounts/<username>/disable")
def disable(username: str):
    if username == g.agent.username:
        flash("不能停用自己的账号。", "error")
        return _back()
    try:
        accounts.disable_agent(get_db(), username)
    except NotFound:
        flash(f"没有账号 {username}。", "error")
    else:
        flash(f"已停用 {username}：立即退出登录，不能再被分派工单，其 API 令牌也随之失效。", "info")
    return _back()


@bp.post("/accounts/<username>/enable")
def enable(username: str):
    try:
        accounts.enable_agent(get_db(), username)
    except NotFound:
        flash(f"没有账号 {username}。", "error")
    else:
        flash(f"已重新启用 {username}。", "info")
    return _back()


@bp.post("/accounts/<username>/unlock")
def unlock(username: str):
    if unlock_account(get_db(), username):
        flash(f"已解除 {username} 的登录锁定，可立即重新登录。", "info")
    else:
        flash(f"{username} 当前没有被锁定。", "info")
    return _back()


@bp.post("/accounts/<username>/password")
def password(username: str):
    try:
        accounts.set_password(get_db(), username, request.form.get("password", ""))
    except ValidationFailed:
        flash("没有重设：新密码不能为空。", "error")
    except NotFound:
        flash(f"没有账号 {username}。", "error")
    else:
        flash(f"已重设 {username} 的密码。", "info")
    return _back()


@bp.post("/accounts/<username>/shift")
def shift(username: str):
    try:
        accounts.set_shift(get_db(), username, request.form.get("shift", "").strip() or None)
    except ValidationFailed as exc:
        flash(f"没有保存：{_problems(exc)}", "error")
    except NotFound:
        flash(f"没有账号 {username}。", "error")
    else:
        flash(f"已更新 {username} 的班次。", "info")
    return _back()


@bp.get("/accounts/tokens")
def token_list():
    conn = get_db()
    return render_template("accounts/tokens.html", tokens=tokens.list_tokens(conn), can_edit=g.agent.role in ADMIN)


@bp.post("/accounts/tokens/<int:token_id>/revoke")
def revoke(token_id: int):
    if tokens.revoke_token(get_db(), token_id):
        flash("已吊销令牌：使用它的集成将立即无法访问。", "info")
    else:
        flash("这个令牌不存在或已被吊销。", "warning")
    return redirect(url_for("accounts.token_list"), code=303)
