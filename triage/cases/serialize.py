"""The contract's case object (JSON), SLA states computed for the moment of the request.

`cases_to_json` is the list form (`GET /api/v1/cases`); `case_detail_json` adds what one case's
page needs (`GET /api/v1/cases/<id>`, the action API's answer): its reviews (each with its
complaint spans and earlier revisions), its audit events, contacts and corrections.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from triage import sla
from triage.cases.contacts import list_contacts
from triage.cases.store import load_pauses_of, row_clocks
from triage.reviews import review_json
from triage.timeutil import to_wire, wire_from_db

__all__ = ["case_detail_json", "case_events", "case_reviews", "case_to_json", "cases_to_json"]


def _loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default


def cases_to_json(
    conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], now: datetime, policy: sla.SlaPolicy
) -> list[dict[str, Any]]:
    """The contract's case objects for `rows`, SLA states computed for `now` with `policy` (right
    even before a timer job has fired). Three queries whatever the number of rows."""
    ids = [row["id"] for row in rows]
    review_ids: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        # In the index's order (case, then time, then id: the case page's order): no sort, whatever
        # the number of cases.
        for case_id, review_id in conn.execute(
                f"SELECT case_id, review_id FROM reviews WHERE case_id IN ({marks}) ORDER BY case_id, created_at, id",
                ids):
            review_ids[case_id].append(review_id)
    pauses = load_pauses_of(conn, ids)
    out = []
    keys = rows[0].keys() if rows else []
    for values in rows:
        # A dict once per row: sqlite3.Row finds a name by scanning its ~40 columns.
        row = dict(zip(keys, values, strict=True))
        clocks = row_clocks(row, pauses[row["id"]], policy, now)
        out.append(
            {
                "id": row["id"],
                "customer_id": row["customer_id"],
                "priority": row["priority"],
                "status": row["status"],
                "causes": orjson.loads(row["causes"]),
                "review_ids": review_ids[row["id"]],
                "assignee": row["assignee"],
                "first_contact_due": to_wire(clocks.first_contact_due),
                "resolution_due": to_wire(clocks.resolution_due),
                "first_contacted_at": wire_from_db(row["first_contacted_at"]),
                "resolved_at": wire_from_db(row["resolved_at"]),
                "sla": {"first_contact": clocks.first_contact, "resolution": clocks.resolution},
                # Beyond the contract: what the agents' queue needs.
                "risk": round(row["risk"], 4),
                "opened_at": wire_from_db(row["opened_at"]),
                "updated_at": wire_from_db(row["updated_at"]),
                "version": row["version"],
                "product_id": row["product_id"],
                "category": row["category"],
                "platform": row["platform"],
                "customer_ltv": row["customer_ltv"],
                "value_tier": row["value_tier"],
                "priority_reasons": orjson.loads(row["priority_reasons"]) if row["priority_reasons"] else [],
                "revised_upward": bool(row["revised_upward"]),
                "revised_upward_at": wire_from_db(row["revised_upward_at"]),
                "claimed_at": wire_from_db(row["claimed_at"]),
                "closed_at": wire_from_db(row["closed_at"]),
                "resolution": row["resolution"],
                "satisfaction": row["satisfaction"],
                "resolved_by": row["resolved_by"],
                "close_reason": row["close_reason"],
            }
        )
    return out


def case_to_json(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime, policy: sla.SlaPolicy) -> dict[str, Any]:
    return cases_to_json(conn, [row], now, policy)[0]


def case_reviews(conn: sqlite3.Connection, case_id: int) -> list[dict[str, Any]]:
    """The case's reviews, oldest first, as review objects with their earlier revisions."""
    rows = conn.execute("SELECT * FROM reviews WHERE case_id = ? ORDER BY created_at, id", (case_id,)).fetchall()
    revisions: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
    if rows:
        marks = ",".join("?" * len(rows))
        for r in conn.execute(
            f"SELECT * FROM review_revisions WHERE review_pk IN ({marks}) ORDER BY review_pk, revision",
            list(revisions),
        ):
            revisions[r["review_pk"]].append({
                "revision": r["revision"], "text": r["text"], "rating": r["rating"],
                "received_at": wire_from_db(r["received_at"]), "sentiment": r["sentiment"],
                "negative_prob": r["negative_prob"], "causes": _loads(r["causes"]),
                "complaints": _loads(r["complaints"], []), "model_version": r["model_version"],
            })
    return [{**review_json(r), "earlier_revisions": revisions[r["id"]]} for r in rows]


def case_events(conn: sqlite3.Connection, case_id: int) -> list[dict[str, Any]]:
    """The audit timeline, oldest first."""
    return [
        {"id": e["id"], "at": wire_from_db(e["at"]), "actor": e["actor"], "kind": e["kind"],
         "from_status": e["from_status"], "to_status": e["to_status"], "detail": _loads(e["detail"])}
        for e in conn.execute("SELECT * FROM case_events WHERE case_id = ? ORDER BY at, id", (case_id,))
    ]


def _corrections(conn: sqlite3.Connection, case_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT c.*, r.platform, r.review_id FROM corrections c JOIN reviews r ON r.id = c.review_pk"
        " WHERE r.case_id = ? ORDER BY c.at, c.id",
        (case_id,),
    )
    return [{"id": c["id"], "review": f"{c['platform']}/{c['review_id']}", "agent": c["agent"],
             "at": wire_from_db(c["at"]), "sentiment": c["sentiment"], "causes": _loads(c["causes"]),
             "model_version": c["model_version"]} for c in rows]


def case_detail_json(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime,
                     policy: sla.SlaPolicy) -> dict[str, Any]:
    """One case with its reviews, events, contacts and corrections (the case page's data)."""
    case = case_to_json(conn, row, now, policy)
    case["reviews"] = case_reviews(conn, row["id"])
    case["events"] = case_events(conn, row["id"])
    case["contacts"] = [c.to_json() for c in list_contacts(conn, row["id"])]
    case["corrections"] = _corrections(conn, row["id"])
    return case
