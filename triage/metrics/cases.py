"""Case metrics, defined once: breached, at risk, within SLA, first-response time, resolution rate.

The API's stats, the weekly report and the supervisors' dashboards all count with these rules,
each given twice — as SQL over the `cases` table (for counting many cases) and as Python (for one
case) — and a test holds both to `triage.sla.clock_state`.

A clock (first contact, resolution) of a case is **breached** at instant `now` when

* its stored state is ``breached`` (the SLA checks wrote it; a breach stays a breach), or
* it was done at or before `now` but after its due time (a late finish), or
* it is not done as of `now`, it is running (the case is not ``waiting_customer``: a paused clock
  keeps the state stored when it stopped) and its due time is at or before `now`.

So the due instant itself is already breached, as `clock_state` says (its thresholds are
inclusive), while a clock done exactly at its due time has met it. A null due (a pause stopped
the clock before it came due) is never breached by time. A case is breached when either clock is.

A case is **at risk** at `now` when it is not breached and one of its clocks is not done and
carries the stored state ``at_risk`` (the SLA checks write it when the clock has used
`at_risk_fraction` of its target in business time, a figure SQL cannot recompute); its **next
due** is the due time of the clock it is racing: first contact until contacted, then resolution.

A clock is **within SLA** when it is done and at or before its due time (a null due counts as
within, as `clock_state` calls it met). **First-response time** is the wall-clock minutes from
`opened_at` to `first_contacted_at`. **Resolution rate** is resolved cases over the cases counted.

Stored times are fixed-width UTC text (`triage.timeutil.to_db`), so SQL compares them as strings.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from triage.counters import case_count, counters
from triage.db import LATE_FINISH, RUNNING_FIRST_CONTACT, RUNNING_RESOLUTION
from triage.sla import PRIORITIES
from triage.timeutil import from_db, to_db

__all__ = [
    "CLOCK_COLUMNS",
    "at_risk_sql",
    "breached_sql",
    "case_at_risk",
    "case_breached",
    "clock_breached",
    "clock_breached_sql",
    "cohort_figures",
    "first_response_minutes",
    "first_response_minutes_sql",
    "next_due_sql",
    "open_case_counts",
    "resolution_rate",
    "within_sla",
    "within_sla_sql",
]

# clock -> (due column, done column, stored state column)
CLOCK_COLUMNS: dict[str, tuple[str, str, str]] = {
    "first_contact": ("first_contact_due", "first_contacted_at", "sla_first_contact"),
    "resolution": ("resolution_due", "resolved_at", "sla_resolution"),
}
PAUSED_STATUS = "waiting_customer"
ACTIVE_STATUSES = ("open", "claimed", "contacted", "waiting_customer")


# --------------------------------------------------------------------------------------------
# SQL: boolean expressions over one `cases` row; `now` is the name of a bound parameter.


def clock_breached_sql(clock: str, now: str = ":now") -> str:
    due, done, state = CLOCK_COLUMNS[clock]
    return (
        f"({state} = 'breached'"
        f" OR COALESCE({done} <= {now} AND {done} > {due}, 0)"
        f" OR COALESCE(({done} IS NULL OR {done} > {now}) AND status != '{PAUSED_STATUS}' AND {due} <= {now}, 0))"
    )


def breached_sql(now: str = ":now") -> str:
    """True for a case with either clock breached at `now`."""
    return f"({clock_breached_sql('first_contact', now)} OR {clock_breached_sql('resolution', now)})"


def stored_at_risk_sql() -> str:
    """True for a case with an undone clock stored ``at_risk`` (at risk unless breached)."""
    undone = " OR ".join(f"({done} IS NULL AND {state} = 'at_risk')" for _, done, state in CLOCK_COLUMNS.values())
    return f"({undone})"


def at_risk_sql(now: str = ":now") -> str:
    """True for a case not breached at `now` with an undone clock stored ``at_risk``."""
    return f"(NOT {breached_sql(now)} AND {stored_at_risk_sql()})"


def next_due_sql() -> str:
    """The due time of the clock the case is racing: first contact's until contacted, then resolution's."""
    return "(CASE WHEN first_contacted_at IS NULL THEN first_contact_due ELSE resolution_due END)"


def within_sla_sql(clock: str) -> str:
    due, done, _ = CLOCK_COLUMNS[clock]
    return f"({done} IS NOT NULL AND ({due} IS NULL OR {done} <= {due}))"


def first_response_minutes_sql() -> str:
    """Minutes from opening to first contact; NULL while not contacted."""
    return "((julianday(first_contacted_at) - julianday(opened_at)) * 1440.0)"


# --------------------------------------------------------------------------------------------
# Python: the same rules for one case.


def clock_breached(*, due: datetime | None, done_at: datetime | None, now: datetime, paused: bool = False,
                   stored_state: str | None = None) -> bool:
    if stored_state == "breached":
        return True
    if done_at is not None and done_at <= now:
        return due is not None and done_at > due
    return not paused and due is not None and due <= now


def case_breached(row: Mapping[str, Any], now: datetime) -> bool:
    """`breached_sql` for a case row read from the database."""
    return any(
        clock_breached(due=from_db(row[due]), done_at=from_db(row[done]), now=now,
                       paused=row["status"] == PAUSED_STATUS, stored_state=row[state])
        for due, done, state in CLOCK_COLUMNS.values()
    )


def case_at_risk(row: Mapping[str, Any], now: datetime) -> bool:
    """`at_risk_sql` for a case row read from the database."""
    if case_breached(row, now):
        return False
    return any(row[done] is None and row[state] == "at_risk" for _, done, state in CLOCK_COLUMNS.values())


def within_sla(*, due: datetime | None, done_at: datetime | None) -> bool:
    return done_at is not None and (due is None or done_at <= due)


def first_response_minutes(opened_at: datetime, first_contacted_at: datetime | None) -> float | None:
    if first_contacted_at is None:
        return None
    return (first_contacted_at - opened_at).total_seconds() / 60


def resolution_rate(resolved: int, cases: int) -> float | None:
    """Resolved over the cases counted; None when there are none."""
    return resolved / cases if cases else None


# --------------------------------------------------------------------------------------------
# Queries


def open_case_counts(conn: sqlite3.Connection, now: datetime) -> dict[str, int]:
    """{"open", "breached"} over the cases not resolved or closed, as of `now`.

    Without a scan: "open" and the cases with a clock marked breached come from the counters the
    triggers keep (`triage.counters`); the rest of the breached ones, by `breached_sql` itself, are
    among few candidates read by range from partial indexes (`triage.db.RUNNING_FIRST_CONTACT`,
    `RUNNING_RESOLUTION`, `LATE_FINISH`): an unmarked active case breached by time has a running
    clock due at or before `now`, or a clock done after its due (which also covers a done time
    later than `now`). Tested against a full scan with `breached_sql`.
    """
    counts = counters(conn)
    late = conn.execute(
        f"""
        SELECT count(*) FROM cases
        WHERE id IN (
            SELECT id FROM cases WHERE {RUNNING_FIRST_CONTACT} AND first_contact_due <= :now
            UNION SELECT id FROM cases WHERE {RUNNING_RESOLUTION} AND resolution_due <= :now
            UNION SELECT id FROM cases WHERE {LATE_FINISH}
        ) AND {breached_sql()}
        """,
        {"now": to_db(now)},
    ).fetchone()[0]
    return {
        "open": case_count(counts, ACTIVE_STATUSES, PRIORITIES),
        "breached": counts.get("cases:breached_marked", 0) + late,
    }


def cohort_figures(conn: sqlite3.Connection, where: str, params: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Counts over the cases `where` selects (an SQL condition on `cases` with named parameters,
    e.g. ``"opened_at >= :lo AND opened_at < :hi"``), breaches as of `now`.

    {opened, contacted, first_contact_within_sla, resolved, resolved_within_sla, breached,
    median_minutes_to_first_contact (over the contacted ones; None if none, rounded to 0.1)}.
    """
    bound = {**params, "now": to_db(now)}
    row = conn.execute(
        f"""
        SELECT COUNT(*) AS opened,
               COALESCE(SUM(first_contacted_at IS NOT NULL), 0) AS contacted,
               COALESCE(SUM({within_sla_sql('first_contact')}), 0) AS first_contact_within_sla,
               COALESCE(SUM(resolved_at IS NOT NULL), 0) AS resolved,
               COALESCE(SUM({within_sla_sql('resolution')}), 0) AS resolved_within_sla,
               COALESCE(SUM({breached_sql()}), 0) AS breached
        FROM cases
        WHERE {where}
        """,
        bound,
    ).fetchone()
    # The median stays in SQL: the middle one or two rows by ROW_NUMBER, averaged.
    median = conn.execute(
        f"""
        WITH d AS (
            SELECT {first_response_minutes_sql()} AS minutes
            FROM cases
            WHERE ({where}) AND first_contacted_at IS NOT NULL
        ), o AS (
            SELECT minutes, ROW_NUMBER() OVER (ORDER BY minutes) AS rn, COUNT(*) OVER () AS n FROM d
        )
        SELECT AVG(minutes) FROM o WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
        """,
        bound,
    ).fetchone()[0]
    return {
        "opened": row["opened"],
        "contacted": row["contacted"],
        "first_contact_within_sla": row["first_contact_within_sla"],
        "resolved": row["resolved"],
        "resolved_within_sla": row["resolved_within_sla"],
        "breached": row["breached"],
        "median_minutes_to_first_contact": None if median is None else round(median, 1),
    }
