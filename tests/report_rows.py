"""Rows for the report tests, inserted with plain SQL into the real SQLite file (no pipeline).

Times may be given as RFC 3339 strings with any offset, the way connectors send them; they are
stored as the pipeline stores them, in the fixed-width UTC form of `triage.timeutil.to_db`.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import datetime

from triage.timeutil import parse_rfc3339, to_db

_ids = itertools.count(1)


def db_time(value: str | datetime | None) -> str | None:
    if value is None:
        return None
    return to_db(value if isinstance(value, datetime) else parse_rfc3339(value))


def add_review(
    conn: sqlite3.Connection,
    created_at: str | datetime,
    *,
    sentiment: str | None = None,
    rating: int | None = None,
    causes: list[str] | None = None,
    category: str | None = None,
    product_id: str = "p1",
    product_name: str | None = None,
    model_version: str | None = None,
    status: str | None = None,
) -> int:
    n = next(_ids)
    if status is None:
        status = "scored" if sentiment else "pending"
    if sentiment and model_version is None:
        model_version = "m-test"
    stored = db_time(created_at)
    return conn.execute(
        """
        INSERT INTO reviews (platform, review_id, text, rating, customer_id, product_id, product_name,
                             category, created_at, received_at, status, sentiment, causes, model_version)
        VALUES ('tmall', ?, '评价内容', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        (f"r{n}", rating, f"c{n}", product_id, product_name, category, stored, stored, status, sentiment,
         None if causes is None else json.dumps(causes), model_version),
    ).lastrowid


def add_reviews(conn: sqlite3.Connection, count: int, created_at: str, **fields) -> None:
    for _ in range(count):
        add_review(conn, created_at, **fields)


def add_case(
    conn: sqlite3.Connection,
    opened_at: str,
    *,
    first_contact_due: str | None = None,
    first_contacted_at: str | None = None,
    resolution_due: str | None = None,
    resolved_at: str | None = None,
    sla_first_contact: str = "ok",
    sla_resolution: str = "ok",
) -> int:
    n = next(_ids)
    opened = db_time(opened_at)
    status = "resolved" if resolved_at else ("contacted" if first_contacted_at else "open")
    return conn.execute(
        """
        INSERT INTO cases (customer_id, priority, status, risk, opened_at, updated_at, sla_started_at,
                           first_contact_due, resolution_due, first_contacted_at, resolved_at,
                           sla_first_contact, sla_resolution)
        VALUES (?, 'P2', ?, 0.8, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        (f"case-customer-{n}", status, opened, opened, opened, db_time(first_contact_due), db_time(resolution_due),
         db_time(first_contacted_at), db_time(resolved_at), sla_first_contact, sla_resolution),
    ).lastrowid
