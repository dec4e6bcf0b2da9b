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

import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, render_template, request, url_for

from triage.cases.queue import CaseQuery, queue_counts
from triage.errors import BadRequest
from triage.queuepage import facet_values, latest_reviews, queue_rows
from triage.timeutil import from_db, to_wire, utcnow
from web.auth import login_required
from web.db import get_db, get_settings
from web.views import labels
from web.views.present import json_list, remaining_text

__all__ = ["POLL_SECONDS", "bp", "parse_filter"]

bp = Blueprint("queue", __name__)

POLL_SECONDS = 10
PAGE_SIZE = 50
MULTI = {"status": "statuses", "priority": "priorities", "cause": "causes", "sla": "sla"}
SINGLE = ("assignee", "category", "product", "platform")
KNOWN = {*MULTI, *SINGLE, "after"}
FIRST_LINE_CHARS = 90


def parse_filter(args: Any, me: str) -> CaseQuery:
    """The queue's query parameters as a `CaseQuery` in queue order; BadRequest names what is wrong."""
    unknown = sorted(set(args) - KNOWN)
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}")
    kwargs: dict[str, Any] = {"order": "queue", "limit": PAGE_SIZE, "cursor": args.get("after") or None}
    for param, attr in MULTI.items():
        values = tuple(v for v in args.getlist(param) if v)
        if values:
            kwargs[attr] = values
    assignee = args.get("assignee") or None
    if assignee == "mine":
        kwargs["assignees"] = (me,)
    elif assignee == "unassigned":
        kwargs["unassigned"] = True
    elif assignee is not None:
        raise BadRequest(f"assignee: unknown value {assignee!r}; expected mine or unassigned")
    for param, attr in (("category", "categories"), ("product", "products"), ("platform", "platforms")):
        value = args.get(param) or None
        if value is not None:
            kwargs[attr] = (value,)
    return CaseQuery(**kwargs)


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


def _row_view(c: SimpleNamespace, latest: SimpleNamespace | None, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    # Everything a row shows is worked out here, in Python, rather than by filters and lookups in
    # the template: a page of 50 rows renders in about three quarters of the time.
    contacted = c.first_contacted_at is not None
    due = from_db(c.resolution_due if contacted else c.first_contact_due)
    state = c.sla_resolution if contacted else c.sla_first_contact
    active = c.status in ("open", "claimed", "contacted", "waiting_customer")
    if active and due is not None and now >= due and state != "met":
        state = "breached"
    next_check = from_db(c.sla_next_check_at)
    return {
        "case": c,
        "latest": latest,
        "url": url_for("cases.show", case_id=c.id),
        "who": (latest.customer_name if latest else None) or c.customer_id,
        "causes": [(code, labels.cause_name(code)) for code in json_list(c.causes)],
        "platform": labels.platform_name(latest.platform) if latest else "",
        "status_name": labels.STATUSES.get(c.status, c.status),
        "first_line": _first_line(latest.text if latest else None),
        "due": due,
        "due_wire": to_wire(due) or "",
        "due_local": due.astimezone(zone).strftime("%m-%d %H:%M") if due is not None else "",
        "next_wire": to_wire(next_check) or "",
        "state": state,
        "clock": "解决" if contacted else "首次联系",
        "running": c.status in ("open", "claimed", "contacted"),
        "remaining": remaining_text(due, now) if active else labels.STATUSES.get(c.status, c.status),
        "next": next_check,
    }


def _record(row: Any) -> SimpleNamespace | None:
    """A row whose columns are attributes: the template's `c.priority` finds them at the first
    try (on a sqlite3.Row Jinja's attribute lookup fails first, then subscripts)."""
    return None if row is None else SimpleNamespace(**dict(zip(row.keys(), row, strict=True)))


def _render_rows(query: CaseQuery) -> dict[str, Any]:
    now = utcnow()
    page_rows, next_cursor = queue_rows(get_db(), query, now)
    latest = latest_reviews(get_db(), [row["id"] for row in page_rows])
    zone = get_settings().zone
    rows = [_row_view(_record(row), _record(latest.get(row["id"])), now, zone) for row in page_rows]
    next_url = None
    if next_cursor:
        next_url = url_for("queue.index") + "?" + urlencode([*_current_args(), ("after", next_cursor)])
    first_url = url_for("queue.index") + ("?" + urlencode(_current_args()) if _current_args() else "")
    return {"rows": rows, "next_url": next_url, "paged": bool(request.args.get("after")), "first_url": first_url,
            "rows_url": url_for("queue.rows") + ("?" + urlencode(_current_args()) if _current_args() else ""),
            "poll_seconds": POLL_SECONDS}


_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_cache_lock = threading.Lock()
COUNTS_TTL = 10.0   # seconds; the sidebar polls every 30 s, a whole team shares one computation
FACETS_TTL = 60.0   # products and categories of the active cases change slowly


def _cached(key: tuple[Any, ...], ttl: float, compute: Callable[[], Any]) -> Any:
    """A per-process memo with a time limit: counts over 50,000 active cases take a second at
    the top end, and every agent's page polls them."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def _counts(lazy: bool = False) -> dict[str, Any]:
    """The sidebar's context. `lazy`: the full page renders the filter links at once and lets
    htmx fetch the counts right after, so the queue itself never waits for them."""
    conn = get_db()
    db = str(get_settings().db_path)
    me = g.agent.username
    counts = None if lazy else _cached(("counts", db, me), COUNTS_TTL, lambda: queue_counts(conn, username=me))
    facets = None if lazy else _cached(("facets", db), FACETS_TTL, lambda: facet_values(conn))
    return {"counts": counts, "facets": facets,
            "selected": {k: request.args.getlist(k) for k in (*MULTI, *SINGLE)},
            "filter_url": filter_url, "counts_url": url_for("queue.counts") + (
                "?" + urlencode(_current_args()) if _current_args() else "")}


def _filter() -> CaseQuery:
    try:
        return parse_filter(request.args, g.agent.username)
    except BadRequest as exc:
        abort(400, exc.message)


@bp.get("/queue")
@login_required
def index():
    f = _filter()
    return render_template("queue.html", labels=labels, any_filter=bool(_current_args()),
                           **_render_rows(f), **_counts(lazy=True))


@bp.get("/queue/rows")
@login_required
def rows():
    """The first page's rows alone, for htmx polling."""
    return render_template("queue_rows.html", labels=labels, **_render_rows(_filter()))


@bp.get("/queue/counts")
@login_required
def counts():
    return render_template("queue_filters.html", labels=labels, **_counts())
