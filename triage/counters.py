"""The ``counters`` table's read side: reviews by status, cases by status and priority.

Triggers keep the counters in the same transaction as every change of a review's status or a
case's status, priority or SLA states (migration 040 in `triage.db`, which backfilled them), so
any writer, present or future, keeps them right without knowing about them. Readers get counts
from a handful of rows instead of a scan of a million.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

__all__ = ["case_count", "counters"]


def counters(conn: sqlite3.Connection) -> dict[str, int]:
    """{name: value}: ``reviews:<status>``, ``cases:<status>:<priority>``, ``cases:breached_marked``."""
    return {name: value for name, value in conn.execute("SELECT name, value FROM counters")}


def case_count(counts: dict[str, int], statuses: Iterable[str], priorities: Iterable[str]) -> int:
    """How many cases have one of `statuses` and one of `priorities`, from `counters()`."""
    priorities = list(priorities)
    return sum(counts.get(f"cases:{s}:{p}", 0) for s in statuses for p in priorities)
