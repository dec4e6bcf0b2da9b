"""The supervisors' report pages: /reports/weekly?week= (HTML) and /reports/weekly.csv?week=.

The page body is the CLI's HTML report (triage/reports/render.py, the same renderer, so page,
file and API agree) placed inside base.html, with navigation between weeks, a CSV download and the
list of published reports. The report's own stylesheet comes along as one inline `<style>`,
allowed by its hash in the Content-Security-Policy; no inline script anywhere.

Access: supervisors and admins, checked in `before_request` for every route of this blueprint,
so a new route cannot forget it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, Response, render_template, url_for
from markupsafe import Markup

from triage.reports.render import PageLinks, PastReport, render_csv, render_html
from triage.reports.store import list_published, weekly_report
from triage.reports.weeks import IsoWeek, WeekError
from triage.timeutil import utcnow
from web.api.reports import requested_week, wants_fresh
from web.auth import refusal
from web.db import get_db, get_policy, get_settings
from web.security import allow_inline_style

__all__ = ["REPORT_ROLES", "bp"]

bp = Blueprint("reports", __name__)

REPORT_ROLES = ("supervisor", "admin")

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_BODY = re.compile(r"<body>(.*)</body>", re.DOTALL)


@dataclass(frozen=True)
class ReportDocument:
    css: str
    body: Markup


def split_document(html: str) -> ReportDocument:
    """The stylesheet and body of the renderer's standalone page; fails loudly if its shape changes."""
    style, body = _STYLE.search(html), _BODY.search(html)
    if style is None or body is None:
        raise ValueError("the report renderer's page has no <style> or <body>; update web/views/reports.py")
    # The renderer autoescapes everything that came from data, so its output is safe as markup.
    return ReportDocument(css=style.group(1), body=Markup(body.group(1)))


@bp.before_request
def _gate() -> Response | None:
    return refusal(REPORT_ROLES)


@bp.errorhandler(WeekError)
def _bad_week(exc: WeekError):
    return render_template("error.html", title="无效的周", message=f"无效的周：{exc.message}", status=400), 400


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
    report = weekly_report(get_db(), week, get_settings().timezone, fresh=wants_fresh(),
                           shifts=get_policy().shifts)
    document = split_document(render_html(report, _links(week)))
    allow_inline_style(document.css)
    return render_template("reports/weekly.html", week=str(week), report_css=Markup(document.css),
                           report_body=document.body)


@bp.get("/reports/weekly.csv")
def weekly_csv():
    week = requested_week()
    report = weekly_report(get_db(), week, get_settings().timezone, fresh=wants_fresh(),
                           shifts=get_policy().shifts)
    return Response(
        render_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="weekly-report-{week}.csv"'},
    )
