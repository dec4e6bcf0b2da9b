"""What the agents' queue page needs beyond the case list (`triage.cases.queue`): each row's newest
review, and the products, categories and platforms the active cases come from (with counts) to
offer as filters.

The order, filters, keyset pages and the per-filter counts of status, priority, cause, SLA and
assignee live in `triage.cases.queue` (`list_cases`, `queue_counts`), shared with the JSON API.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from triage.cases.queue import ORDERS, CaseQuery, page_sql

# The same opaque cursor `list_cases` gives out (its owner may make the name public).
from triage.cases.queue import _encode_cursor as encode_cursor

__all__ = ["facet_values", "latest_reviews", "queue_rows"]

_ACTIVE = "queue_key < '1'"  # every active case (see triage.db.QUEUE_KEY_SQL)


def latest_reviews(conn: sqlite3.Connection, case_ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    """{case id: the case's newest review} for a page of cases, in one indexed query."""
    if not case_ids:
        return {}
    marks = ",".join("?" * len(case_ids))
    out: dict[int, sqlite3.Row] = {}
    for r in conn.execute(
        f"SELECT id, case_id, platform, review_id, text, rating, customer_name, product_id, product_name, category,"
        # The `reviews_case` index's order (case, time, id): no sort step, whatever the page.
        f" created_at FROM reviews WHERE case_id IN ({marks}) ORDER BY case_id, created_at, id", list(case_ids)
    ):
        out[r["case_id"]] = r  # ascending within each case: the last one kept is the newest
    return out


def facet_values(conn: sqlite3.Connection, *, limit: int = 30) -> dict[str, list[dict[str, Any]]]:
    """The most frequent platforms, categories and products among the active cases:
    {"platform": [{"value", "label", "n"}], "category": [...], "product": [...]}, each by count."""
    out: dict[str, list[dict[str, Any]]] = {}
    for facet, column in (("platform", "platform"), ("category", "category"), ("product", "product_id")):
        rows = conn.execute(
            f"SELECT {column} AS v, COUNT(*) AS n FROM cases WHERE {_ACTIVE} AND {column} IS NOT NULL"
            f" GROUP BY {column} ORDER BY n DESC, v LIMIT ?", (limit,)
        ).fetchall()
        out[facet] = [{"value": r["v"], "label": r["v"], "n": r["n"]} for r in rows]
    for item in out["product"]:
        found = conn.execute(
            "SELECT product_name FROM reviews WHERE product_id = ? AND product_name IS NOT NULL"
            " ORDER BY created_at DESC LIMIT 1", (item["value"],)
        ).fetchone()
        if found:
            item["label"] = found[0]
    return out


def queue_rows(conn: sqlite3.Connection, query: CaseQuery, now: datetime) -> tuple[list[sqlite3.Row], str | None]:
    """One page of `query` and the cursor of the next, without `list_cases`' total: the page an
    agent looks at every few seconds must not count 50,000 cases each time (the filter counts
    come separately, from `queue_counts`)."""
    sql, params = page_sql(query, now)
    rows = conn.execute(sql, params).fetchall()
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    column, _ = ORDERS[query.order]
    return rows, encode_cursor(query.order, rows[-1][column], rows[-1]["id"])
