"""The case file: everything the case page shows about one case, read in a handful of indexed queries.

The case row, its customer (lifetime value), every review the customer wrote (with the
revisions before the current one), the customer's other cases, the audit trail and the contact
log. Read-only; the actions live in `triage.cases.actions`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from triage.errors import NotFound

__all__ = ["CaseFile", "assignable_agents", "load_case_file"]

# A customer's history on the case page: enough to see the pattern, bounded so a customer with
# thousands of reviews (a reseller, a bot) cannot make the page slow.
MAX_REVIEWS = 50
MAX_PAST_CASES = 20
MAX_EVENTS = 300


@dataclass
class CaseFile:
    case: sqlite3.Row
    customer: sqlite3.Row | None
    reviews: list[sqlite3.Row]                      # the customer's reviews, newest first
    revisions: dict[int, list[sqlite3.Row]]         # review pk -> earlier revisions, newest first
    past_cases: list[sqlite3.Row]                   # the customer's other cases, newest first
    events: list[sqlite3.Row]                       # the audit trail, oldest first
    contacts: list[sqlite3.Row]                     # the contact log, oldest first
    more_reviews: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def causes(self) -> list[str]:
        return json.loads(self.case["causes"] or "[]")

    @property
    def priority_reasons(self) -> list[Any]:
        try:
            reasons = json.loads(self.case["priority_reasons"] or "[]")
        except ValueError:
            return []
        return reasons if isinstance(reasons, list) else []

    def latest_review_of_case(self) -> sqlite3.Row | None:
        mine = [r for r in self.reviews if r["case_id"] == self.case["id"]]
        return mine[0] if mine else (self.reviews[0] if self.reviews else None)


def load_case_file(conn: sqlite3.Connection, case_id: int) -> CaseFile:
    case = conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    customer_id = case["customer_id"]
    customer = conn.execute("SELECT * FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
    reviews = conn.execute(
        "SELECT * FROM reviews WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (customer_id, MAX_REVIEWS + 1),
    ).fetchall()
    more = len(reviews) > MAX_REVIEWS
    reviews = reviews[:MAX_REVIEWS]
    # The case's own reviews always show, even for a customer past the cap.
    shown = {r["id"] for r in reviews}
    reviews += [r for r in conn.execute("SELECT * FROM reviews WHERE case_id = ? ORDER BY created_at DESC",
                                        (case_id,)) if r["id"] not in shown]
    revisions: dict[int, list[sqlite3.Row]] = {r["id"]: [] for r in reviews}
    revised = [r["id"] for r in reviews if (r["revision"] or 1) > 1]
    if revised:
        marks = ",".join("?" * len(revised))
        for row in conn.execute(
            f"SELECT * FROM review_revisions WHERE review_pk IN ({marks}) ORDER BY revision DESC", revised
        ):
            revisions[row["review_pk"]].append(row)
    past = conn.execute(
        "SELECT * FROM cases WHERE customer_id = ? AND id <> ? ORDER BY opened_at DESC LIMIT ?",
        (customer_id, case_id, MAX_PAST_CASES),
    ).fetchall()
    events = conn.execute(
        "SELECT * FROM case_events WHERE case_id = ? ORDER BY at, id LIMIT ?", (case_id, MAX_EVENTS)
    ).fetchall()
    contacts = conn.execute("SELECT * FROM contacts WHERE case_id = ? ORDER BY at, id", (case_id,)).fetchall()
    return CaseFile(case, customer, reviews, revisions, past, events, contacts, more)


def assignable_agents(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Active agents a supervisor may assign a case to, by shift then name."""
    return conn.execute(
        "SELECT username, display_name, role, shift FROM agents WHERE active = 1 AND disabled_at IS NULL"
        " ORDER BY COALESCE(shift, ''), username"
    ).fetchall()
