"""ISO-8601 weeks ("2026-W48") in a time zone: parsing, bounds and neighbours. Pure.

A week runs from Monday 00:00 to the next Monday 00:00 local time, half-open. Bounds are
computed with zoneinfo per week, so a week holding a DST change lasts 167 or 169 real hours.
A local midnight that does not exist (clocks jumping at 00:00) is taken to be the instant of
the jump and an ambiguous one its first occurrence, as `triage.sla` does for wall-clock times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from triage.errors import BadRequest
from triage.timeutil import to_db

__all__ = ["IsoWeek", "WeekError", "last_complete_week", "weeks_in_year"]

# Years outside this range are almost certainly typos, and keeping away from date.min/max means
# neighbours and 12-week trends never overflow.
MIN_YEAR = 1900
MAX_YEAR = 9998

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
_WEEK = timedelta(days=7)


class WeekError(BadRequest, ValueError):
    """A week string is malformed or names a week that does not exist (HTTP 400 `invalid_week`)."""

    code = "invalid_week"


def weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always falls in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        if not MIN_YEAR - 1 <= self.year <= MAX_YEAR + 1:
            raise WeekError(f"year {self.year} is out of range")
        if not 1 <= self.week <= weeks_in_year(self.year):
            raise WeekError(
                f"{self.year:04d}-W{self.week:02d} does not exist: "
                f"{self.year} has {weeks_in_year(self.year)} ISO weeks"
            )

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`"2026-W48"` → IsoWeek(2026, 48); WeekError with a readable message otherwise."""
        match = _WEEK_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise WeekError(f"week must look like 2026-W48 (ISO year, 'W', two-digit week), got {text!r}")
        year, week = int(match[1]), int(match[2])
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise WeekError(f"{text}: year must be between {MIN_YEAR} and {MAX_YEAR}")
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime, zone: ZoneInfo) -> IsoWeek:
        """The week holding instant `moment` (aware) as seen in `zone`."""
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}")
        return cls.containing(moment.astimezone(zone).date())

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> IsoWeek:
        return IsoWeek.containing(self.monday - _WEEK)

    def next(self) -> IsoWeek:
        return IsoWeek.containing(self.monday + _WEEK)

    def minus(self, weeks: int) -> IsoWeek:
        return IsoWeek.containing(self.monday - weeks * _WEEK)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes in `zone`; end is the next week's start."""
        start = _local_midnight(self.monday, zone)
        end = _local_midnight(self.monday + _WEEK, zone)
        return start, end

    def db_bounds(self, zone: ZoneInfo) -> tuple[str, str]:
        """[start, end) in the stored UTC text form, for range filters on *_at columns."""
        start, end = self.bounds(zone)
        return to_db(start), to_db(end)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Round-trip through UTC so a non-existent midnight lands on the jump instant and the
    # returned datetime carries the offset actually in force.
    naive = datetime.combine(day, time(0))
    return naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def last_complete_week(now: datetime, zone: ZoneInfo) -> IsoWeek:
    """The most recent week that has ended by `now` (the week before the one holding `now`)."""
    return IsoWeek.of(now, zone).previous()
