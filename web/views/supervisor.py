"""`/supervisor`: the supervisors' live board (supervisors and admins).

The page itself is the frame (headings, filters, the period form); its parts load themselves with
htmx as soon as it is shown (``hx-trigger="load, every 20s"``), then refresh every 20 s (metrics
60 s), and at once after a reassignment: the POST answers with an ``HX-Trigger: board-changed``
header the parts listen for. No inline script (CSP).

- `/supervisor/workload`  workload per agent and the unassigned queue by priority (partial)
- `/supervisor/urgent`    cases breached or at risk now, soonest due first (partial)
- `/supervisor/metrics`   CS metrics per shift (side by side) and per agent for a period (partial)
- `/supervisor/preview`   how many active cases a bulk filter selects, and which (partial)
- POST `/supervisor/reassign`  move one case or the previewed cases to an agent, through
  `triage.cases.actions.bulk_assign` (every move audited). A bulk move takes the ids the preview
  showed and moves those that still match the filter now, so it moves exactly the filtered
  cases, never one that changed hands meanwhile.

Access is checked in `before_request` for every route of the blueprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from triage import board
from triage.cases.actions import Actor, bulk_assign
from triage.errors import ValidationFailed
from triage.metrics.cs import SMALL_SAMPLE, Period, parse_period, period_report
from triage.roster import roster
from triage.timeutil import utcnow
from web.auth import refusal
from web.db import get_db, get_policy, get_settings

__all__ = ["BOARD_ROLES", "bp"]

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")

BOARD_ROLES = ("supervisor", "admin")
PERIODS = (("today", "今天", 1), ("7d", "近 7 天", 7), ("28d", "近 4 周", 28), ("84d", "近 12 周", 84))
STATUS_NAMES = {"open": "待认领", "claimed": "已认领", "contacted": "已联系", "waiting_customer": "等待顾客"}
SLA_NAMES = {"breached": "已超时", "at_risk": "即将超时", "ok": "正常"}
CLOCK_NAMES = {"first_contact": "首次联系", "resolution": "解决"}


@bp.before_request
def _gate() -> Response | None:
    return refusal(BOARD_ROLES)


def _zone():
    return get_settings().zone


def _people() -> dict[str, Any]:
    agents = roster(get_db())
    return {"agents": agents, "agent_shifts": {a.username: a.shift for a in agents},
            "agent_names": {a.username: a.display_name for a in agents}}


def _workload_context(now: datetime, people: dict[str, Any]) -> dict[str, Any]:
    return {
        "loads": board.workload(get_db(), now, [a.username for a in people["agents"]]),
        "unassigned": board.unassigned_by_priority(get_db(), now),
    }


def _urgent_context(now: datetime) -> dict[str, Any]:
    cases, total = board.urgent_cases(get_db(), now)
    return {"urgent": cases, "urgent_total": total}


def _period() -> tuple[Period, str]:
    """The period the request asks for: a preset (`period=7d`, ...), or `period=custom` (or no
    preset) with `from`/`to`; by default the last 7 days. Raises ValidationFailed for bad dates."""
    settings, now = get_settings(), utcnow()
    preset = request.args.get("period") or ""
    presets = {key: days for key, _, days in PERIODS}
    if preset in presets:
        return Period.last_days(presets[preset], now, settings.timezone), preset
    if preset == "custom" or request.args.get("from") or request.args.get("to"):
        return parse_period(request.args.get("from"), request.args.get("to"), now, settings.timezone), ""
    return Period.last_days(7, now, settings.timezone), "7d"


def _period_context() -> dict[str, Any]:
    try:
        period, preset = _period()
        error = None
    except ValidationFailed as exc:
        period, preset = Period.last_days(7, utcnow(), get_settings().timezone), "7d"
        error = "；".join(f"{'开始' if i['field'] == 'from' else '结束'}日期：{i['message']}" for i in exc.items)
    return {"period": period, "preset": preset, "periods": PERIODS, "period_error": error}


def _metrics_context() -> dict[str, Any]:
    context = _period_context()
    return {"cs": period_report(get_db(), context["period"], get_policy().shifts), **context}


def _common() -> dict[str, Any]:
    return {"status_names": STATUS_NAMES, "sla_names": SLA_NAMES, "clock_names": CLOCK_NAMES,
            "zone": _zone(), "small_sample": SMALL_SAMPLE, "unassigned_value": board.UNASSIGNED,
            "max_bulk": board.MAX_BULK, "shifts": get_policy().shifts,
            "at_risk_percent": round(get_policy().at_risk_fraction * 100)}


@bp.get("")
def index():
    # The page is the frame only: each part loads itself at once (hx-trigger "load"), so the page
    # answers before the slowest part has been computed, and the parts arrive side by side.
    return render_template("supervisor/board.html", now=utcnow(), **_people(), **_period_context(), **_common())


@bp.get("/workload")
def workload_part():
    now, people = utcnow(), _people()
    return render_template("supervisor/_workload.html", now=now, **people, **_workload_context(now, people),
                           **_common())


@bp.get("/urgent")
def urgent_part():
    now = utcnow()
    return render_template("supervisor/_urgent.html", now=now, **_people(), **_urgent_context(now), **_common())


@bp.get("/metrics")
def metrics_part():
    return render_template("supervisor/_metrics.html", **_people(), **_metrics_context(), **_common())


def _filter_from(values) -> board.CaseFilter:
    return board.CaseFilter.parse({k: values.get(k) for k in ("assignee", "priority", "status", "sla")})


@bp.get("/preview")
def preview_part():
    try:
        case_filter = _filter_from(request.args)
    except ValidationFailed as exc:
        return render_template("supervisor/_preview.html", error=str(exc), **_common()), 422
    ids, total = board.matching_cases(get_db(), case_filter, utcnow())
    return render_template("supervisor/_preview.html", error=None, filter=case_filter, ids=ids, total=total,
                           **_people(), **_common())


def _answer(message: str, category: str, status: int = 200):
    if request.headers.get("HX-Request"):
        response = Response(render_template("supervisor/_result.html", message=message, category=category),
                            status=status)
        if category == "success":
            response.headers["HX-Trigger"] = "board-changed"
        return response
    flash(message, category)
    return redirect(url_for("supervisor.index"))


def _ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not part.isdigit() or len(part) > 18:
                raise ValidationFailed([{"field": "case_ids", "message": "case ids are whole numbers"}],
                                       code="invalid_filter")
            ids.append(int(part))
    return list(dict.fromkeys(ids))


@bp.post("/reassign")
def reassign():
    target = (request.form.get("agent") or "").strip()
    try:
        ids = _ids(request.form.getlist("case_ids"))
        case_filter = _filter_from(request.form) if request.form.get("bulk") else None
    except ValidationFailed as exc:
        return _answer(f"无法改派：{exc}", "error", 422)
    if not target:
        return _answer("请选择要改派给哪位客服。", "error", 422)
    if not ids:
        return _answer("没有选中任何工单。", "error", 422)
    if len(ids) > board.MAX_BULK:
        return _answer(f"一次最多改派 {board.MAX_BULK} 个工单，请缩小筛选范围。", "error", 422)
    now = utcnow()
    skipped_filter = 0
    if case_filter is not None:
        # Only what the filter still selects now: a case that changed hands since the preview stays put.
        still, _ = board.matching_cases(get_db(), case_filter, now, limit=board.MAX_BULK)
        current = set(still)
        skipped_filter = sum(1 for i in ids if i not in current)
        ids = [i for i in ids if i in current]
    actor = Actor(g.agent.username, g.agent.role)
    try:
        moved = bulk_assign(get_db(), ids, actor, target, policy=get_policy(), now=now)
    except ValidationFailed:
        return _answer(f"无法改派：没有在岗的客服 “{target}”。", "error", 422)
    unchanged = len(ids) - len(moved)
    message = f"已将 {len(moved)} 个工单改派给 {target}。"
    if skipped_filter:
        message += f" {skipped_filter} 个工单在预览后已不再符合筛选条件，未改动。"
    if unchanged:
        message += f" {unchanged} 个工单已由 {target} 负责或已结束，未改动。"
    return _answer(message, "success")
