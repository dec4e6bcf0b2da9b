"""SLA arithmetic: business-hours clocks for complaint cases.

Everything here is pure: no database, no Flask, no Redis. The only I/O is `load_policy`, which
reads the JSON policy file named by ``TRIAGE_SLA_POLICY``.

Policy
------
Each priority (P1, P2, P3) has a first-contact target and a resolution target. Each of the two
clocks counts either *business* time of a weekly calendar with holidays (``"business"``) or
*wall-clock* time, every hour of every day (``"wall"``): the customer's clock, which does not stop
at night. The calendar's time zone is not part of the file; it comes from the
``TRIAGE_TIMEZONE`` setting and is passed in.

Built-in default (`default_policy`), after what the shops we serve ask for (every after-sales
complaint handled within 48 hours of the customer's time; the first call sooner the worse it is):

==========  ===================================  ================================
priority    first contact (business hours)       resolution (wall-clock hours)
==========  ===================================  ================================
P1          1 h                                  24 h
P2          4 h                                  48 h
P3          8 h                                  48 h
==========  ===================================  ================================

Business hours are 09:00-22:00 every day, no holidays; a clock is at risk from 75 % of its target.

The policy file is a JSON object; every top-level field is optional and falls back to the
default, and unknown fields are errors (a typo should not silently leave the default in place)::

    {
      "targets": {                          # any of P1, P2, P3; omitted ones keep the default
        "P1": {"first_contact_hours": 2, "resolution_hours": 24},
        "P2": {"first_contact_hours": 8, "resolution_hours": 48}
      },
      "calendar": {                         # if present, all seven days must be listed
        "mon": [["09:00", "12:00"], ["13:00", "22:00"]],
        "tue": [["09:00", "22:00"]], "wed": [["09:00", "22:00"]], "thu": [["09:00", "22:00"]],
        "fri": [["09:00", "22:00"]], "sat": [["10:00", "18:00"]],
        "sun": []                           # [] = closed all day
      },
      "holidays": ["2026-10-01", "2026-10-02"],   # local dates in the calendar's zone, closed all day
      "at_risk_fraction": 0.75,             # 0 < x <= 1
      "clocks": {                           # per clock: "business" (the calendar) or "wall" (24/7)
        "first_contact": "business",        # default: business
        "resolution": "wall"                # default: wall
      },
      "shifts": [                           # the CS shift calendar (triage.shifts), same zone
        {"name": "白班", "start": "09:00", "end": "21:00"},
        {"name": "夜班", "start": "21:00", "end": "09:00"}   # end <= start: runs overnight
      ]
    }

Hours are positive numbers (fractions allowed) and first contact may not exceed resolution.
Intervals are ``["HH:MM", "HH:MM"]`` wall-clock times, start before end, ``"24:00"`` allowed as an
end only; a day's intervals may come in any order but must not overlap. Any problem raises
`SlaPolicyError`, whose message (and ``field`` attribute) names the offending field, e.g.
``targets.P1.resolution_hours`` or ``calendar.mon[1]``. Shifts (see `triage.shifts`) are listed
with ``"HH:MM"`` starts and ends (an end at or before the start runs past midnight) and must
cover the 24 hours exactly once, each shift ending where the next begins; names are unique.

Time arithmetic
---------------
All datetimes must be timezone-aware (naive ones raise ValueError); results are in UTC. Business
hours are evaluated in the calendar's zone with `zoneinfo`, so a 00:00-24:00 day lasts 23 real
hours when clocks go forward and 25 when they go back. A wall-clock time is taken to mean the
first instant at which the local clock reads at least that time on that date: an ambiguous time
(clocks going back) is its first occurrence, and a time skipped by clocks going forward is the
instant of the jump.

A case's clocks are paused while it waits on the customer. Pauses are half-open intervals
``[paused_at, resumed_at)``; ``resumed_at`` None means the pause is still open.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triage.shifts import ShiftCalendar, ShiftCalendarError, default_shift_calendar, parse_shifts

__all__ = [
    "CLOCK_KINDS",
    "CLOCK_NAMES",
    "DEFAULT_TIMEZONE",
    "PRIORITIES",
    "BusinessCalendar",
    "ClockState",
    "Pause",
    "SlaPolicy",
    "SlaPolicyError",
    "Targets",
    "add_business_time",
    "business_time_between",
    "clock_state",
    "default_policy",
    "due_at",
    "due_instants",
    "elapsed",
    "load_policy",
    "next_transition",
    "parse_policy",
    "wall_calendar",
]

DEFAULT_TIMEZONE = "Asia/Shanghai"
PRIORITIES = ("P1", "P2", "P3")
DEFAULT_AT_RISK_FRACTION = 0.75

ClockState = Literal["ok", "at_risk", "breached", "met"]
Pause = tuple[datetime, datetime | None]
Interval = tuple[time, time]

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_DEFAULT_TARGET_HOURS = {"P1": (1, 24), "P2": (4, 48), "P3": (8, 48)}
_DEFAULT_DAY: tuple[Interval, ...] = ((time(9), time(22)),)
_WALL_DAY: tuple[Interval, ...] = ((time(0), time(0)),)  # 00:00-24:00
_POLICY_FIELDS = ("targets", "calendar", "holidays", "at_risk_fraction", "clocks", "shifts")
CLOCK_NAMES = ("first_contact", "resolution")
CLOCK_KINDS = ("business", "wall")
_DEFAULT_CLOCKS = {"first_contact": "business", "resolution": "wall"}
_TARGET_FIELDS = ("first_contact_hours", "resolution_hours")
_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY = timedelta(days=1)
_ZERO = timedelta(0)


class SlaPolicyError(ValueError):
    """A policy (file) is invalid. ``field`` names the offending field, ``source`` the file."""

    def __init__(self, field: str, problem: str, source: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.source = source
        prefix = f"SLA policy {source}: " if source else "SLA policy: "
        super().__init__(f"{prefix}{field}: {problem}")


# --------------------------------------------------------------------------------------------
# Data model


@dataclass(frozen=True)
class Targets:
    """How much business time a case may use before first contact and before resolution."""

    first_contact: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        for name in ("first_contact", "resolution"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= _ZERO:
                raise ValueError(f"{name} must be a positive timedelta, got {value!r}")
        if self.first_contact > self.resolution:
            raise ValueError(
                f"first_contact ({self.first_contact}) must not exceed resolution ({self.resolution})"
            )


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours per weekday (0 = Monday, as `date.weekday`) in `timezone`, plus holidays.

    A missing weekday, or an empty tuple, means closed all day. Each interval is a
    ``(start, end)`` pair of naive wall-clock times in ascending, non-overlapping order; an end of
    ``time(0)`` means midnight at the end of the day ("24:00"). Holidays are local dates on which
    the business is closed all day.
    """

    timezone: str
    weekly: dict[int, tuple[Interval, ...]]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.timezone)
        for weekday, intervals in self.weekly.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday!r}")
            try:
                _check_intervals(intervals)
            except ValueError as exc:
                raise ValueError(f"{_DAY_NAMES[weekday]}: {exc}") from None
        # Without any opening hours a deadline would never arrive and the day walk would not end.
        if not any(self.weekly.values()):
            raise ValueError("calendar has no business hours at all")
        for holiday in self.holidays:
            if type(holiday) is not date:  # datetime is a date subclass, but not a day
                raise ValueError(f"holidays must be dates, got {holiday!r}")
        # Everything a day's opening instants depend on, as a hashable value: the key of the
        # per-process memo of days (`_days_of`). The calendar is frozen; `weekly` is not mutated.
        spec = (self.timezone, tuple(tuple(self.weekly.get(d, ())) for d in range(7)), self.holidays)
        object.__setattr__(self, "_spec", spec)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per priority, the calendar they are measured in, the at-risk threshold, and the
    customer-service shift calendar (which shift a case belongs to; default 白班 09:00–21:00,
    夜班 21:00–09:00 in the calendar's zone)."""

    targets: dict[str, Targets]
    calendar: BusinessCalendar
    at_risk_fraction: float = DEFAULT_AT_RISK_FRACTION
    # clock name -> "business" (counted in `calendar`) or "wall" (every hour of every day)
    clocks: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_CLOCKS))
    shifts: ShiftCalendar | None = None  # None: the default shifts (白班/夜班) in the calendar's zone

    def __post_init__(self) -> None:
        _check_fraction(self.at_risk_fraction)
        for name, kind in self.clocks.items():
            if name not in CLOCK_NAMES or kind not in CLOCK_KINDS:
                raise ValueError(f"clocks: {name!r} -> {kind!r}; expected {CLOCK_NAMES} -> {CLOCK_KINDS}")
        if self.shifts is None:
            object.__setattr__(self, "shifts", default_shift_calendar(self.calendar.timezone))

    def calendar_for(self, clock: str) -> BusinessCalendar:
        """The calendar `clock` ("first_contact" | "resolution") counts in."""
        if self.clocks.get(clock, "business") == "wall":
            return wall_calendar(self.calendar.timezone)
        return self.calendar


@lru_cache(maxsize=64)
def wall_calendar(timezone: str) -> BusinessCalendar:
    """Every hour of every day: wall-clock time (DST days included as they really are).

    One (frozen) object per zone: a case's clocks ask for it on every computation."""
    return BusinessCalendar(timezone, dict.fromkeys(range(7), _WALL_DAY), frozenset())


def default_policy(timezone: str = DEFAULT_TIMEZONE) -> SlaPolicy:
    """The built-in policy, with its calendar in `timezone`. Each call returns a fresh object."""
    targets = {
        priority: Targets(timedelta(hours=first), timedelta(hours=resolution))
        for priority, (first, resolution) in _DEFAULT_TARGET_HOURS.items()
    }
    calendar = BusinessCalendar(timezone, dict.fromkeys(range(7), _DEFAULT_DAY), frozenset())
    return SlaPolicy(targets, calendar, DEFAULT_AT_RISK_FRACTION)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _check_fraction(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"at_risk_fraction must be a number in (0, 1], got {value!r}")


def _check_target(target: timedelta) -> None:
    if target < _ZERO:
        raise ValueError(f"target must not be negative, got {target}")


def _since_midnight(moment: time, *, is_end: bool) -> timedelta:
    offset = timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second,
                       microseconds=moment.microsecond)
    # 00:00 cannot end an interval that starts on the same day, so as an end it means 24:00.
    return _DAY if is_end and offset == _ZERO else offset


def _format_interval(interval: Interval) -> str:
    start, end = interval
    end_text = "24:00" if end == time(0) else end.isoformat("minutes")
    return f"{start.isoformat('minutes')}-{end_text}"


def _check_intervals(intervals: Sequence[Interval]) -> None:
    previous_end: timedelta | None = None
    for interval in intervals:
        if len(interval) != 2 or not all(isinstance(part, time) for part in interval):
            raise ValueError(f"an interval must be a (start, end) pair of times, got {interval!r}")
        start, end = interval
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("interval times are wall-clock times and must not carry a tzinfo")
        begin, finish = _since_midnight(start, is_end=False), _since_midnight(end, is_end=True)
        if begin >= finish:
            raise ValueError(f"interval {_format_interval(interval)} must start before it ends")
        if previous_end is not None and begin < previous_end:
            raise ValueError(
                f"interval {_format_interval(interval)} overlaps or precedes the one before it"
            )
        previous_end = finish


# --------------------------------------------------------------------------------------------
# Calendar -> real instants


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def _offset_at(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


def _jump_instant(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant of the forward jump between `before` and `after` (tz database: whole seconds)."""
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    offset_before = _offset_at(low, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """First instant at which the local clock reads at least `wall` on `day`."""
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)  # fold=0: first of two occurrences
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # Clocks jumped over this wall time. fold=1 maps it to an instant before the jump and fold=0
    # to one after, so the jump itself lies between them; mapping the gap to the jump keeps
    # opening/closing instants monotonic in wall time, which the day walk relies on.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _jump_instant(min(instant, other), max(instant, other), zone)


def _day_intervals(calendar: BusinessCalendar, day: date, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    if day in calendar.holidays:
        return
    for start, end in calendar.weekly.get(day.weekday(), ()):
        opening = _wall_to_utc(day, start, zone)
        closing = _wall_to_utc(day + _DAY, end, zone) if end == time(0) else _wall_to_utc(day, end, zone)
        yield opening, closing  # empty if wholly inside a DST gap, which every consumer tolerates


def _open_intervals(calendar: BusinessCalendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals (UTC, in order) that end after `since`, walking forward day by day.

    Endless by design: the calendar has opening hours and finitely many holidays, so every
    consumer that needs a bounded amount of business time eventually gets it.
    """
    zone = calendar.zone
    days = _days_of(calendar)
    # Earlier dates' hours close by the first instant the clock shows `since`'s date, which is
    # never after `since`, so the walk can start at that date even around DST changes.
    day = since.astimezone(zone).date()
    while True:
        intervals = days.get(day)
        if intervals is None:
            intervals = days[day] = tuple(_day_intervals(calendar, day, zone))
        for opening, closing in intervals:
            if closing > since:
                yield opening, closing
        day += _DAY


# A day's opening and closing instants, per calendar (its `_spec`) and local date: a pure function
# of the two, computed once per process. Converting wall times to instants (`_wall_to_utc`) was
# about three quarters of every clock computation, and a case list asks for the same few days again
# and again. Bounded: past the limits a memo starts over.
_DAY_MEMO: dict[tuple[object, ...], dict[date, tuple[tuple[datetime, datetime], ...]]] = {}
_DAY_MEMO_CALENDARS = 64
_DAY_MEMO_DAYS = 50_000


def _days_of(calendar: BusinessCalendar) -> dict[date, tuple[tuple[datetime, datetime], ...]]:
    spec = calendar._spec  # type: ignore[attr-defined]  # set by __post_init__
    days = _DAY_MEMO.get(spec)
    if days is None or len(days) > _DAY_MEMO_DAYS:
        if len(_DAY_MEMO) >= _DAY_MEMO_CALENDARS:
            _DAY_MEMO.clear()
        days = _DAY_MEMO[spec] = {}
    return days


def add_business_time(start: datetime, duration: timedelta, calendar: BusinessCalendar) -> datetime:
    """The earliest instant ``t >= start`` with ``business_time_between(start, t) == duration``.

    Counting starts at the next opening when `start` is outside business hours; a duration that
    runs out exactly at a closing time yields that closing time, and a zero duration yields
    `start` itself. Returned in UTC.
    """
    _require_aware(start, "start")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    start = start.astimezone(UTC)
    remaining = duration
    if remaining == _ZERO:
        return start
    for opening, closing in _open_intervals(calendar, start):
        opening = max(opening, start)
        available = closing - opening
        if remaining <= available:
            return opening + remaining
        remaining -= available
    raise AssertionError("unreachable: _open_intervals is endless")


def business_time_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """Business time in ``[start, end)``; zero if ``end <= start``."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = _ZERO
    if end <= start:
        return total
    for opening, closing in _open_intervals(calendar, start):
        if opening >= end:
            break
        total += min(closing, end) - max(opening, start)
    return total


# --------------------------------------------------------------------------------------------
# Pauses and clocks


def _normalise_pauses(pauses: Sequence[Pause], start: datetime) -> list[Pause]:
    """Pauses in UTC, clipped to after `start`, sorted and merged.

    Everything after an open pause is paused, so an open pause absorbs all later ones.
    """
    spans: list[Pause] = []
    for index, (paused_at, resumed_at) in enumerate(pauses):
        _require_aware(paused_at, f"pauses[{index}] paused_at")
        if resumed_at is not None:
            _require_aware(resumed_at, f"pauses[{index}] resumed_at")
            if resumed_at < paused_at:
                raise ValueError(f"pauses[{index}] resumes ({resumed_at}) before it starts ({paused_at})")
            resumed_at = resumed_at.astimezone(UTC)
            if resumed_at <= start:
                continue
        spans.append((max(paused_at.astimezone(UTC), start), resumed_at))
    spans.sort(key=lambda span: span[0])
    merged: list[Pause] = []
    for paused_at, resumed_at in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if paused_at <= last_end:
                merged[-1] = (last_start, None if resumed_at is None else max(last_end, resumed_at))
                continue
        merged.append((paused_at, resumed_at))
    return merged


def elapsed(start: datetime, now: datetime, calendar: BusinessCalendar, pauses: Sequence[Pause]) -> timedelta:
    """Business time used in ``[start, now)``, not counting time inside pauses."""
    _require_aware(start, "start")
    _require_aware(now, "now")
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    used = _ZERO
    cursor = start
    for paused_at, resumed_at in _normalise_pauses(pauses, start):
        if paused_at >= now:
            break
        used += business_time_between(cursor, paused_at, calendar)
        if resumed_at is None:
            return used
        cursor = resumed_at
    return used + business_time_between(cursor, now, calendar)


def due_at(
    start: datetime, target: timedelta, calendar: BusinessCalendar, pauses: Sequence[Pause]
) -> datetime | None:
    """The instant (UTC) at which `target` of unpaused business time has been used.

    None when an open pause stops the clock before the target is reached: until the customer
    answers nobody knows when the case will be due. A target already used up before the open
    pause began still has its (past) due instant.
    """
    _require_aware(start, "start")
    _check_target(target)
    start = start.astimezone(UTC)
    remaining = target
    cursor = start
    for paused_at, resumed_at in _normalise_pauses(pauses, start):
        available = business_time_between(cursor, paused_at, calendar)
        if available >= remaining:
            return add_business_time(cursor, remaining, calendar)
        remaining -= available
        if resumed_at is None:
            return None
        cursor = resumed_at
    return add_business_time(cursor, remaining, calendar)


def due_instants(
    start: datetime, amounts: Sequence[timedelta], calendar: BusinessCalendar, pauses: Sequence[Pause]
) -> list[datetime | None]:
    """`due_at` of each of `amounts` (ascending) in one walk over the calendar: the same instants.

    A clock's at-risk threshold and its target are two amounts of the same walk; walking once
    halves the cost of a case's clocks.
    """
    _require_aware(start, "start")
    for amount in amounts:
        _check_target(amount)
    if any(later < earlier for earlier, later in pairwise(amounts)):
        raise ValueError(f"amounts must be ascending, got {amounts!r}")
    start = start.astimezone(UTC)
    out: list[datetime | None] = []
    used = _ZERO  # unpaused business time before `cursor`
    cursor = start
    for paused_at, resumed_at in _normalise_pauses(pauses, start):
        available = business_time_between(cursor, paused_at, calendar)
        # due_at's test, `available >= remaining`, for every amount not yet placed
        reached = [amount - used for amount in amounts[len(out):] if amount - used <= available]
        out.extend(_add_business_times(cursor, reached, calendar))
        if len(out) == len(amounts):
            return out
        used += available
        if resumed_at is None:
            return out + [None] * (len(amounts) - len(out))
        cursor = resumed_at
    out.extend(_add_business_times(cursor, [amount - used for amount in amounts[len(out):]], calendar))
    return out


def _add_business_times(start: datetime, durations: Sequence[timedelta], calendar: BusinessCalendar) -> list[datetime]:
    """`add_business_time(start, d)` for each of `durations` (ascending) in one walk; `start` in UTC."""
    out = [start for duration in durations if duration == _ZERO]  # add_business_time's zero case
    if len(out) == len(durations):
        return out
    consumed = _ZERO
    for opening, closing in _open_intervals(calendar, start):
        opening = max(opening, start)
        available = closing - opening
        while durations[len(out)] - consumed <= available:
            out.append(opening + (durations[len(out)] - consumed))
            if len(out) == len(durations):
                return out
        consumed += available
    raise AssertionError("unreachable: _open_intervals is endless")


def clock_state(
    start: datetime,
    target: timedelta,
    done_at: datetime | None,
    now: datetime,
    calendar: BusinessCalendar,
    pauses: Sequence[Pause],
    at_risk_fraction: float = DEFAULT_AT_RISK_FRACTION,
) -> ClockState:
    """State of one SLA clock as seen at `now`.

    Let ``used = elapsed(start, now, calendar, pauses)`` and ``due = due_at(start, target, ...)``.

    * Done (``done_at`` set and ``done_at <= now``): ``"met"`` if ``done_at <= due`` (or the
      clock never came due because it was paused), otherwise ``"breached"`` - a late finish
      stays breached.
    * Not done (``done_at`` None, or still in the future as seen from `now`):
      ``"breached"`` if ``used >= target``; else ``"at_risk"`` if
      ``used >= at_risk_fraction * target``; else ``"ok"``.

    Both thresholds are inclusive, so at the due instant itself an undone clock is breached while
    a case finished at that very instant has met its target. Pauses only stop the clock: a paused
    clock keeps whichever state it had when it stopped.
    """
    _check_fraction(at_risk_fraction)
    _check_target(target)
    _require_aware(now, "now")
    if done_at is not None:
        _require_aware(done_at, "done_at")
        if done_at <= now:
            due = due_at(start, target, calendar, pauses)
            return "met" if due is None or done_at <= due else "breached"
    used = elapsed(start, now, calendar, pauses)
    if used >= target:
        return "breached"
    if used >= target * at_risk_fraction:
        return "at_risk"
    return "ok"


def next_transition(
    start: datetime,
    target: timedelta,
    now: datetime,
    calendar: BusinessCalendar,
    pauses: Sequence[Pause],
    at_risk_fraction: float = DEFAULT_AT_RISK_FRACTION,
) -> datetime | None:
    """When (UTC, strictly after `now`) the state of an undone clock next changes.

    That is the instant it becomes ``"at_risk"`` if it is ``"ok"`` now, or ``"breached"`` if it is
    ``"at_risk"`` now. None if it is already breached, or if an open pause stops the clock before
    the next threshold: the resume will have to reschedule.
    """
    _check_fraction(at_risk_fraction)
    _check_target(target)
    used = elapsed(start, now, calendar, pauses)
    if used >= target:
        return None
    threshold = target * at_risk_fraction
    if used >= threshold:
        threshold = target
    return due_at(start, threshold, calendar, pauses)


# --------------------------------------------------------------------------------------------
# Policy files


def load_policy(path: str | os.PathLike[str] | None, timezone: str) -> SlaPolicy:
    """The policy in JSON file `path` (see the module docstring), or the default if `path` is None.

    Raises SlaPolicyError naming the file and the bad field for an unreadable or invalid file,
    and for an unknown `timezone`.
    """
    if path is None:
        try:
            return default_policy(timezone)
        except ValueError as exc:
            raise SlaPolicyError("timezone", str(exc)) from None
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SlaPolicyError("(file)", f"cannot read: {exc}", source) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SlaPolicyError("(file)", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                             source) from None
    try:
        return parse_policy(data, timezone)
    except SlaPolicyError as exc:
        raise SlaPolicyError(exc.field, exc.problem, source) from None


def parse_policy(data: object, timezone: str) -> SlaPolicy:
    """Build a policy from already-decoded JSON `data`; omitted fields keep the default."""
    try:
        default = default_policy(timezone)
    except ValueError as exc:
        raise SlaPolicyError("timezone", str(exc)) from None
    document = _expect_object(data, "(top level)", _POLICY_FIELDS)
    targets = dict(default.targets)
    if "targets" in document:
        targets.update(_parse_targets(document["targets"]))
    weekly = default.calendar.weekly
    if "calendar" in document:
        weekly = _parse_weekly(document["calendar"])
    holidays = default.calendar.holidays
    if "holidays" in document:
        holidays = _parse_holidays(document["holidays"])
    try:
        calendar = BusinessCalendar(timezone, weekly, holidays)
    except ValueError as exc:
        raise SlaPolicyError("calendar", str(exc)) from None
    fraction = document.get("at_risk_fraction", default.at_risk_fraction)
    try:
        _check_fraction(fraction)
    except ValueError:
        raise SlaPolicyError("at_risk_fraction", f"must be a number in (0, 1], got {_describe(fraction)}") from None
    clocks = dict(default.clocks)
    if "clocks" in document:
        for name, kind in _expect_object(document["clocks"], "clocks", CLOCK_NAMES).items():
            if kind not in CLOCK_KINDS:
                raise SlaPolicyError(f"clocks.{name}", f"must be one of {', '.join(CLOCK_KINDS)}, got {_describe(kind)}")
            clocks[name] = kind
    shifts = None
    if "shifts" in document:
        try:
            shifts = parse_shifts(document["shifts"], timezone)
        except ShiftCalendarError as exc:
            raise SlaPolicyError(exc.field, exc.problem) from None
    return SlaPolicy(targets, calendar, fraction, clocks, shifts)


def _describe(value: object) -> str:
    # parse_policy also takes plain Python data, which may not be JSON-serialisable.
    return json.dumps(value, ensure_ascii=False, default=repr)[:60]


def _expect_object(value: object, field: str, allowed: Sequence[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise SlaPolicyError(field, f"must be a JSON object, got {_describe(value)}")
    for key in value:
        if key not in allowed:
            where = key if field == "(top level)" else f"{field}.{key}"
            raise SlaPolicyError(where, f"unknown field (expected one of {', '.join(allowed)})")
    return value


def _parse_hours(value: object, field: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SlaPolicyError(field, f"must be a number of hours, got {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise SlaPolicyError(field, f"must be a positive number of hours, got {value}")
    try:
        return timedelta(hours=value)
    except OverflowError:
        raise SlaPolicyError(field, f"is too large: {value}") from None


def _parse_targets(value: object) -> dict[str, Targets]:
    parsed: dict[str, Targets] = {}
    for priority, entry in _expect_object(value, "targets", PRIORITIES).items():
        field = f"targets.{priority}"
        fields = _expect_object(entry, field, _TARGET_FIELDS)
        for name in _TARGET_FIELDS:
            if name not in fields:
                raise SlaPolicyError(f"{field}.{name}", "is missing")
        first = _parse_hours(fields["first_contact_hours"], f"{field}.first_contact_hours")
        resolution = _parse_hours(fields["resolution_hours"], f"{field}.resolution_hours")
        if first > resolution:
            raise SlaPolicyError(
                f"{field}.first_contact_hours",
                f"({fields['first_contact_hours']}) must not exceed resolution_hours "
                f"({fields['resolution_hours']})",
            )
        parsed[priority] = Targets(first, resolution)
    return parsed


def _parse_wall_time(value: object, field: str, *, is_end: bool) -> time:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise SlaPolicyError(field, f"must be a \"HH:MM\" time, got {_describe(value)}")
    if value == "24:00":
        if not is_end:
            raise SlaPolicyError(field, "24:00 may only end an interval")
        return time(0)  # BusinessCalendar's spelling of 24:00
    if is_end and value == "00:00":
        raise SlaPolicyError(field, "an interval cannot end at 00:00; write 24:00 for midnight")
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def _parse_day(value: object, field: str) -> tuple[Interval, ...]:
    if not isinstance(value, list):
        raise SlaPolicyError(field, f"must be a list of [start, end] intervals, got {_describe(value)}")
    intervals: list[Interval] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, list) or len(item) != 2:
            raise SlaPolicyError(where, f"must be a [\"HH:MM\", \"HH:MM\"] pair, got {_describe(item)}")
        start = _parse_wall_time(item[0], where, is_end=False)
        end = _parse_wall_time(item[1], where, is_end=True)
        if _since_midnight(start, is_end=False) >= _since_midnight(end, is_end=True):
            raise SlaPolicyError(where, f"start {item[0]} must be before end {item[1]}")
        intervals.append((start, end))
    intervals.sort(key=lambda interval: _since_midnight(interval[0], is_end=False))
    try:
        _check_intervals(intervals)
    except ValueError as exc:
        raise SlaPolicyError(field, str(exc)) from None
    return tuple(intervals)


def _parse_weekly(value: object) -> dict[int, tuple[Interval, ...]]:
    days = _expect_object(value, "calendar", _DAY_NAMES)
    weekly: dict[int, tuple[Interval, ...]] = {}
    for weekday, name in enumerate(_DAY_NAMES):
        if name not in days:
            raise SlaPolicyError(f"calendar.{name}", "is missing (use [] for a closed day)")
        weekly[weekday] = _parse_day(days[name], f"calendar.{name}")
    return weekly


def _parse_holidays(value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise SlaPolicyError("holidays", f"must be a list of \"YYYY-MM-DD\" dates, got {_describe(value)}")
    holidays: set[date] = set()
    for index, item in enumerate(value):
        field = f"holidays[{index}]"
        if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
            raise SlaPolicyError(field, f"must be a \"YYYY-MM-DD\" date, got {_describe(item)}")
        try:
            holidays.add(date.fromisoformat(item))
        except ValueError:
            raise SlaPolicyError(field, f"is not a calendar date: {item}") from None
    return frozenset(holidays)
