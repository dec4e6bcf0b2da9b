"""`/cases/<id>`: the case page, and `POST /cases/<id>/actions`, the form every action button posts.

Every action goes through `triage.cases.actions.perform()` (the same entry point as the JSON
API), with the case `version` the page was rendered with: a page that went stale while the agent
read it gets a clear message and the fresh page, never a silent overwrite. After any post the
browser is redirected back to the case page (post/redirect/get), so a reload never repeats an
action. Buttons for what the agent's role or position rules out are not shown; the domain refuses
them anyway (403), and this page says so in Chinese.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from triage.casefile import CaseFile, assignable_agents, load_case_file
from triage.cases.actions import Actor, ClaimedByOther, perform
from triage.cases.lifecycle import InvalidTransition, VersionConflict
from triage.cases.store import ACTIVE_STATUSES, load_pauses, row_clocks
from triage.errors import Conflict, Forbidden, NotFound, ValidationFailed
from triage.handbook import current_replies, fill
from triage.highlight import highlight
from triage.timeutil import utcnow
from web.auth import login_required
from web.db import get_db, get_policy
from web.views import labels
from web.views.present import countdown, json_list, remaining_text

__all__ = ["ACTION_NAMES", "bp", "offered_actions"]

bp = Blueprint("cases", __name__)

ACTION_NAMES = {
    "claim": "认领",
    "release": "释放",
    "assign": "分派",
    "contact": "记录联系",
    "wait": "等待顾客",
    "resume": "恢复处理",
    "resolve": "解决",
    "close": "关闭",
    "note": "备注",
    "correct": "纠正判断",
}
STALE = "这个工单刚刚被其他人更新过，您的「{action}」没有执行。页面已刷新为最新内容，请核对后再操作。"
CLAIMED = "「{action}」没有执行：{message}"
CLAIMED_BY = "该工单已被 {who} 认领，您的认领没有生效。"
NOT_NOW = "当前状态（{status}）下不能执行「{action}」。页面已刷新为最新内容。"
FORBIDDEN = "您无权对这个工单执行「{action}」。"
INVALID = "「{action}」没有执行，请检查填写的内容：{problems}"
DONE = "已{action}。"
FIELD_NAMES = {"channel": "联系渠道", "outcome": "联系结果", "resolution": "解决方式", "satisfaction": "顾客满意度",
               "reason": "关闭原因", "text": "备注内容", "note": "备注", "agent": "客服", "causes": "原因",
               "sentiment": "情感", "review": "评价", "version": "版本", "action": "操作"}


def offered_actions(case: Any, agent: Any) -> set[str]:
    """What this agent may do to this case now: the buttons the page shows (the domain decides)."""
    active = case["status"] in ACTIVE_STATUSES
    mine = case["assignee"] is not None and case["assignee"] == agent.username
    supervises = agent.role in ("supervisor", "admin")
    offered = {"note", "correct"}
    if active and case["assignee"] is None:
        offered.add("claim")
    if active and case["assignee"] is not None and (mine or supervises):
        offered.add("release")
    if active and supervises:
        offered.add("assign")
    if mine and case["status"] in ("claimed", "contacted", "waiting_customer"):
        offered.add("contact")
    if mine and case["status"] == "contacted":
        offered.add("wait")
    if mine and case["status"] == "waiting_customer":
        offered.add("resume")
    if mine and case["status"] in ("contacted", "waiting_customer"):
        offered.add("resolve")
    if case["status"] != "closed" and (mine or (supervises and case["assignee"] is not None) or
                                       (supervises and active)):
        offered.add("close")
    return offered


def _reviews_view(file: CaseFile) -> list[dict[str, Any]]:
    out = []
    for r in file.reviews:
        out.append({
            "row": r,
            "key": f"{r['platform']}/{r['review_id']}",
            "segments": highlight(r["text"], r["complaints"], r["terms"], r["causes"]),
            "causes": json_list(r["causes"]),
            "revisions": file.revisions.get(r["id"], []),
            "in_case": r["case_id"] == file.case["id"],
        })
    return out


def _handbook(file: CaseFile, latest: Any) -> list[dict[str, Any]]:
    causes = file.causes or ["other"]
    replies = current_replies(get_db(), causes) or current_replies(get_db(), ["other"])
    customer = file.customer["name"] if file.customer is not None and file.customer["name"] else None
    values = {
        "customer_name": (latest["customer_name"] if latest is not None else None) or customer,
        "product_name": latest["product_name"] if latest is not None else None,
        "order_id": latest["order_id"] if latest is not None else None,
        "agent_name": g.agent.display_name or g.agent.username,
    }
    return [{"reply": reply, "text": fill(reply.body, values)} for reply in replies]


@bp.get("/cases/<int:case_id>")
@login_required
def show(case_id: int):
    conn = get_db()
    try:
        file = load_case_file(conn, case_id)
    except NotFound:
        abort(404)
    now = utcnow()
    case = file.case
    active = case["status"] in ACTIVE_STATUSES
    clocks = row_clocks(case, load_pauses(conn, case_id), get_policy(), now)
    clock = countdown(clocks, case["first_contacted_at"] is not None, active)
    latest = file.latest_review_of_case()
    offered = offered_actions(case, g.agent)
    return render_template(
        "case.html",
        file=file,
        case=case,
        clocks=clocks,
        clock=clock,
        remaining=remaining_text(clock.due, now) if active else ("按时完成" if clock.state == "met" else "超时完成"),
        reviews=_reviews_view(file),
        handbook=_handbook(file, latest),
        offered=offered,
        agents=assignable_agents(conn) if "assign" in offered else [],
        labels=labels,
        action_names=ACTION_NAMES,
    )


def _fields(action: str, form: MultiDict[str, str]) -> dict[str, Any]:
    """The action's fields from the posted form (blank optional fields left out)."""
    names = {
        "release": ("note",), "assign": ("agent", "note"), "contact": ("channel", "outcome", "note"),
        "wait": ("note",), "resume": ("note",), "resolve": ("resolution", "satisfaction", "note"),
        "close": ("reason", "note"), "note": ("text",), "correct": ("review", "sentiment"),
    }.get(action, ())
    fields: dict[str, Any] = {}
    for name in names:
        value = form.get(name, "").strip()
        if value or name in ("text",):
            fields[name] = value
    if action == "correct" and form.get("set_causes"):
        fields["causes"] = form.getlist("causes")
    return fields


def _problems(exc: ValidationFailed) -> str:
    parts = []
    for item in exc.items:
        field = str(item.get("field") or "")
        parts.append(f"{FIELD_NAMES.get(field, field)}（{item.get('message')}）")
    return "；".join(parts) or (exc.message or "")


@bp.post("/cases/<int:case_id>/actions")
@login_required
def act(case_id: int):
    action = request.form.get("action", "")
    name = ACTION_NAMES.get(action, action)
    back = redirect(url_for("cases.show", case_id=case_id, _anchor=request.form.get("anchor") or None), code=303)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        flash(INVALID.format(action=name, problems="页面缺少工单版本，请刷新后重试。"), "error")
        return back
    actor = Actor(g.agent.username, g.agent.role)
    try:
        perform(get_db(), case_id, actor, action, _fields(action, request.form), version=version,
                policy=get_policy(), now=utcnow())
    except NotFound:
        abort(404)
    except Forbidden:
        return Response(render_template("error.html", title="无权操作", message=FORBIDDEN.format(action=name),
                                        status=403, back=url_for("cases.show", case_id=case_id)), status=403)
    except VersionConflict:
        flash(STALE.format(action=name), "warning")
        return back
    except ClaimedByOther:
        holder = get_db().execute("SELECT assignee FROM cases WHERE id = ?", (case_id,)).fetchone()
        who = holder["assignee"] if holder and holder["assignee"] else "其他人"
        flash(CLAIMED_BY.format(who=who) if who != g.agent.username else "您已经认领了这个工单。", "warning")
        return back
    except InvalidTransition:
        row = get_db().execute("SELECT status FROM cases WHERE id = ?", (case_id,)).fetchone()
        flash(NOT_NOW.format(status=labels.STATUSES.get(row["status"], row["status"]), action=name), "warning")
        return back
    except Conflict as exc:
        flash(CLAIMED.format(action=name, message=exc.message or "工单状态已变化"), "warning")
        return back
    except ValidationFailed as exc:
        flash(INVALID.format(action=name, problems=_problems(exc)), "error")
        return back
    flash(DONE.format(action=name), "info")
    return back
