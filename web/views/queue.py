"""`/queue`: the agents' case queue, the page an agent keeps open all shift.

The page is server-rendered; htmx keeps it live without a front-end framework: the first page's
rows are re-fetched every few seconds (`/queue/rows`, the same filters), so new cases appear
without a reload, and the filter counts refresh with them (`/queue/counts`). Countdowns tick in
the browser (static/app.js) from the due instants the rows carry. Everything works without
script too: filters are links, pages are links, a reload shows the news.

Filters are query parameters (`status`, `priority`, `cause`, `sla`, `assignee=mine|unassigned`,
`category`, `product`, `platform`; the first four may repeat); unknown parameters or values are a
400 page, not silently ignored. `after` is the keyset cursor of the next page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, g, render_template, request, url_for

from triage.errors import BadRequest
from triage.queuepage import QueueFilter, filter_counts, product_names, queue_page
from triage.timeutil import from_db, utcnow
from web.auth import login_required
from web.db import get_db
from web.views import labels
from web.views.present import remaining_text

__all__ = ["POLL_SECONDS", "bp", "parse_filter"]

bp = Blueprint("queue", __name__)

POLL_SECONDS = 10
MULTI = {"status": "statuses", "priority": "priorities", "cause": "causes", "sla": "sla"}
SINGLE = ("assignee", "category", "product", "platform")
KNOWN = {*MULTI, *SINGLE, "after"}
FIRST_LINE_CHARS = 90


def parse_filter(args: Any, me: str) -> QueueFilter:
    unknown = sorted(set(args) - KNOWN)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}")
    kwargs: dict[str, Any] = {"me": me}
    for param, attr in MULTI.items():
        values = tuple(v for v in args.getlist(param) if v)
        if values:
            kwargs[attr] = values
    for param in SINGLE:
        value = args.get(param) or None
        if value is not None:
            kwargs[param] = value
    return QueueFilter(**kwargs)


def _current_args() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.args.items(multi=True) if k != "after" and v]


def filter_url(facet: str, value: str | None) -> str:
    """The queue with `facet` set to `value` (or cleared when it already is, or value is None)."""
    args = [(k, v) for k, v in _current_args() if k != facet]
    current = request.args.getlist(facet)
    if value is not None and current != [value]:
        args.append((facet, value))
    return url_for("queue.index") + ("?" + urlencode(args) if args else "")


def _first_line(text: str | None) -> str:
    if not text:
        return ""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS] + "…"


def _row_view(item: Any, now: datetime) -> dict[str, Any]:
    c = item.case
    contacted = c["first_contacted_at"] is not None
    due = from_db(c["resolution_due"] if contacted else c["first_contact_due"])
    state = c["sla_resolution"] if contacted else c["sla_first_contact"]
    active = c["status"] in ("open", "claimed", "contacted", "waiting_customer")
    if active and due is not None and now >= due and state != "met":
        state = "breached"
    return {
        "case": c,
        "latest": item.latest,
        "first_line": _first_line(item.latest["text"] if item.latest else None),
        "due": due,
        "state": state,
        "clock": "解决" if contacted else "首次联系",
        "running": c["status"] in ("open", "claimed", "contacted"),
        "remaining": remaining_text(due, now) if active else labels.STATUSES.get(c["status"], c["status"]),
        "next": from_db(c["sla_next_check_at"]),
    }


def _render_rows(f: QueueFilter) -> dict[str, Any]:
    try:
        page = queue_page(get_db(), f, after=request.args.get("after") or None)
    except BadRequest as exc:
        abort(400, exc.message)
    now = utcnow()
    rows = [_row_view(item, now) for item in page.rows]
    next_url = None
    if page.next_cursor:
        next_url = url_for("queue.index") + "?" + urlencode([*_current_args(), ("after", page.next_cursor)])
    first_url = url_for("queue.index") + ("?" + urlencode(_current_args()) if _current_args() else "")
    return {"rows": rows, "next_url": next_url, "paged": bool(request.args.get("after")), "first_url": first_url,
            "rows_url": url_for("queue.rows") + ("?" + urlencode(_current_args()) if _current_args() else ""),
            "poll_seconds": POLL_SECONDS}


def _counts(f: QueueFilter) -> dict[str, Any]:
    conn = get_db()
    counts = filter_counts(conn, f)
    return {"counts": counts, "products": product_names(conn, list(counts.get("product", {}))),
            "selected": {k: request.args.getlist(k) for k in (*MULTI, *SINGLE)},
            "filter_url": filter_url, "counts_url": url_for("queue.counts") + (
                "?" + urlencode(_current_args()) if _current_args() else "")}


def _filter() -> QueueFilter:
    try:
        return parse_filter(request.args, g.agent.username)
    except BadRequest as exc:
        abort(400, exc.message)


@bp.get("/queue")
@login_required
def index():
    f = _filter()
    return render_template("queue.html", labels=labels, any_filter=bool(_current_args()),
                           **_render_rows(f), **_counts(f))


@bp.get("/queue/rows")
@login_required
def rows():
    """The first page's rows alone, for htmx polling."""
    return render_template("queue_rows.html", labels=labels, **_render_rows(_filter()))


@bp.get("/queue/counts")
@login_required
def counts():
    return render_template("queue_filters.html", labels=labels, **_counts(_filter()))
