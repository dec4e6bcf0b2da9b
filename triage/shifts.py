"""The shift calendar: which customer-service shift (白班, 夜班, ...) an instant belongs to. Pure.

A shift calendar divides every local day in the calendar's zone (``TRIAGE_TIMEZONE``) into named
shifts by wall-clock time, e.g. 白班 09:00–21:00 and 夜班 21:00–09:00. Together the shifts cover
the 24 hours exactly once: each one ends where the next begins. A shift whose end is not after its
start runs overnight (21:00–09:00 ends at 09:00 the next morning); a single shift may cover the
whole day (start = end).

An instant is mapped by its local wall-clock time in the zone: that is always defined, also
across daylight-saving changes (an hour repeated when clocks go back belongs, both times, to the
shift whose hours contain it; an hour skipped when they go forward simply has no instants). The
*shift day* of an overnight shift is the date it started on: 01:30 on 2 March is the 夜班 of
1 March.

The calendar lives in the SLA policy file (``"shifts"``, see `triage.sla`); `parse_shifts`
validates that part and raises ShiftCalendarError naming the bad field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_SHIFTS",
    "Shift",
    "ShiftCalendar",
    "ShiftCalendarError",
    "ShiftSlot",
    "default_shift_calendar",
    "parse_shifts",
    "shift_at",
    "shift_slot",
]

_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_MINUTES_PER_DAY = 24 * 60
_MAX_NAME = 32


class ShiftCalendarError(ValueError):
    """The ``shifts`` part of a policy is invalid; ``field`` names where."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Shift:
    """A named span of wall-clock minutes since local midnight; ``end <= start`` runs overnight."""

    name: str
    start: int  # minutes after 00:00
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        return (self.end - self.start) % _MINUTES_PER_DAY or _MINUTES_PER_DAY

    def label(self) -> str:
        """"白班 09:00–21:00"."""
        return f"{self.name} {_hhmm(self.start)}–{_hhmm(self.end)}"

    def contains(self, minute: int) -> bool:
        if self.overnight:
            return minute >= self.start or minute < self.end
        return self.start <= minute < self.end


@dataclass(frozen=True)
class ShiftSlot:
    """One occurrence of a shift: its name and the local date it started on."""

    name: str
    day: date


@dataclass(frozen=True)
class ShiftCalendar:
    timezone: str
    shifts: tuple[Shift, ...]

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        _check_partition(self.shifts)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.shifts)

    def get(self, name: str) -> Shift | None:
        return next((s for s in self.shifts if s.name == name), None)


DEFAULT_SHIFTS: tuple[Shift, ...] = (Shift("白班", 9 * 60, 21 * 60), Shift("夜班", 21 * 60, 9 * 60))


def default_shift_calendar(timezone: str) -> ShiftCalendar:
    return ShiftCalendar(timezone, DEFAULT_SHIFTS)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_partition(shifts: Sequence[Shift]) -> None:
    """The shifts cover each minute of the day exactly once (in any order)."""
    if not shifts:
        raise ValueError("at least one shift is needed")
    names = [s.name for s in shifts]
    if len(set(names)) != len(names):
        raise ValueError("shift names must be unique")
    ordered = sorted(shifts, key=lambda s: s.start)
    for here, after in zip(ordered, ordered[1:] + ordered[:1], strict=True):
        if here.end != after.start:
            raise ValueError(
                f"shift {here.label()} must end where the next one ({after.label()}) starts: "
                "together the shifts cover the 24 hours exactly once"
            )
    if sum(s.minutes for s in shifts) != _MINUTES_PER_DAY:
        raise ValueError("the shifts must cover the 24 hours exactly once")


def _local_minute(instant: datetime, zone: ZoneInfo) -> tuple[date, int]:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got naive {instant!r}")
    local = instant.astimezone(zone)
    return local.date(), local.hour * 60 + local.minute


def shift_slot(instant: datetime, calendar: ShiftCalendar) -> ShiftSlot:
    """The shift occurrence `instant` falls in (its name and the local date it started on)."""
    day, minute = _local_minute(instant, calendar.zone)
    for shift in calendar.shifts:
        if shift.contains(minute):
            started_yesterday = shift.overnight and minute < shift.start
            return ShiftSlot(shift.name, day - timedelta(days=1) if started_yesterday else day)
    raise AssertionError("unreachable: the shifts partition the day")


def shift_at(instant: datetime, calendar: ShiftCalendar) -> str:
    """The name of the shift `instant` falls in."""
    return shift_slot(instant, calendar).name


# --------------------------------------------------------------------------------------------
# The policy file's "shifts" field


def _parse_time(value: object, field: str) -> int:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise ShiftCalendarError(field, f"must be a \"HH:MM\" time (00:00-23:59), got {value!r}")
    hour, minute = value.split(":")
    return int(hour) * 60 + int(minute)


def parse_shifts(value: object, timezone: str) -> ShiftCalendar:
    """``[{"name": "白班", "start": "09:00", "end": "21:00"}, ...]`` → a ShiftCalendar."""
    if not isinstance(value, list) or not value:
        raise ShiftCalendarError("shifts", "must be a non-empty list of {\"name\", \"start\", \"end\"} objects")
    shifts = []
    for index, item in enumerate(value):
        field = f"shifts[{index}]"
        if not isinstance(item, dict):
            raise ShiftCalendarError(field, "must be an object with name, start and end")
        unknown = sorted(set(item) - {"name", "start", "end"})
        if unknown:
            raise ShiftCalendarError(f"{field}.{unknown[0]}", "unknown field (expected name, start, end)")
        for key in ("name", "start", "end"):
            if key not in item:
                raise ShiftCalendarError(f"{field}.{key}", "is missing")
        name = item["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME or name != name.strip():
            raise ShiftCalendarError(f"{field}.name", f"must be a non-blank name of at most {_MAX_NAME} characters")
        shifts.append(Shift(name, _parse_time(item["start"], f"{field}.start"),
                            _parse_time(item["end"], f"{field}.end")))
    try:
        return ShiftCalendar(timezone, tuple(shifts))
    except ValueError as exc:
        raise ShiftCalendarError("shifts", str(exc)) from None
