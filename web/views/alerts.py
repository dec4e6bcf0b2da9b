"""`/alerts`: product alerts (差评预警) and listing audits (详情页审核) for supervisors and admins.

The list shows what is open; an alert's page shows its daily chart, the reviews behind it with the
recurring terms highlighted, its timeline, and the acknowledge / resolve forms. Resolving a
listing audit (description mismatch) asks what was changed on the listing: the note is required.
Access is checked in `before_request` for every route of the blueprint.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from classifier.causes import CAUSE_NAMES_ZH
from triage.alerts import store
from triage.alerts.chart import daily_chart
from triage.alerts.terms import highlight
from triage.timeutil import from_db, parse_rfc3339, utcnow
from web.auth import refusal
from web.db import get_db, get_settings

__all__ = ["ALERT_ROLES", "RESOLUTION_NAMES", "bp"]

bp = Blueprint("alerts", __name__)

ALERT_ROLES = ("supervisor", "admin")
RESOLUTION_NAMES = {
    "listing_fixed": "详情页已修改",
    "supplier_qc": "联系供应商质检",
    "logistics_changed": "更换物流/仓库",
    "delisted": "下架",
    "other": "其他",
}
STATUS_NAMES = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}
EVENT_NAMES = {"opened": "预警开启", "reviews_joined": "新差评加入", "notified": "已推送通知",
               "acknowledged": "已确认", "resolved": "已解决"}
TABS = (("active", "进行中"), ("resolved", "已解决"), ("all", "全部"))


@bp.before_request
def _gate() -> Response | None:
    return refusal(ALERT_ROLES)


def _local(value: str | None) -> str:
    moment = from_db(value)
    return moment.astimezone(get_settings().zone).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _view(row: Any) -> dict[str, Any]:
    alert = store.alert_json(get_db(), row)
    alert.update(
        cause_name=CAUSE_NAMES_ZH.get(alert["cause"], alert["cause"]),
        status_name=STATUS_NAMES.get(alert["status"], alert["status"]),
        opened_local=_local(row["opened_at"]),
        resolved_local=_local(row["resolved_at"]),
        listing=alert["cause"] == "description_mismatch",
        resolution_name=RESOLUTION_NAMES.get(alert["resolution"] or "", ""),
    )
    return alert


@bp.get("/alerts")
def index():
    tab = request.args.get("tab", "active")
    if tab not in dict(TABS):
        abort(400)
    conn = get_db()
    if tab == "active":
        rows = [*store.list_alerts(conn, "open", limit=500)[0], *store.list_alerts(conn, "acknowledged", limit=500)[0]]
    else:
        rows = store.list_alerts(conn, None if tab == "all" else tab, limit=500)[0]
    return render_template("alerts/index.html", alerts=[_view(r) for r in rows], tab=tab, tabs=TABS)


def _row(alert_id: int):
    try:
        return store.get_alert(get_db(), alert_id)
    except store.AlertNotFound:
        abort(404)


@bp.get("/alerts/<int:alert_id>")
def detail(alert_id: int):
    conn = get_db()
    row = _row(alert_id)
    alert = _view(row)
    settings = get_settings()
    days = store.daily_counts(conn, row, utcnow(), settings.zone, days=28)
    terms = alert["terms"]
    reviews = []
    for r in store.alert_reviews(conn, alert_id, limit=100):
        stored = json.loads(r["terms"] or "{}") if r["terms"] else {}
        own = [t.get("term") for t in (stored.get("causes") or {}).get(row["cause"], []) if isinstance(t, dict)]
        reviews.append({
            "platform": r["platform"], "review_id": r["review_id"], "rating": r["rating"],
            "created_local": _local(r["created_at"]), "customer": r["customer_name"] or r["customer_id"],
            "pieces": highlight(r["text"], [*terms, *[t for t in own if t]]), "case_id": r["case_id"],
        })
    events = store.alert_events(conn, alert_id)
    for e in events:
        e["name"] = EVENT_NAMES.get(e["kind"], e["kind"])
        e["local"] = parse_rfc3339(e["at"]).astimezone(settings.zone).strftime("%Y-%m-%d %H:%M")
        if e["detail"].get("resolution"):
            e["detail"]["resolution_name"] = RESOLUTION_NAMES.get(e["detail"]["resolution"], "")
    return render_template(
        "alerts/detail.html", alert=alert, chart=daily_chart(days, alert["baseline_rate"]), reviews=reviews,
        events=events, resolutions=RESOLUTION_NAMES, days=days,
    )


@bp.post("/alerts/<int:alert_id>/actions")
def act(alert_id: int):
    row = _row(alert_id)
    action = request.form.get("action", "")
    resolution = request.form.get("resolution") or None
    note = (request.form.get("note") or "").strip() or None
    if action == "resolve" and row["cause"] == "description_mismatch" and not note:
        flash("请写明详情页修改了什么（例如：更换了主图、修正了尺码表）。", "error")
        return redirect(url_for("alerts.detail", alert_id=alert_id))
    try:
        store.act(get_db(), alert_id, action, actor=g.agent.username, now=utcnow(), resolution=resolution, note=note)
    except store.AlertActionError as exc:
        message = "该预警已解决，无法再操作。" if exc.conflict else (
            "请选择处理方式。" if exc.field == "resolution" else f"无法执行：{exc}")
        flash(message, "error")
        return redirect(url_for("alerts.detail", alert_id=alert_id))
    flash("已确认该预警。" if action == "acknowledge" else "预警已解决。", "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))
