"""Customer-service performance per agent, per shift and overall, for a period. Defined once here
and used by the supervisors' board, `GET /api/v1/metrics/cs` and the weekly report.

Which cases
-----------
A period is a range of local days in ``TRIAGE_TIMEZONE`` (`Period`: ``from`` and ``to`` inclusive).
Its cases are those **opened** in it (``opened_at`` in [from 00:00, the day after `to` 00:00)),
each counted as it stands at query time, the way the weekly report counts a week's cases. So
the figures of a past period still move a little while its last cases are worked.

* A case counts for **the agent who resolved it** (``resolved_by``), or else **the agent who holds
  it** (``assignee``); a case nobody has held counts in no agent's row, only overall.
* Its **shift** is the shift in which it was opened (`triage.shifts.shift_at` of ``opened_at``
  with the policy's shift calendar): a case opened at 23:00 counts for 夜班 whoever works it.

The figures of a group of cases
-------------------------------
cases_handled              the group's cases
first_contact_minutes      wall-clock minutes from ``opened_at`` to ``first_contacted_at`` over
                           the cases contacted so far: ``median`` (mean of the middle two for an
                           even count), ``p90`` (nearest rank: the ⌈0.9·n⌉-th smallest) and ``n``
                           (how many were contacted). Wall time on purpose: the customer waits
                           through nights and weekends too. Cases not contacted yet are not in
                           it; ``not_contacted`` says how many there are
resolved                   cases with ``resolved_at`` set (a reopened case counts once it is
                           resolved again; closed without resolution does not count)
resolved_within_sla        resolved at or before ``resolution_due`` (the due already moved by
                           the time the case waited on the customer; a null due counts as
                           within, as in `triage.metrics.cases.within_sla`)
resolution_rate            resolved / cases_handled
satisfaction               ``answers``: resolved cases whose customer answered (satisfaction not
                           null); ``satisfied``: those answering 满意; ``rate`` = satisfied / answers
revised_upward             resolved cases whose customer revised the review upward (已改评)

Beyond the contract, every rate is also given as ``{"count", "n", "rate"}`` under ``rates``, so
no rate is ever shown without the number it was computed from (``rate`` is null when n = 0):
``resolution`` (resolved / cases), ``resolution_within_sla`` (resolved within SLA / cases),
``first_contact_within_sla`` (first contacted at or before its due / cases), ``satisfaction``
(satisfied / answers), ``revised_upward`` (已改评 / resolved) and ``reopen`` (cases reopened at
least once / cases resolved at least once — resolved now, or reopened).

A rate over fewer than `SMALL_SAMPLE` cases is a *small sample*: pages show it with its n and a
mark, never as a bare "100%".

Two ways to the same figures: `cs_figures` over `CaseOutcome` rows is the definition (and what
`reference_report` computes, reading every row); `period_report`, which the board, the API and the
report call, sums the trigger-kept columns of migration 020 in SQLite instead, one local day at a
time, and keeps each day's sums and sorted minutes in a per-process cache that stays valid while
the change counters of migration 021 (per UTC hour of opening, bumped by triggers in the writing
transaction) stand still. Tests hold both paths, cached or not, to each other.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from triage.errors import ValidationFailed
from triage.shifts import ShiftCalendar, shift_at
from triage.timeutil import to_db

__all__ = [
    "GROUP_BYS",
    "SMALL_SAMPLE",
    "CaseOutcome",
    "CsFigures",
    "CsReport",
    "MinutesSummary",
    "Period",
    "Rate",
    "agent_names",
    "clear_day_cache",
    "credited_agent",
    "cs_figures",
    "cs_report",
    "fetch_outcomes",
    "group_by",
    "median",
    "nearest_rank",
    "parse_period",
    "period_report",
    "reference_report",
    "shift_namer",
    "shift_segments",
]

SMALL_SAMPLE = 20  # below this many, a rate is marked as a small sample
GROUP_BYS = ("agent", "shift")


# --------------------------------------------------------------------------------------------
# Periods


@dataclass(frozen=True)
class Period:
    """Local days ``start`` .. ``end`` inclusive in `timezone`."""

    start: date
    end: date
    timezone: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """[first local midnight, the midnight after the last day) as aware UTC instants."""
        zone = ZoneInfo(self.timezone)
        return _local_midnight(self.start, zone), _local_midnight(self.end + timedelta(days=1), zone)

    def db_bounds(self) -> tuple[str, str]:
        lo, hi = self.bounds()
        return to_db(lo), to_db(hi)

    def previous(self) -> Period:
        """The period of the same length just before this one (week-on-week for a week)."""
        length = timedelta(days=self.days)
        return Period(self.start - length, self.end - length, self.timezone)

    @classmethod
    def last_days(cls, days: int, now: datetime, timezone: str) -> Period:
        """The `days` local days ending with today (the day of `now`)."""
        today = now.astimezone(ZoneInfo(timezone)).date()
        return cls(today - timedelta(days=days - 1), today, timezone)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Midnight may not exist on a DST day (clocks jump at 00:00 in some zones); the first instant
    # of the day is then the jump itself, which a round trip through UTC finds.
    naive = datetime(day.year, day.month, day.day)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).date() != day:
        instant = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return instant


DEFAULT_DAYS = 7
MAX_DAYS = 366
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_period(start: str | None, end: str | None, now: datetime, timezone: str) -> Period:
    """The period a request asks for: ``from``/``to`` as ``YYYY-MM-DD`` local days, `to` inclusive.

    Both omitted: the last 7 days ending today. Only `to`: the 7 days ending then; only `from`:
    from then to today. Raises ValidationFailed (code ``invalid_query``, one item per problem)
    for a malformed date, `to` before `from`, or a period longer than `MAX_DAYS`.
    """
    items = []
    days: dict[str, date | None] = {}
    for name, text in (("from", start), ("to", end)):
        days[name] = None
        if text is None or text == "":
            continue
        if not _ISO_DAY.fullmatch(text):
            items.append({"field": name, "message": f"must be a date YYYY-MM-DD, got {text[:40]!r}"})
            continue
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            items.append({"field": name, "message": f"is not a calendar date: {text}"})
    if items:
        raise ValidationFailed(items, "bad period", code="invalid_query")
    today = now.astimezone(ZoneInfo(timezone)).date()
    first, last = days["from"], days["to"]
    if last is None:
        last = today if first is None else max(today, first)
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationFailed([{"field": "to", "message": f"{last} is before from ({first})"}], "bad period",
                               code="invalid_query")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed([{"field": "from", "message": f"the period may span at most {MAX_DAYS} days"}],
                               "bad period", code="invalid_query")
    return Period(first, last, timezone)


# --------------------------------------------------------------------------------------------
# One case


class CaseOutcome(NamedTuple):
    """What the CS metrics need to know about one case, as it stands."""

    case_id: int
    opened_at: datetime
    agent: str | None  # resolved_by, else assignee
    shift: str | None
    priority: str
    first_contacted_at: datetime | None
    first_contact_due: datetime | None
    resolved_at: datetime | None
    resolution_due: datetime | None
    satisfaction: str | None
    revised_upward: bool
    reopened_count: int


def credited_agent(resolved_by: str | None, assignee: str | None) -> str | None:
    """The agent a case counts for: whoever resolved it, or else whoever holds it."""
    return resolved_by or assignee


def _within(due: datetime | None, done: datetime | None) -> bool:
    return done is not None and (due is None or done <= due)


# --------------------------------------------------------------------------------------------
# Aggregates


@dataclass(frozen=True)
class Rate:
    count: int
    n: int

    @property
    def rate(self) -> float | None:
        return self.count / self.n if self.n else None

    @property
    def small(self) -> bool:
        return self.n < SMALL_SAMPLE

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "n": self.n, "rate": self.rate}


@dataclass(frozen=True)
class MinutesSummary:
    median: float | None
    p90: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "p90": self.p90, "n": self.n}


def median(ordered: Sequence[float]) -> float | None:
    """Middle value of an ascending sequence (mean of the middle two for an even count)."""
    n = len(ordered)
    if not n:
        return None
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    """The ⌈q·n⌉-th smallest value of an ascending sequence (q in (0, 1])."""
    if not ordered:
        return None
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class CsFigures:
    cases_handled: int
    first_contact_minutes: MinutesSummary
    resolved: int
    resolved_within_sla: int
    first_contact_within_sla: int
    satisfaction_answers: int
    satisfied: int
    revised_upward: int
    resolved_ever: int
    reopened: int

    @property
    def not_contacted(self) -> int:
        return self.cases_handled - self.first_contact_minutes.n

    @property
    def rates(self) -> dict[str, Rate]:
        return {
            "resolution": Rate(self.resolved, self.cases_handled),
            "resolution_within_sla": Rate(self.resolved_within_sla, self.cases_handled),
            "first_contact_within_sla": Rate(self.first_contact_within_sla, self.cases_handled),
            "satisfaction": Rate(self.satisfied, self.satisfaction_answers),
            "revised_upward": Rate(self.revised_upward, self.resolved),
            "reopen": Rate(self.reopened, self.resolved_ever),
        }

    def to_json(self) -> dict[str, Any]:
        """The contract's fields, then the extras."""
        rates = self.rates
        return {
            "cases_handled": self.cases_handled,
            "first_contact_minutes": self.first_contact_minutes.to_json(),
            "resolved": self.resolved,
            "resolved_within_sla": self.resolved_within_sla,
            "resolution_rate": rates["resolution"].rate,
            "satisfaction": {"answers": self.satisfaction_answers, "satisfied": self.satisfied,
                             "rate": rates["satisfaction"].rate},
            "revised_upward": self.revised_upward,
            "not_contacted": self.not_contacted,
            "first_contact_within_sla": self.first_contact_within_sla,
            "reopened": self.reopened,
            "rates": {name: rate.to_json() for name, rate in rates.items()},
        }


def cs_figures(outcomes: Iterable[CaseOutcome]) -> CsFigures:
    """The figures of a group of cases (definitions in the module docstring)."""
    cases = resolved = resolved_within = fc_within = answers = satisfied = revised = ever = reopened = 0
    minutes: list[float] = []
    for o in outcomes:
        cases += 1
        if o.first_contacted_at is not None:
            minutes.append((o.first_contacted_at - o.opened_at).total_seconds() / 60)
            if o.first_contact_due is None or o.first_contacted_at <= o.first_contact_due:
                fc_within += 1
        if o.resolved_at is not None:
            resolved += 1
            if _within(o.resolution_due, o.resolved_at):
                resolved_within += 1
            if o.satisfaction is not None:
                answers += 1
                satisfied += o.satisfaction == "satisfied"
            revised += bool(o.revised_upward)
        if o.resolved_at is not None or o.reopened_count > 0:
            ever += 1
            reopened += o.reopened_count > 0
    minutes.sort()
    summary = MinutesSummary(_round(median(minutes)), _round(nearest_rank(minutes, 0.9)), len(minutes))
    return CsFigures(cases, summary, resolved, resolved_within, fc_within, answers, satisfied, revised, ever,
                     reopened)


def group_by(outcomes: Iterable[CaseOutcome], key: Callable[[CaseOutcome], str | None]) -> dict[str, list[CaseOutcome]]:
    """Outcomes by `key`; those whose key is None are left out."""
    groups: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        k = key(o)
        if k is not None:
            groups.setdefault(k, []).append(o)
    return groups


@dataclass(frozen=True)
class CsReport:
    period: Period
    by_agent: dict[str, CsFigures]
    by_shift: dict[str, CsFigures]  # every shift of the calendar, in calendar order
    overall: CsFigures
    shift_labels: dict[str, str] = field(default_factory=dict)

    def groups(self, group_by_: str) -> dict[str, CsFigures]:
        return self.by_agent if group_by_ == "agent" else self.by_shift

    def to_json(self, group_by_: str) -> dict[str, Any]:
        """The contract's CS metrics object for one grouping."""
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "timezone": self.period.timezone,
            "group_by": group_by_,
            "groups": [{"key": key, **figures.to_json()} for key, figures in self.groups(group_by_).items()],
            "overall": self.overall.to_json(),
            "small_sample": SMALL_SAMPLE,
        }


def cs_report(outcomes: Sequence[CaseOutcome], period: Period, shifts: ShiftCalendar,
              agents: Iterable[str] = ()) -> CsReport:
    """Figures per agent (the given `agents` always present, others who appear added, by name),
    per shift (every shift of the calendar, in its order) and overall."""
    by_agent_cases = group_by(outcomes, lambda o: o.agent)
    names = list(dict.fromkeys(agents))
    names += sorted(set(by_agent_cases) - set(names))
    by_shift_cases = group_by(outcomes, lambda o: o.shift)
    return CsReport(
        period=period,
        by_agent={name: cs_figures(by_agent_cases.get(name, ())) for name in names},
        by_shift={s.name: cs_figures(by_shift_cases.get(s.name, ())) for s in shifts.shifts},
        overall=cs_figures(outcomes),
        shift_labels={s.name: s.label() for s in shifts.shifts},
    )


# --------------------------------------------------------------------------------------------
# Rows


def shift_namer(shifts: ShiftCalendar) -> Callable[[str], str]:
    """A function from a stored UTC time (`triage.timeutil.to_db` text) to its shift's name.

    It gives `shift_at`'s answer, only faster for many rows: the zone's UTC offset is looked up
    once per UTC hour (exactly, per row, in the rare hour that holds an offset change), and the
    local time of day is then plain arithmetic on the text.
    """
    zone = shifts.zone
    offsets: dict[str, int | None] = {}
    # Sorted starts of the shifts, with the shift each one opens.
    starts = sorted((s.start, s.name) for s in shifts.shifts)
    minutes = [m for m, _ in starts]
    names = [n for _, n in starts]

    def hour_offset(hour: str) -> int | None:
        if hour not in offsets:
            first = datetime.fromisoformat(hour + ":00:00+00:00")
            a = first.astimezone(zone).utcoffset()
            b = (first + timedelta(hours=1)).astimezone(zone).utcoffset()
            offsets[hour] = int(a.total_seconds()) if a == b else None
        return offsets[hour]

    def name(stored: str) -> str:
        offset = hour_offset(stored[:13])
        if offset is None:
            return shift_at(datetime.fromisoformat(stored), shifts)
        seconds = int(stored[11:13]) * 3600 + int(stored[14:16]) * 60 + int(stored[17:19]) + offset
        minute = (seconds // 60) % 1440
        # The shift that started most recently at or before `minute` (wrapping to the last one).
        return names[bisect_right(minutes, minute) - 1]

    return name


_OUTCOME_SQL = """
    SELECT id, opened_at, resolved_by, assignee, priority, first_contacted_at, first_contact_due,
           resolved_at, resolution_due, satisfaction, revised_upward, reopened_count
    FROM cases
    WHERE opened_at >= ? AND opened_at < ?
"""


def fetch_outcomes(conn: sqlite3.Connection, period: Period, shifts: ShiftCalendar) -> list[CaseOutcome]:
    """The period's cases as CaseOutcomes, every column of every row (the plain way; for tests)."""
    lo, hi = period.db_bounds()
    namer = shift_namer(shifts)
    parse = datetime.fromisoformat

    def at(value: str | None) -> datetime | None:
        return None if value is None else parse(value)

    return [
        CaseOutcome(
            case_id, parse(opened), resolved_by or assignee, namer(opened), priority, at(fc), at(fc_due), at(res),
            at(res_due), satisfaction, bool(revised), reopened or 0,
        )
        for (case_id, opened, resolved_by, assignee, priority, fc, fc_due, res, res_due, satisfaction, revised,
             reopened) in conn.execute(_OUTCOME_SQL, (lo, hi))
    ]


def agent_names(conn: sqlite3.Connection) -> list[str]:
    """Usernames of the active agents who work cases (role agent), by name."""
    return [r[0] for r in conn.execute(
        "SELECT username FROM agents WHERE role = 'agent' AND active = 1 AND disabled_at IS NULL ORDER BY username")]


# --------------------------------------------------------------------------------------------
# The same figures aggregated by SQLite (what the board, the API and the report run)
#
# Fetching a 12-week period's rows into Python costs more than the 300 ms a page may take at
# 200,000 cases, so production asks SQLite for sums per (shift, agent) and for the few rows at
# the percentile ranks. The shift of each case comes from `shift_segments`: the period cut into
# spans that each lie in one shift (as `shift_at` says), joined to the cases by opened_at range.
# A test holds this path to `cs_figures` over `fetch_outcomes` on hand-built timelines.


def _offset_changes(lo: datetime, hi: datetime, zone: ZoneInfo) -> list[datetime]:
    """Instants in (lo, hi) at which the zone's UTC offset changes (whole seconds, as in tzdata)."""
    changes = []
    step = timedelta(hours=1)
    cursor = lo
    before = cursor.astimezone(zone).utcoffset()
    while cursor < hi:
        nxt = min(cursor + step, hi)
        after = nxt.astimezone(zone).utcoffset()
        if after != before:
            low, high = math.floor(cursor.timestamp()), math.ceil(nxt.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            changes.append(datetime.fromtimestamp(high, UTC))
        cursor, before = nxt, after
    return changes


def shift_segments(lo: datetime, hi: datetime, shifts: ShiftCalendar) -> list[tuple[str, datetime, datetime]]:
    """[lo, hi) cut into consecutive spans (name, start, end) that each lie in one shift.

    A shift can only change where the local clock reaches a shift's start or jumps (an offset
    change), so those instants are the cuts; each span is named by `shift_at` of its start, and
    neighbours with the same name are merged.
    """
    zone = shifts.zone
    cuts = {lo, hi, *_offset_changes(lo, hi, zone)}
    day = lo.astimezone(zone).date() - timedelta(days=1)
    last = hi.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for shift in shifts.shifts:
            wall = datetime(day.year, day.month, day.day, shift.start // 60, shift.start % 60)
            for fold in (0, 1):
                instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                if lo < instant < hi:
                    cuts.add(instant)
        day += timedelta(days=1)
    ordered = sorted(cuts)
    segments: list[tuple[str, datetime, datetime]] = []
    for start, end in pairwise(ordered):
        name = shift_at(start, shifts)
        if segments and segments[-1][0] == name and segments[-1][2] == start:
            segments[-1] = (name, segments[-1][1], end)
        else:
            segments.append((name, start, end))
    return segments


def _segments_cte(period: Period, shifts: ShiftCalendar) -> tuple[str, list[Any]]:
    lo, hi = period.bounds()
    segments = shift_segments(lo, hi, shifts)
    values = ", ".join("(?, ?, ?)" for _ in segments)
    params: list[Any] = []
    for name, start, end in segments:
        params.extend((name, to_db(start), to_db(end)))
    return f"seg(shift, lo, hi) AS (VALUES {values})", params


# The sums of a group, from the trigger-kept columns of migration 020 (`cs_flags` bits; see
# triage/db.py): (field, SQL over one index entry).
_SUMS: tuple[tuple[str, str], ...] = (
    ("cases", "COUNT(*)"),
    ("contacted", "SUM((cs_flags >> 8) & 1)"),
    ("fc_within", "SUM(cs_flags & 1)"),
    ("resolved", "SUM((cs_flags >> 1) & 1)"),
    ("res_within", "SUM((cs_flags >> 2) & 1)"),
    ("answers", "SUM((cs_flags >> 3) & 1)"),
    ("satisfied", "SUM((cs_flags >> 4) & 1)"),
    ("revised", "SUM((cs_flags >> 5) & 1)"),
    ("ever", "SUM((cs_flags >> 6) & 1)"),
    ("reopened", "SUM((cs_flags >> 7) & 1)"),
)
_SUM_FIELDS = tuple(name for name, _ in _SUMS)
# One pass over a group's index range gives its sums and its minutes to first contact (as text,
# which Python parses far faster than it would build one row object per case).
_SUM_JSON = "json_array(" + ", ".join(f"COALESCE({expr}, 0)" for _, expr in _SUMS) + ", group_concat(cs_minutes))"


def _sums(packed: str) -> tuple[dict[str, int], list[float]]:
    *counts, minutes = json.loads(packed)
    return dict(zip(_SUM_FIELDS, counts, strict=True)), list(map(float, minutes.split(","))) if minutes else []


def _sql_shift_sums(conn: sqlite3.Connection, cte: str,
                    params: list[Any]) -> list[tuple[str, dict[str, int], list[float]]]:
    """Sums and minutes per shift span: one narrow index range each (a correlated subquery), no sort."""
    rows = conn.execute(
        f"""
        WITH {cte}
        SELECT seg.shift, (SELECT {_SUM_JSON} FROM cases INDEXED BY cases_cs_period
                           WHERE opened_at >= seg.lo AND opened_at < seg.hi)
        FROM seg
        """,
        params,
    ).fetchall()
    return [(shift, *_sums(packed)) for shift, packed in rows]


def _sql_agent_sums(conn: sqlite3.Connection, period: Period,
                    total: int) -> dict[str, tuple[dict[str, int], list[float]]]:
    """Sums and minutes per credited agent: one index range per known username, no sort. Should
    any case count for a name that is no agent's (a hand-edited database), one grouped query takes over."""
    lo, hi = period.db_bounds()
    names = [r[0] for r in conn.execute("SELECT username FROM agents ORDER BY username")]
    values = ", ".join("(?)" for _ in names) or "(NULL)"
    rows = conn.execute(
        f"""
        WITH a(agent) AS (VALUES {values})
        SELECT a.agent, (SELECT {_SUM_JSON} FROM cases INDEXED BY cases_cs_agent
                         WHERE cs_agent = a.agent AND opened_at >= ? AND opened_at < ?)
        FROM a WHERE a.agent IS NOT NULL
        """,
        [*names, lo, hi],
    ).fetchall()
    found = {agent: _sums(packed) for agent, packed in rows}
    uncredited = conn.execute(
        "SELECT COUNT(*) FROM cases INDEXED BY cases_cs_agent WHERE cs_agent IS NULL AND opened_at >= ? AND opened_at < ?",
        (lo, hi),
    ).fetchone()[0]
    if uncredited + sum(sums["cases"] for sums, _ in found.values()) != total:
        grouped = conn.execute(
            f"SELECT cs_agent, {_SUM_JSON} FROM cases INDEXED BY cases_cs_period"
            " WHERE opened_at >= ? AND opened_at < ? AND cs_agent IS NOT NULL GROUP BY cs_agent",
            (lo, hi),
        ).fetchall()
        found = {agent: _sums(packed) for agent, packed in grouped}
    return {agent: value for agent, value in found.items() if value[0]["cases"]}


def _summary(values: list[float]) -> MinutesSummary:
    values.sort()
    return MinutesSummary(_round(median(values)), _round(nearest_rank(values, 0.9)), len(values))


def _figures(sums: dict[str, int], minutes: list[float]) -> CsFigures:
    return CsFigures(
        cases_handled=sums["cases"],
        first_contact_minutes=_summary(minutes),
        resolved=sums["resolved"],
        resolved_within_sla=sums["res_within"],
        first_contact_within_sla=sums["fc_within"],
        satisfaction_answers=sums["answers"],
        satisfied=sums["satisfied"],
        revised_upward=sums["revised"],
        resolved_ever=sums["ever"],
        reopened=sums["reopened"],
    )


class _Day(NamedTuple):
    """One local day's sums and sorted minutes per shift span and per credited agent."""

    spans: list[tuple[str, dict[str, int], list[float]]]
    agents: dict[str, tuple[dict[str, int], list[float]]]


# Each local day's figures, computed once and reused until a case opened in that day's UTC hours
# changes: the key holds the database (file and the random id migration 021 gave it), the shift
# calendar and the day; the value holds the
# change counters (migration 021's `cs_changes`) the figures were computed under. Any change to a
# case's CS columns bumps its hour's counter in the same transaction, so a hit is exact.
_DAY_CACHE: OrderedDict[tuple[str, int, ShiftCalendar, date], tuple[tuple[int, ...], _Day]] = OrderedDict()
_DAY_CACHE_SIZE = 1024  # local days (~30 kB each at 400 contacted cases a day)
_DAY_CACHE_LOCK = threading.Lock()


def clear_day_cache() -> None:
    """Forget every cached day (benchmarks time the cold path with it)."""
    with _DAY_CACHE_LOCK:
        _DAY_CACHE.clear()


def _database_file(conn: sqlite3.Connection) -> str | None:
    """The main database's file, or None for an in-memory one (never cached)."""
    for _, name, path in conn.execute("PRAGMA database_list"):
        if name == "main":
            return path or None
    return None


def _hours(lo: datetime, hi: datetime) -> list[str]:
    """The `cs_changes` keys (UTC hours, as the first 13 characters of `to_db`) that [lo, hi) touches."""
    cursor = lo.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    keys = []
    while cursor < hi:
        keys.append(to_db(cursor)[:13])
        cursor += timedelta(hours=1)
    return keys


def _compute_day(conn: sqlite3.Connection, day: Period, shifts: ShiftCalendar) -> _Day:
    cte, params = _segments_cte(day, shifts)
    spans = _sql_shift_sums(conn, cte, params)
    agents = _sql_agent_sums(conn, day, sum(sums["cases"] for _, sums, _ in spans))
    for _, _, minutes in spans:
        minutes.sort()
    for _, minutes in agents.values():
        minutes.sort()
    return _Day(spans, agents)


def _days(conn: sqlite3.Connection, period: Period, shifts: ShiftCalendar, cacheable: bool) -> list[_Day]:
    """The period's days, from the cache where their hours' counters have not moved."""
    lo, hi = period.db_bounds()
    counters = dict(conn.execute("SELECT hour, n FROM cs_changes WHERE hour >= ? AND hour <= ?",
                                 (lo[:13], hi[:13])))
    database = _database_file(conn) if cacheable else None
    identity = conn.execute("SELECT n FROM cs_changes WHERE hour = 'id'").fetchone()
    if identity is None:
        database = None
    found = []
    for offset in range(period.days):
        local = period.start + timedelta(days=offset)
        day = Period(local, local, period.timezone)
        stamp = tuple(counters.get(hour, 0) for hour in _hours(*day.bounds()))
        key = (database or "", identity[0] if identity else 0, shifts, local)
        with _DAY_CACHE_LOCK:
            hit = _DAY_CACHE.get(key) if database else None
            if hit is not None and hit[0] == stamp:
                _DAY_CACHE.move_to_end(key)
                found.append(hit[1])
                continue
        figures = _compute_day(conn, day, shifts)
        if database:
            with _DAY_CACHE_LOCK:
                _DAY_CACHE[key] = (stamp, figures)
                _DAY_CACHE.move_to_end(key)
                while len(_DAY_CACHE) > _DAY_CACHE_SIZE:
                    _DAY_CACHE.popitem(last=False)
        found.append(figures)
    return found


def period_report(conn: sqlite3.Connection, period: Period, shifts: ShiftCalendar, *,
                  agents: bool = True) -> CsReport:
    """The CS figures of `period` per agent (every active agent, plus anyone else credited), per
    shift (every shift of the calendar) and overall — what the board, the API and the report show.

    The period is summed day by day (local days); a day whose cases have not changed since it was
    last computed in this process comes from the day cache, the others from the indexes of
    migration 020. The figures are exact either way. ``agents=False`` leaves `by_agent` empty."""
    snapshot = _snapshot(conn)
    with snapshot:
        # Only figures read in a transaction of our own may be kept: an enclosing write
        # transaction could still roll back what they saw.
        days = _days(conn, period, shifts, cacheable=snapshot.began)
        agents_ = agent_names(conn) if agents else []
    zero = dict.fromkeys(_SUM_FIELDS, 0)
    by_shift: dict[str, tuple[dict[str, int], list[float]]] = {s.name: (dict(zero), []) for s in shifts.shifts}
    overall: tuple[dict[str, int], list[float]] = (dict(zero), [])
    by_agent: dict[str, tuple[dict[str, int], list[float]]] = {}
    for day in days:
        for shift, sums, minutes in day.spans:
            for target, values in (by_shift.setdefault(shift, (dict(zero), [])), overall):
                for name in _SUM_FIELDS:
                    target[name] += sums[name]
                values.extend(minutes)
        if agents:
            for agent, (sums, minutes) in day.agents.items():
                target, values = by_agent.setdefault(agent, (dict(zero), []))
                for name in _SUM_FIELDS:
                    target[name] += sums[name]
                values.extend(minutes)
    names = list(dict.fromkeys(agents_))
    names += sorted(set(by_agent) - set(names))
    return CsReport(
        period=period,
        by_agent={a: _figures(*by_agent.get(a, (zero, []))) for a in names},
        by_shift={name: _figures(*value) for name, value in by_shift.items()},
        overall=_figures(*overall),
        shift_labels={s.name: s.label() for s in shifts.shifts},
    )


class _snapshot:
    """One read transaction around the queries, so their figures agree (WAL readers see one state)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.began = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.began = True

    def __exit__(self, *exc: object) -> None:
        if self.began:
            self.conn.execute("COMMIT")


def reference_report(conn: sqlite3.Connection, period: Period, shifts: ShiftCalendar) -> CsReport:
    """`period_report` computed the plain way: every row into Python, then `cs_report` (for tests)."""
    return cs_report(fetch_outcomes(conn, period, shifts), period, shifts, agent_names(conn))
