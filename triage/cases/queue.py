"""The case list (`GET /api/v1/cases`, the agents' queue): filters, order, a page and the total.

The web layer parses the request into a `CaseQuery`; everything about which rows come back, in
what order, lives here. The query checks its own values (a `BadRequest` names the field), so
every caller gets the same rules.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from triage.cases.store import STATUSES
from triage.errors import BadRequest
from triage.sla import PRIORITIES

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ORDERS", "CasePage", "CaseQuery", "list_cases"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Name -> ORDER BY; the id breaks ties so paging never repeats or skips a row.
ORDERS = {"newest": "opened_at DESC, id DESC"}


@dataclass(frozen=True)
class CaseQuery:
    """Which cases, in what order, which page. Empty filters select everything."""

    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    order: str = "newest"
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        _check_choices("status", self.statuses, STATUSES)
        _check_choices("priority", self.priorities, PRIORITIES)
        if self.order not in ORDERS:
            raise BadRequest(f"order: unknown value {self.order!r}; expected one of {', '.join(ORDERS)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        # SQLite's integers are 64-bit; a larger offset would overflow the bound parameter.
        if not 0 <= self.offset < 2**63:
            raise BadRequest(f"offset must be between 0 and {2**63 - 1}, got {self.offset}")


class CasePage(NamedTuple):
    rows: list[sqlite3.Row]
    total: int  # cases matching the filters, whatever the page


def _check_choices(field: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadRequest(f"{field}: unknown value {bad[0]!r}; expected one of {', '.join(allowed)}")


def _where(query: CaseQuery) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, values in (("status", query.statuses), ("priority", query.priorities)):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def list_cases(conn: sqlite3.Connection, query: CaseQuery) -> CasePage:
    """One page of the cases `query` selects, in its order, and how many it selects in all."""
    where, params = _where(query)
    total = conn.execute(f"SELECT COUNT(*) FROM cases{where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT * FROM cases{where} ORDER BY {ORDERS[query.order]} LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    ).fetchall()
    return CasePage(rows, total)
