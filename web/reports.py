"""The supervisors' report page: /reports/weekly?week= (HTML) and /reports/weekly.csv?week=.

The page is the CLI's HTML (same renderer) plus navigation, a CSV download and the list of
published reports.

Access: supervisors and admins only. `_require_supervisor()` runs before every view of this
blueprint (`before_request`), so a new route cannot forget it. Until the agents' web login lands
it asks for HTTP Basic credentials of an agent account (`triage agent add NAME --role
supervisor`); behind TLS in production, as every page is.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request, url_for
from markupsafe import escape

from triage.agents import authenticate
from triage.reports.render import PageLinks, PastReport, render_csv, render_html
from triage.reports.store import list_published, weekly_report
from triage.reports.weeks import IsoWeek, WeekError
from triage.timeutil import utcnow
from web.api.reports import requested_week, wants_fresh
from web.db import get_db, get_settings

__all__ = ["bp"]

bp = Blueprint("reports", __name__)


SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})


def _require_supervisor() -> Response | None:
    """Gate for supervisor-only pages; return a response to refuse, None to allow."""
    auth = request.authorization
    agent = None
    if auth is not None and auth.type == "basic" and auth.username:
        agent = authenticate(get_db(), auth.username, auth.password or "")
    if agent is None:
        return Response(
            "<!DOCTYPE html><meta charset=\"utf-8\"><title>需要登录</title><p>请使用主管账号登录后查看周报。</p>",
            status=401,
            mimetype="text/html",
            headers={"WWW-Authenticate": 'Basic realm="triage reports", charset="UTF-8"'},
        )
    if agent.role not in SUPERVISOR_ROLES:
        return Response("<!DOCTYPE html><meta charset=\"utf-8\"><title>无权访问</title><p>周报仅对主管开放。</p>",
                        status=403, mimetype="text/html")
    g.agent = agent
    return None


@bp.before_request
def _gate() -> Response | None:
    # Looked up at call time, so the login work (and tests) can replace _require_supervisor.
    return _require_supervisor()


@bp.errorhandler(WeekError)
def _bad_week(exc: WeekError) -> Response:
    body = f"<!DOCTYPE html><meta charset=\"utf-8\"><title>无效的周</title><p>无效的周：{escape(exc.message)}</p>"
    return Response(body, status=400, mimetype="text/html")


def _links(week: IsoWeek) -> PageLinks:
    settings = get_settings()
    current = IsoWeek.of(utcnow(), settings.zone)
    nxt = week.next()
    return PageLinks(
        previous_url=url_for("reports.weekly_page", week=str(week.previous())),
        next_url=url_for("reports.weekly_page", week=str(nxt)) if nxt <= current else None,
        csv_url=url_for("reports.weekly_csv", week=str(week)),
        past=[
            PastReport(p["week"], url_for("reports.weekly_page", week=p["week"]), p["generated_at"],
                       p["model_version"])
            for p in list_published(get_db(), zone=settings.zone)
        ],
    )


@bp.get("/reports/weekly")
def weekly_page():
    week = requested_week()
    report = weekly_report(get_db(), week, get_settings().timezone, fresh=wants_fresh())
    return Response(render_html(report, _links(week)), mimetype="text/html")


@bp.get("/reports/weekly.csv")
def weekly_csv():
    week = requested_week()
    report = weekly_report(get_db(), week, get_settings().timezone, fresh=wants_fresh())
    return Response(
        render_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="weekly-report-{week}.csv"'},
    )

