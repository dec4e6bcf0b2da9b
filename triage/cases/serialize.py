"""The contract's case object (JSON), SLA states computed for the moment of the request."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from triage import sla
from triage.cases.store import load_pauses_of, row_clocks
from triage.timeutil import to_wire, wire_from_db

__all__ = ["case_to_json", "cases_to_json"]


def cases_to_json(
    conn: sqlite3.Connection, rows: Sequence[sqlite3.Row], now: datetime, policy: sla.SlaPolicy
) -> list[dict[str, Any]]:
    """The contract's case objects for `rows`, SLA states computed for `now` with `policy` (right
    even before a timer job has fired). Three queries whatever the number of rows."""
    ids = [row["id"] for row in rows]
    review_ids: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for r in conn.execute(f"SELECT case_id, review_id FROM reviews WHERE case_id IN ({marks}) ORDER BY id", ids):
            review_ids[r["case_id"]].append(r["review_id"])
    pauses = load_pauses_of(conn, ids)
    out = []
    for row in rows:
        clocks = row_clocks(row, pauses[row["id"]], policy, now)
        out.append(
            {
                "id": row["id"],
                "customer_id": row["customer_id"],
                "priority": row["priority"],
                "status": row["status"],
                "causes": json.loads(row["causes"]),
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
            }
        )
    return out


def case_to_json(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime, policy: sla.SlaPolicy) -> dict[str, Any]:
    return cases_to_json(conn, [row], now, policy)[0]
