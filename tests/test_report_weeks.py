"""ISO weeks in the report's zone: parsing, bounds and neighbours across year ends.

ISO-8601 facts used below: a year has 53 weeks when it starts on a Thursday (or is a leap year
starting on a Wednesday). 2020 and 2026 have 53 weeks; 2025 and 2027 have 52. So 2026-W53
exists (28 Dec 2026 - 3 Jan 2027) and 2027-W01 follows it, while 2025-W53 and 2027-W53 do not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from triage.errors import BadRequest
from triage.reports.weeks import IsoWeek, WeekError, last_complete_week, weeks_in_year

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "year", "week"),
    [("2026-W48", 2026, 48), ("2026-W01", 2026, 1), ("2020-W53", 2020, 53), ("2026-W53", 2026, 53)],
)
def test_parse_accepts_existing_weeks(text, year, week):
    assert IsoWeek.parse(text) == IsoWeek(year, week)


@pytest.mark.parametrize("text", ["2026-W48", "2020-W53", "2027-W01"])
def test_str_round_trips(text):
    assert str(IsoWeek.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2025-W53", "2025 has 52 ISO weeks"),
        ("2027-W53", "2027 has 52 ISO weeks"),
        ("2026-W54", "2026 has 53 ISO weeks"),
        ("2026-W00", "does not exist"),
        ("2026-W1", "2026-W48"),
        ("2026W48", "2026-W48"),
        ("2026-w48", "2026-W48"),
        ("26-W48", "2026-W48"),
        (" 2026-W48", "2026-W48"),
        ("", "2026-W48"),
        ("1899-W10", "between"),
    ],
)
def test_parse_rejects_with_a_message_naming_the_problem(text, says):
    with pytest.raises(WeekError, match=says):
        IsoWeek.parse(text)


def test_week_error_is_a_400_domain_error_named_invalid_week():
    error = WeekError("x")
    assert isinstance(error, BadRequest)
    assert error.to_dict() == {"error": "invalid_week", "message": "x"}


@pytest.mark.parametrize(("year", "weeks"), [(2020, 53), (2025, 52), (2026, 53), (2027, 52), (2032, 53)])
def test_weeks_in_year(year, weeks):
    assert weeks_in_year(year) == weeks


@pytest.mark.parametrize(
    ("week", "previous"),
    [
        ("2026-W01", "2025-W52"),
        ("2027-W01", "2026-W53"),
        ("2026-W53", "2026-W52"),
        ("2021-W01", "2020-W53"),
        ("2026-W48", "2026-W47"),
    ],
)
def test_previous_and_next_cross_year_ends(week, previous):
    assert str(IsoWeek.parse(week).previous()) == previous
    assert str(IsoWeek.parse(previous).next()) == week


def test_minus_counts_back_through_a_53_week_year():
    # W01, 2026-W53, W52 ... : eleven weeks back from 2027-W02 is 2026-W44, not W43.
    assert str(IsoWeek.parse("2027-W02").minus(11)) == "2026-W44"


@pytest.mark.parametrize(
    ("week", "start", "end"),
    [
        ("2026-W48", "2026-11-23T00:00:00+08:00", "2026-11-30T00:00:00+08:00"),
        # ISO week 1 of 2026 starts in 2025; week 53 of 2026 ends in 2027.
        ("2026-W01", "2025-12-29T00:00:00+08:00", "2026-01-05T00:00:00+08:00"),
        ("2026-W53", "2026-12-28T00:00:00+08:00", "2027-01-04T00:00:00+08:00"),
    ],
)
def test_bounds_are_local_monday_midnights(week, start, end):
    lo, hi = IsoWeek.parse(week).bounds(SHANGHAI)
    assert (lo.isoformat(), hi.isoformat()) == (start, end)


def test_db_bounds_are_the_stored_utc_form():
    assert IsoWeek.parse("2026-W48").db_bounds(SHANGHAI) == (
        "2026-11-22T16:00:00.000000+00:00",
        "2026-11-29T16:00:00.000000+00:00",
    )


def test_a_week_with_a_dst_change_is_an_hour_short():
    # Europe/Berlin springs forward on Sunday 29 March 2026 (2026-W13).
    lo, hi = IsoWeek.parse("2026-W13").bounds(BERLIN)
    assert (hi.astimezone(UTC) - lo.astimezone(UTC)).total_seconds() == 167 * 3600
    assert (lo.utcoffset().total_seconds(), hi.utcoffset().total_seconds()) == (3600, 7200)


@pytest.mark.parametrize(
    ("instant", "week"),
    [
        ("2026-11-29T15:59:59+00:00", "2026-W48"),  # Sunday 23:59:59 in Shanghai
        ("2026-11-29T16:00:00+00:00", "2026-W49"),  # Monday 00:00 in Shanghai
        ("2027-01-03T23:59:59+08:00", "2026-W53"),
        ("2027-01-04T00:00:00+08:00", "2027-W01"),
    ],
)
def test_of_uses_the_local_calendar(instant, week):
    assert str(IsoWeek.of(datetime.fromisoformat(instant), SHANGHAI)) == week


@pytest.mark.parametrize(
    ("now", "week"),
    [
        ("2026-11-30T09:00:00+08:00", "2026-W48"),  # Monday morning: last week just ended
        ("2026-11-29T23:59:59+08:00", "2026-W47"),  # Sunday night: W48 is still running
        ("2027-01-04T00:00:00+08:00", "2026-W53"),
        ("2026-01-05T08:00:00+08:00", "2026-W01"),
    ],
)
def test_last_complete_week(now, week):
    assert str(last_complete_week(datetime.fromisoformat(now), SHANGHAI)) == week


def test_of_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="naive"):
        IsoWeek.of(datetime(2026, 11, 30), SHANGHAI)


def test_monday_is_the_iso_monday():
    assert IsoWeek.parse("2026-W01").monday == date(2025, 12, 29)
    assert IsoWeek.of(datetime(2026, 1, 1, tzinfo=UTC), SHANGHAI) == IsoWeek(2026, 1)
