"""`/handbook`: the reply handbook (客服应答手册) editor. Supervisors and admins write, edit and
retire replies; agents read them (on each case page, filled in for the customer).

Editing saves a new version (`triage.handbook`), carrying the version the editor was opened on:
if someone saved in between, the edit is refused with a message instead of overwriting theirs.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from triage.errors import Conflict, NotFound, ValidationFailed
from triage.handbook import (
    MAX_BODY,
    MAX_TITLE,
    PLACEHOLDERS,
    current_replies,
    get_reply,
    reply_history,
    retire_reply,
    save_reply,
)
from triage.timeutil import utcnow
from web.auth import login_required, role_required
from web.db import get_db
from web.views import labels

__all__ = ["EDITOR_ROLES", "bp"]

bp = Blueprint("handbook", __name__)

EDITOR_ROLES = ("supervisor", "admin")


def _problems(exc: ValidationFailed) -> str:
    return "；".join(str(item.get("message")) for item in exc.items)


@bp.get("/handbook")
@login_required
def index():
    replies = current_replies(get_db(), include_retired=g.agent.role in EDITOR_ROLES)
    by_cause = {code: [r for r in replies if r.cause == code] for code in labels.CAUSE_NAMES}
    return render_template("handbook/index.html", by_cause=by_cause, labels=labels,
                           can_edit=g.agent.role in EDITOR_ROLES)


@bp.route("/handbook/new", methods=("GET", "POST"))
@role_required(*EDITOR_ROLES)
def new():
    form = {"cause": request.values.get("cause", "logistics"), "title": "", "body": ""}
    if request.method == "POST":
        form.update(title=request.form.get("title", ""), body=request.form.get("body", ""),
                    cause=request.form.get("cause", ""))
        try:
            reply = save_reply(get_db(), cause=form["cause"], title=form["title"], body=form["body"],
                               author=g.agent.username, now=utcnow())
        except ValidationFailed as exc:
            flash(f"没有保存：{_problems(exc)}", "error")
        else:
            flash(f"已添加回复「{reply.title}」。", "info")
            return redirect(url_for("handbook.index", _anchor=f"reply-{reply.reply_key}"), code=303)
    return render_template("handbook/edit.html", form=form, reply=None, history=[], labels=labels,
                           placeholders=PLACEHOLDERS, max_title=MAX_TITLE, max_body=MAX_BODY)


@bp.route("/handbook/<reply_key>", methods=("GET", "POST"))
@role_required(*EDITOR_ROLES)
def edit(reply_key: str):
    conn = get_db()
    try:
        reply = get_reply(conn, reply_key)
    except NotFound:
        abort(404)
    form = {"cause": reply.cause, "title": reply.title, "body": reply.body, "version": reply.version}
    if request.method == "POST":
        form.update(title=request.form.get("title", ""), body=request.form.get("body", ""),
                    cause=request.form.get("cause", ""))
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            version = -1
        try:
            saved = save_reply(conn, reply_key=reply_key, cause=form["cause"], title=form["title"], body=form["body"],
                               author=g.agent.username, now=utcnow(), expected_version=version)
        except ValidationFailed as exc:
            flash(f"没有保存：{_problems(exc)}", "error")
        except Conflict:
            flash("没有保存：这条回复刚被其他人修改过。下面是最新内容，请在此基础上重新修改。", "warning")
            return redirect(url_for("handbook.edit", reply_key=reply_key), code=303)
        else:
            flash(f"已保存「{saved.title}」第 {saved.version} 版。", "info")
            return redirect(url_for("handbook.index", _anchor=f"reply-{reply_key}"), code=303)
    return render_template("handbook/edit.html", form=form, reply=reply, history=reply_history(conn, reply_key),
                           labels=labels, placeholders=PLACEHOLDERS, max_title=MAX_TITLE, max_body=MAX_BODY)


@bp.post("/handbook/<reply_key>/retire")
@role_required(*EDITOR_ROLES)
def retire(reply_key: str):
    try:
        reply = retire_reply(get_db(), reply_key, author=g.agent.username, now=utcnow())
    except NotFound:
        abort(404)
    flash(f"已停用「{reply.title}」，客服将不再看到它。", "info")
    return redirect(url_for("handbook.index"), code=303)


@bp.post("/handbook/<reply_key>/restore")
@role_required(*EDITOR_ROLES)
def restore(reply_key: str):
    conn = get_db()
    try:
        reply = get_reply(conn, reply_key)
    except NotFound:
        abort(404)
    if reply.retired:
        reply = save_reply(conn, reply_key=reply_key, cause=reply.cause, title=reply.title, body=reply.body,
                           author=g.agent.username, now=utcnow())
    flash(f"已重新启用「{reply.title}」。", "info")
    return redirect(url_for("handbook.index"), code=303)
