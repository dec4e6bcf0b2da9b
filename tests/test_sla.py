"""Specification of triage.sla: business-hours SLA clocks and the policy file.

Reference week (2026): Monday 1 June .. Sunday 7 June. National Day holidays: 1-7 October.
Unless a test says otherwise, times are in Asia/Shanghai and the calendar is the default one
(every day 09:00-22:00).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from triage.sla import (
    BusinessCalendar,
    SlaPolicy,
    SlaPolicyError,
    Targets,
    add_business_time,
    business_time_between,
    clock_state,
    default_policy,
    due_at,
    elapsed,
    load_policy,
    next_transition,
    parse_policy,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
TICK = timedelta(microseconds=1)
MIDNIGHT_END = time(0)  # as an interval end: 24:00

DAILY = default_policy().calendar
OFFICE = BusinessCalendar("Asia/Shanghai", {day: ((time(9), time(18)),) for day in range(5)})
OFFICE_WITH_LUNCH = BusinessCalendar(
    "Asia/Shanghai", {day: ((time(9), time(12)), (time(13), time(18))) for day in range(5)}
)
GOLDEN_WEEK = frozenset(date(2026, 10, day) for day in range(1, 8))
DAILY_GOLDEN_WEEK = BusinessCalendar("Asia/Shanghai", DAILY.weekly, GOLDEN_WEEK)


def sh(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A 2026 wall-clock time in Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def all_day(zone: str) -> BusinessCalendar:
    return BusinessCalendar(zone, {day: ((time(0), MIDNIGHT_END),) for day in range(7)})


def every_day(zone: str, opening: time, closing: time) -> BusinessCalendar:
    return BusinessCalendar(zone, {day: ((opening, closing),) for day in range(7)})


# --------------------------------------------------------------------------------------------
# add_business_time


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(sh(6, 1, 10), 2 * H, sh(6, 1, 12), id="inside-hours"),
        pytest.param(sh(6, 1, 7), 2 * H, sh(6, 1, 11), id="before-opening-starts-at-opening"),
        pytest.param(sh(6, 1, 23), 2 * H, sh(6, 2, 11), id="after-closing-starts-next-morning"),
        pytest.param(sh(6, 2, 1), 2 * H, sh(6, 2, 11), id="after-midnight-starts-same-morning"),
        pytest.param(sh(6, 1, 9), 2 * H, sh(6, 1, 11), id="exactly-at-opening"),
        pytest.param(sh(6, 1, 22), 2 * H, sh(6, 2, 11), id="exactly-at-closing"),
        pytest.param(sh(6, 1, 21), 2 * H, sh(6, 2, 10), id="runs-over-the-night"),
        pytest.param(sh(6, 1, 20), 2 * H, sh(6, 1, 22), id="ends-exactly-at-closing-not-next-opening"),
        pytest.param(sh(6, 1, 9), 24 * H, sh(6, 2, 20), id="spans-two-days"),
        pytest.param(sh(6, 1, 23), 72 * H, sh(6, 7, 16), id="72h-from-late-evening"),
        pytest.param(sh(6, 1, 10, 15), 30 * MIN, sh(6, 1, 10, 45), id="minutes"),
    ],
)
def test_add_business_time_on_the_daily_calendar(start, duration, expected):
    assert add_business_time(start, duration, DAILY) == expected


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        pytest.param(sh(6, 5, 17), 2 * H, sh(6, 8, 10), id="friday-evening-skips-weekend"),
        pytest.param(sh(6, 6, 12), 1 * H, sh(6, 8, 10), id="saturday-start-waits-for-monday"),
        pytest.param(sh(6, 5, 18), 8 * H, sh(6, 8, 17), id="friday-closing"),
        pytest.param(sh(6, 1, 9), 45 * H, sh(6, 5, 18), id="whole-week-ends-friday-closing"),
        pytest.param(sh(6, 1, 9), 46 * H, sh(6, 8, 10), id="one-hour-past-a-week"),
    ],
)
def test_add_business_time_skips_weekends(start, duration, expected):
    assert add_business_time(start, duration, OFFICE) == expected


def test_add_business_time_skips_gaps_between_intervals_of_a_day():
    assert add_business_time(sh(6, 1, 11, 30), 2 * H, OFFICE_WITH_LUNCH) == sh(6, 1, 14, 30)


def test_add_business_time_skips_holidays():
    assert add_business_time(sh(9, 30, 21), 2 * H, DAILY_GOLDEN_WEEK) == sh(10, 8, 10)


def test_add_business_time_over_weeks_with_weekends_and_holidays():
    # Mon 28 Sep - Wed 30 Sep: 27 h; 1-7 Oct holidays (and a weekend); 8-9 Oct: 18 h;
    # 12-16 Oct also holidays; 19-21 Oct: the last 27 h.
    holidays = GOLDEN_WEEK | {date(2026, 10, day) for day in range(12, 17)}
    calendar = BusinessCalendar("Asia/Shanghai", OFFICE.weekly, holidays)
    assert add_business_time(sh(9, 28, 9), 72 * H, calendar) == sh(10, 21, 18)


@pytest.mark.parametrize("days", [1, 30, 1000])
def test_add_business_time_whole_days_end_at_the_last_closing(days):
    assert add_business_time(sh(6, 1, 9), days * 13 * H, DAILY) == sh(6, 1, 22) + (days - 1) * 24 * H


def test_add_business_time_zero_duration_is_start_even_outside_hours():
    assert add_business_time(sh(6, 1, 23), timedelta(0), DAILY) == sh(6, 1, 23)


def test_add_business_time_rejects_negative_duration():
    with pytest.raises(ValueError, match="negative"):
        add_business_time(sh(6, 1, 10), -H, DAILY)


def test_add_business_time_returns_utc():
    result = add_business_time(sh(6, 1, 10), H, DAILY)
    assert result.tzinfo is UTC
    assert result == utc(6, 1, 3)


def test_add_business_time_does_not_depend_on_the_zone_of_the_input():
    same_instant_in_new_york = sh(6, 1, 23).astimezone(NEW_YORK)
    assert add_business_time(same_instant_in_new_york, 2 * H, DAILY) == sh(6, 2, 11)


# --------------------------------------------------------------------------------------------
# business_time_between


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        pytest.param(DAILY, sh(6, 1, 10), sh(6, 1, 12), 2 * H, id="inside-one-interval"),
        pytest.param(DAILY, sh(6, 1, 21), sh(6, 2, 10), 2 * H, id="over-the-night"),
        pytest.param(DAILY, sh(6, 1, 22), sh(6, 2, 9), timedelta(0), id="whole-night-is-closed"),
        pytest.param(DAILY, sh(6, 1, 0), sh(6, 8, 0), 7 * 13 * H, id="daily-week"),
        pytest.param(OFFICE, sh(6, 1, 0), sh(6, 8, 0), 5 * 9 * H, id="office-week"),
        pytest.param(OFFICE_WITH_LUNCH, sh(6, 1, 0), sh(6, 8, 0), 5 * 8 * H, id="office-week-with-lunch"),
        pytest.param(OFFICE, sh(6, 5, 17), sh(6, 8, 10), 2 * H, id="over-a-weekend"),
        pytest.param(OFFICE, sh(6, 6, 9), sh(6, 7, 18), timedelta(0), id="weekend-only"),
        pytest.param(DAILY_GOLDEN_WEEK, sh(9, 30, 21), sh(10, 8, 10), 2 * H, id="over-holidays"),
        pytest.param(DAILY, sh(6, 1, 12), sh(6, 1, 12), timedelta(0), id="empty-span"),
        pytest.param(DAILY, sh(6, 2, 12), sh(6, 1, 12), timedelta(0), id="end-before-start"),
    ],
)
def test_business_time_between(calendar, start, end, expected):
    assert business_time_between(start, end, calendar) == expected


@pytest.mark.parametrize("calendar", [DAILY, OFFICE_WITH_LUNCH, DAILY_GOLDEN_WEEK], ids=["daily", "lunch", "holidays"])
@pytest.mark.parametrize(
    "start", [sh(6, 1, 9), sh(6, 1, 11, 59), sh(6, 1, 12), sh(6, 1, 22), sh(6, 6, 3), sh(9, 30, 20)]
)
@pytest.mark.parametrize("duration", [TICK, 47 * MIN, 3 * H, 40 * H])
def test_add_business_time_is_the_earliest_instant_with_that_much_business_time(calendar, start, duration):
    result = add_business_time(start, duration, calendar)
    assert business_time_between(start, result, calendar) == duration
    assert business_time_between(start, result - TICK, calendar) < duration


# --------------------------------------------------------------------------------------------
# Daylight saving time


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        pytest.param("Asia/Shanghai", date(2026, 3, 29), 24 * H, id="shanghai-has-no-dst"),
        pytest.param("Asia/Shanghai", date(2026, 11, 1), 24 * H, id="shanghai-has-no-dst-autumn"),
        pytest.param("Europe/Berlin", date(2026, 6, 1), 24 * H, id="berlin-ordinary-day"),
        pytest.param("Europe/Berlin", date(2026, 3, 29), 23 * H, id="berlin-clocks-go-forward"),
        pytest.param("Europe/Berlin", date(2026, 10, 25), 25 * H, id="berlin-clocks-go-back"),
        pytest.param("America/New_York", date(2026, 3, 8), 23 * H, id="new-york-clocks-go-forward"),
        pytest.param("America/New_York", date(2026, 11, 1), 25 * H, id="new-york-clocks-go-back"),
    ],
)
def test_a_00_to_24_business_day_lasts_as_many_real_hours_as_the_local_day(zone, day, expected):
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    assert business_time_between(start, end, all_day(zone)) == expected


def test_all_day_calendar_counts_real_hours_across_the_spring_forward_night():
    saturday_noon = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    assert add_business_time(saturday_noon, 24 * H, all_day("Europe/Berlin")) == datetime(
        2026, 3, 29, 13, tzinfo=BERLIN
    )


@pytest.mark.parametrize(
    ("saturday", "expected_utc"),
    [
        pytest.param(datetime(2026, 3, 28, 17, tzinfo=BERLIN), utc(3, 29, 8), id="into-summer-time"),
        pytest.param(datetime(2026, 10, 24, 17, tzinfo=BERLIN), utc(10, 25, 9), id="into-winter-time"),
    ],
)
def test_opening_hours_follow_the_local_wall_clock_after_a_dst_change(saturday, expected_utc):
    # One hour before Saturday's closing, plus two: Sunday 10:00 local, whatever the offset.
    calendar = every_day("Europe/Berlin", time(9), time(18))
    assert add_business_time(saturday, 2 * H, calendar) == expected_utc


def test_new_york_opening_hours_after_clocks_go_forward():
    calendar = every_day("America/New_York", time(9), time(22))
    saturday = datetime(2026, 3, 7, 9, tzinfo=NEW_YORK)
    assert add_business_time(saturday, 14 * H, calendar) == datetime(2026, 3, 8, 10, tzinfo=NEW_YORK)
    assert add_business_time(saturday, 14 * H, calendar) == utc(3, 8, 14)


@pytest.mark.parametrize(
    ("sunday", "expected"),
    [
        pytest.param(date(2026, 3, 22), 90 * MIN, id="ordinary-sunday"),
        # 02:30 never shows on the clock: the shop opens when the clock jumps 02:00 -> 03:00.
        pytest.param(date(2026, 3, 29), 60 * MIN, id="opening-time-skipped"),
        # 02:30 shows twice: the shop opens at the first 02:30 (CEST) and closes at 04:00 CET.
        pytest.param(date(2026, 10, 25), 150 * MIN, id="opening-time-repeated"),
    ],
)
def test_opening_at_a_wall_time_skipped_or_repeated_by_dst(sunday, expected):
    calendar = BusinessCalendar("Europe/Berlin", {6: ((time(2, 30), time(4)),)})
    start = datetime.combine(sunday, time(0), BERLIN)
    assert business_time_between(start, start + 24 * H, calendar) == expected


# --------------------------------------------------------------------------------------------
# due_at: start Monday 10:00 with a 2 h target is due at 12:00 when nothing pauses it


@pytest.mark.parametrize(
    ("pauses", "expected"),
    [
        pytest.param([], sh(6, 1, 12), id="no-pauses"),
        pytest.param([(sh(6, 1, 10, 30), sh(6, 1, 11))], sh(6, 1, 12, 30), id="pause-in-hours-shifts-due"),
        pytest.param([(sh(6, 1, 10), sh(6, 1, 11))], sh(6, 1, 13), id="pause-from-the-start"),
        pytest.param([(sh(6, 1, 9), sh(6, 1, 10, 30))], sh(6, 1, 12, 30), id="pause-straddling-start"),
        pytest.param([(sh(5, 31, 10), sh(5, 31, 12))], sh(6, 1, 12), id="pause-before-start-ignored"),
        pytest.param([(sh(6, 1, 11), sh(6, 1, 11))], sh(6, 1, 12), id="zero-length-pause-ignored"),
        pytest.param([(sh(6, 1, 12, 30), sh(6, 1, 13))], sh(6, 1, 12), id="pause-after-due-ignored"),
        pytest.param(
            [(sh(6, 1, 10, 30), sh(6, 1, 11)), (sh(6, 1, 10, 45), sh(6, 1, 11, 15))],
            sh(6, 1, 12, 45),
            id="overlapping-pauses-count-once",
        ),
        pytest.param(
            [(sh(6, 1, 10, 30), sh(6, 1, 11, 30)), (sh(6, 1, 10, 45), sh(6, 1, 11))],
            sh(6, 1, 13),
            id="pause-inside-another-pause",
        ),
        pytest.param(
            [(sh(6, 1, 11, 30), sh(6, 1, 11, 40)), (sh(6, 1, 10, 30), sh(6, 1, 10, 40))],
            sh(6, 1, 12, 20),
            id="pauses-in-any-order",
        ),
        pytest.param([(sh(6, 1, 11), None)], None, id="open-pause-means-unknown"),
        pytest.param([(sh(6, 1, 10, 30), sh(6, 1, 11)), (sh(6, 1, 11), None)], None, id="open-pause-after-closed"),
        pytest.param(
            [(sh(6, 1, 11), None), (sh(6, 2, 10), sh(6, 2, 11))], None, id="closed-pause-after-open-changes-nothing"
        ),
        pytest.param([(sh(6, 1, 12), None)], sh(6, 1, 12), id="open-pause-starting-at-due"),
        pytest.param([(sh(6, 1, 13), None)], sh(6, 1, 12), id="open-pause-after-due-keeps-due"),
    ],
)
def test_due_at_with_pauses(pauses, expected):
    assert due_at(sh(6, 1, 10), 2 * H, DAILY, pauses) == expected


def test_due_at_ignores_pauses_outside_business_hours():
    pauses = [(sh(6, 1, 22, 30), sh(6, 2, 8))]
    assert due_at(sh(6, 1, 21), 2 * H, DAILY, pauses) == sh(6, 2, 10)


def test_pause_spanning_the_night_only_removes_its_business_hours():
    # Without the pause: Tue 10:00. The pause holds 1 h on Monday and 30 min on Tuesday.
    pauses = [(sh(6, 1, 21), sh(6, 2, 9, 30))]
    assert due_at(sh(6, 1, 20), 3 * H, DAILY, pauses) == sh(6, 2, 11, 30)


def test_due_at_without_pauses_matches_add_business_time():
    assert due_at(sh(6, 5, 17), 8 * H, OFFICE, []) == add_business_time(sh(6, 5, 17), 8 * H, OFFICE)


def test_due_at_zero_target_is_start():
    assert due_at(sh(6, 1, 23), timedelta(0), DAILY, []) == sh(6, 1, 23)


def test_due_at_returns_utc():
    assert due_at(sh(6, 1, 10), 2 * H, DAILY, []).tzinfo is UTC


def test_pause_resuming_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match="resumes"):
        due_at(sh(6, 1, 10), 2 * H, DAILY, [(sh(6, 1, 11), sh(6, 1, 10, 30))])


# --------------------------------------------------------------------------------------------
# elapsed


@pytest.mark.parametrize(
    ("start", "now", "pauses", "expected"),
    [
        pytest.param(sh(6, 1, 10), sh(6, 1, 11), [], H, id="inside-hours"),
        pytest.param(sh(6, 1, 21), sh(6, 2, 10), [], 2 * H, id="over-the-night"),
        pytest.param(sh(6, 1, 10), sh(6, 1, 9), [], timedelta(0), id="now-before-start"),
        pytest.param(sh(6, 1, 10), sh(6, 1, 12), [(sh(6, 1, 10, 30), sh(6, 1, 11))], 90 * MIN, id="closed-pause"),
        pytest.param(sh(6, 1, 10), sh(6, 1, 11), [(sh(6, 1, 10, 30), sh(6, 1, 11, 30))], 30 * MIN, id="now-in-pause"),
        pytest.param(sh(6, 1, 10), sh(6, 2, 15), [(sh(6, 1, 10, 30), None)], 30 * MIN, id="open-pause-freezes"),
        pytest.param(sh(6, 1, 10), sh(6, 1, 11), [(sh(6, 1, 12), None)], H, id="later-pause-not-yet-effective"),
        pytest.param(
            sh(6, 1, 20), sh(6, 2, 10), [(sh(6, 1, 21), sh(6, 2, 9, 30))], 90 * MIN, id="pause-over-the-night"
        ),
        pytest.param(sh(6, 1, 10), sh(6, 1, 12), [(sh(6, 1, 11), sh(6, 1, 11))], 2 * H, id="zero-length-pause"),
        pytest.param(
            sh(6, 1, 10),
            sh(6, 1, 12),
            [(sh(6, 1, 10, 30), sh(6, 1, 11, 30)), (sh(6, 1, 10, 45), sh(6, 1, 11))],
            H,
            id="pause-inside-another-pause",
        ),
    ],
)
def test_elapsed(start, now, pauses, expected):
    assert elapsed(start, now, DAILY, pauses) == expected


# --------------------------------------------------------------------------------------------
# clock_state: start Monday 10:00, target 4 h -> at risk from 13:00 (75 %), due 14:00

START = sh(6, 1, 10)
TARGET = 4 * H


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(sh(6, 1, 9), "ok", id="before-start"),
        pytest.param(sh(6, 1, 10), "ok", id="at-start"),
        pytest.param(sh(6, 1, 12, 59), "ok", id="just-under-75-percent"),
        pytest.param(sh(6, 1, 13), "at_risk", id="exactly-75-percent"),
        pytest.param(sh(6, 1, 13, 59), "at_risk", id="just-before-due"),
        pytest.param(sh(6, 1, 14), "breached", id="exactly-due"),
        pytest.param(sh(6, 3, 10), "breached", id="long-after-due"),
    ],
)
def test_clock_state_of_an_undone_clock(now, expected):
    assert clock_state(START, TARGET, None, now, DAILY, []) == expected


@pytest.mark.parametrize(
    ("done_at", "now", "expected"),
    [
        pytest.param(sh(6, 1, 11), sh(6, 1, 12), "met", id="done-early"),
        pytest.param(sh(6, 1, 13, 30), sh(6, 3, 10), "met", id="done-while-at-risk-stays-met"),
        pytest.param(sh(6, 1, 14), sh(6, 1, 15), "met", id="done-exactly-at-due"),
        pytest.param(sh(6, 1, 14, 1), sh(6, 1, 15), "breached", id="done-late-stays-breached"),
        pytest.param(sh(6, 1, 15), sh(6, 1, 13, 30), "at_risk", id="done-in-the-future-is-not-done-yet"),
    ],
)
def test_clock_state_of_a_done_clock(done_at, now, expected):
    assert clock_state(START, TARGET, done_at, now, DAILY, []) == expected


def test_done_after_closing_when_due_at_closing_is_breached():
    # Business time used is exactly the target at 23:00, but the clock ran out at 22:00.
    start = sh(6, 1, 18)
    assert clock_state(start, TARGET, sh(6, 1, 23), sh(6, 2, 9), DAILY, []) == "breached"


@pytest.mark.parametrize(
    ("pauses", "now", "expected"),
    [
        pytest.param([(sh(6, 1, 10), sh(6, 1, 11))], sh(6, 1, 13, 30), "ok", id="closed-pause-delays-risk"),
        pytest.param([(sh(6, 1, 10), sh(6, 1, 11))], sh(6, 1, 14), "at_risk", id="closed-pause-delays-breach"),
        pytest.param([(sh(6, 1, 11), None)], sh(6, 5, 12), "ok", id="open-pause-freezes-ok"),
        pytest.param([(sh(6, 1, 13, 30), None)], sh(6, 5, 12), "at_risk", id="open-pause-freezes-at-risk"),
        pytest.param([(sh(6, 1, 15), None)], sh(6, 5, 12), "breached", id="pause-after-breach-stays-breached"),
    ],
)
def test_clock_state_with_pauses(pauses, now, expected):
    assert clock_state(START, TARGET, None, now, DAILY, pauses) == expected


@pytest.mark.parametrize(
    ("pause_start", "expected"),
    [
        pytest.param(sh(6, 1, 11), "met", id="paused-before-due"),
        pytest.param(sh(6, 1, 15), "breached", id="paused-after-due"),
    ],
)
def test_clock_state_done_while_paused(pause_start, expected):
    done_at = sh(6, 2, 12)
    state = clock_state(START, TARGET, done_at, sh(6, 2, 13), DAILY, [(pause_start, None)])
    assert state == expected


def test_clock_state_uses_the_given_at_risk_fraction():
    assert clock_state(START, TARGET, None, sh(6, 1, 12), DAILY, [], at_risk_fraction=0.5) == "at_risk"
    assert clock_state(START, TARGET, None, sh(6, 1, 11, 59), DAILY, [], at_risk_fraction=0.5) == "ok"


def test_clock_state_with_fraction_one_goes_straight_from_ok_to_breached():
    assert clock_state(START, TARGET, None, sh(6, 1, 13, 59), DAILY, [], at_risk_fraction=1) == "ok"
    assert clock_state(START, TARGET, None, sh(6, 1, 14), DAILY, [], at_risk_fraction=1) == "breached"


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5, True])
def test_clock_state_rejects_a_bad_at_risk_fraction(fraction):
    with pytest.raises(ValueError, match="at_risk_fraction"):
        clock_state(START, TARGET, None, sh(6, 1, 12), DAILY, [], at_risk_fraction=fraction)


# --------------------------------------------------------------------------------------------
# next_transition


@pytest.mark.parametrize(
    ("now", "pauses", "expected"),
    [
        pytest.param(sh(6, 1, 10, 30), [], sh(6, 1, 13), id="ok-becomes-at-risk"),
        pytest.param(sh(6, 1, 9), [], sh(6, 1, 13), id="before-start"),
        pytest.param(sh(6, 1, 13), [], sh(6, 1, 14), id="at-risk-since-now-becomes-breached"),
        pytest.param(sh(6, 1, 13, 15), [], sh(6, 1, 14), id="at-risk-becomes-breached"),
        pytest.param(sh(6, 1, 14), [], None, id="already-breached"),
        pytest.param(sh(6, 1, 12), [(sh(6, 1, 11), None)], None, id="open-pause"),
        pytest.param(sh(6, 1, 13, 30), [(sh(6, 1, 13, 15), None)], None, id="open-pause-while-at-risk"),
        # 1 h used by 11:00; the remaining 2 h to at-risk run after Tuesday's 10:00 resume.
        pytest.param(sh(6, 1, 12), [(sh(6, 1, 11), sh(6, 2, 10))], sh(6, 2, 12), id="inside-closed-pause"),
    ],
)
def test_next_transition(now, pauses, expected):
    assert next_transition(START, TARGET, now, DAILY, pauses, 0.75) == expected


def test_next_transition_runs_over_the_night():
    start = sh(6, 1, 20)
    assert next_transition(start, TARGET, sh(6, 1, 21), DAILY, [], 0.75) == sh(6, 2, 10)
    assert next_transition(start, TARGET, sh(6, 2, 10), DAILY, [], 0.75) == sh(6, 2, 11)


def test_next_transition_with_fraction_one_is_the_due_time():
    assert next_transition(START, TARGET, sh(6, 1, 10, 30), DAILY, [], 1.0) == sh(6, 1, 14)


@pytest.mark.parametrize(
    "pauses",
    [[], [(sh(6, 1, 19), sh(6, 1, 19, 30))], [(sh(6, 1, 21), sh(6, 2, 9, 30))]],
    ids=["no-pause", "short-pause", "overnight-pause"],
)
@pytest.mark.parametrize(
    "now", [sh(6, 1, 18), sh(6, 1, 19, 15), sh(6, 1, 21, 30), sh(6, 2, 9, 45), sh(6, 2, 10, 45)]
)
def test_state_changes_exactly_at_next_transition(pauses, now):
    start, target = sh(6, 1, 18), 6 * H
    current = clock_state(start, target, None, now, DAILY, pauses)
    transition = next_transition(start, target, now, DAILY, pauses, 0.75)
    assert transition is not None and transition > now
    assert clock_state(start, target, None, transition - TICK, DAILY, pauses) == current
    assert clock_state(start, target, None, transition, DAILY, pauses) != current


# --------------------------------------------------------------------------------------------
# Input validation

NAIVE = datetime(2026, 6, 1, 10)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: add_business_time(NAIVE, H, DAILY), id="add_business_time"),
        pytest.param(lambda: business_time_between(NAIVE, sh(6, 1, 12), DAILY), id="between-start"),
        pytest.param(lambda: business_time_between(sh(6, 1, 10), NAIVE, DAILY), id="between-end"),
        pytest.param(lambda: due_at(NAIVE, H, DAILY, []), id="due_at-start"),
        pytest.param(lambda: due_at(sh(6, 1, 10), H, DAILY, [(NAIVE, None)]), id="due_at-pause"),
        pytest.param(lambda: due_at(sh(6, 1, 9), H, DAILY, [(sh(6, 1, 9), NAIVE)]), id="due_at-resume"),
        pytest.param(lambda: elapsed(sh(6, 1, 10), NAIVE, DAILY, []), id="elapsed-now"),
        pytest.param(lambda: clock_state(START, H, NAIVE, sh(6, 1, 12), DAILY, []), id="clock_state-done"),
        pytest.param(lambda: clock_state(START, H, None, NAIVE, DAILY, []), id="clock_state-now"),
        pytest.param(lambda: next_transition(START, H, NAIVE, DAILY, [], 0.75), id="next_transition-now"),
    ],
)
def test_naive_datetimes_are_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: due_at(START, -H, DAILY, []), id="due_at"),
        pytest.param(lambda: clock_state(START, -H, None, START, DAILY, []), id="clock_state"),
        pytest.param(lambda: next_transition(START, -H, START, DAILY, [], 0.75), id="next_transition"),
    ],
)
def test_negative_targets_are_rejected(call):
    with pytest.raises(ValueError, match="negative"):
        call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "unknown time zone", id="unknown-zone"),
        pytest.param({"weekly": {7: ((time(9), time(18)),)}}, "weekday", id="weekday-out-of-range"),
        pytest.param({"weekly": {0: ((time(18), time(9)),)}}, "start before it ends", id="reversed"),
        pytest.param({"weekly": {0: ((time(9), time(9)),)}}, "start before it ends", id="empty-interval"),
        pytest.param(
            {"weekly": {0: ((time(9), time(13)), (time(12), time(18)))}}, "overlaps", id="overlapping"
        ),
        pytest.param({"weekly": {0: (), 6: ()}}, "no business hours", id="never-open"),
        pytest.param(
            {"weekly": {0: ((time(9, tzinfo=UTC), time(18)),)}}, "wall-clock", id="aware-interval-time"
        ),
        pytest.param({"holidays": frozenset({datetime(2026, 10, 1)})}, "dates", id="datetime-holiday"),
    ],
)
def test_business_calendar_rejects_invalid_definitions(kwargs, message):
    arguments = {"timezone": "Asia/Shanghai", "weekly": OFFICE.weekly, "holidays": frozenset()} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**arguments)


def test_business_calendar_accepts_touching_intervals_and_a_midnight_end():
    calendar = BusinessCalendar("Asia/Shanghai", {0: ((time(0), time(12)), (time(12), MIDNIGHT_END))})
    assert business_time_between(sh(6, 1), sh(6, 2), calendar) == 24 * H


@pytest.mark.parametrize(
    ("first_contact", "resolution", "message"),
    [
        pytest.param(timedelta(0), H, "positive", id="zero"),
        pytest.param(-H, H, "positive", id="negative"),
        pytest.param(3 * H, 2 * H, "must not exceed", id="first-contact-after-resolution"),
    ],
)
def test_targets_reject_invalid_durations(first_contact, resolution, message):
    with pytest.raises(ValueError, match=message):
        Targets(first_contact, resolution)


# --------------------------------------------------------------------------------------------
# Policy


@pytest.mark.parametrize(
    ("priority", "first_contact", "resolution"),
    [("P1", 1 * H, 24 * H), ("P2", 4 * H, 48 * H), ("P3", 8 * H, 48 * H)],
)
def test_default_targets(priority, first_contact, resolution):
    assert default_policy().targets[priority] == Targets(first_contact, resolution)


def test_by_default_first_contact_counts_business_hours_and_resolution_the_wall_clock():
    policy = default_policy()
    assert policy.clocks == {"first_contact": "business", "resolution": "wall"}
    assert policy.calendar_for("first_contact") == policy.calendar
    assert policy.calendar_for("resolution").weekly == {day: ((time(0), time(0)),) for day in range(7)}


def test_every_complaint_is_due_for_resolution_within_48_wall_clock_hours():
    policy = default_policy()
    friday_late = datetime(2026, 11, 27, 21, 30, tzinfo=SHANGHAI)  # outside business hours soon after
    for priority in ("P1", "P2", "P3"):
        due = due_at(friday_late, policy.targets[priority].resolution, policy.calendar_for("resolution"), ())
        assert due - friday_late <= timedelta(hours=48)
    assert due - friday_late == timedelta(hours=48)


def test_a_policy_file_may_count_either_clock_in_business_hours_or_wall_time():
    policy = parse_policy({"clocks": {"resolution": "business"}}, "Asia/Shanghai")
    assert policy.clocks == {"first_contact": "business", "resolution": "business"}
    with pytest.raises(SlaPolicyError, match=r"clocks\.first_contact"):
        parse_policy({"clocks": {"first_contact": "sometimes"}}, "Asia/Shanghai")
    with pytest.raises(SlaPolicyError, match=r"clocks\.lunch"):
        parse_policy({"clocks": {"lunch": "wall"}}, "Asia/Shanghai")


def test_default_calendar_is_every_day_9_to_22_in_the_given_zone_without_holidays():
    calendar = default_policy("Europe/Berlin").calendar
    assert calendar.timezone == "Europe/Berlin"
    assert calendar.weekly == {day: ((time(9), time(22)),) for day in range(7)}
    assert calendar.holidays == frozenset()


def test_default_at_risk_fraction():
    assert default_policy().at_risk_fraction == 0.75


def test_no_policy_file_means_the_default_policy():
    assert load_policy(None, "America/New_York") == default_policy("America/New_York")


FULL_POLICY = {
    "targets": {
        "P1": {"first_contact_hours": 1, "resolution_hours": 12},
        "P2": {"first_contact_hours": 4, "resolution_hours": 36},
        "P3": {"first_contact_hours": 12.5, "resolution_hours": 96},
    },
    "calendar": {
        "mon": [["13:00", "22:00"], ["09:00", "12:00"]],
        "tue": [["09:00", "22:00"]],
        "wed": [["09:00", "22:00"]],
        "thu": [["09:00", "22:00"]],
        "fri": [["09:00", "24:00"]],
        "sat": [["10:00", "18:00"]],
        "sun": [],
    },
    "holidays": ["2026-10-01", "2026-10-02"],
    "at_risk_fraction": 0.8,
}


@pytest.fixture
def write_policy(tmp_path):
    def write(content: object) -> str:
        path = tmp_path / "sla.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return str(path)

    return write


def test_policy_file_overrides_everything(write_policy):
    policy = load_policy(write_policy(FULL_POLICY), "Asia/Shanghai")
    assert policy == SlaPolicy(
        targets={
            "P1": Targets(1 * H, 12 * H),
            "P2": Targets(4 * H, 36 * H),
            "P3": Targets(12 * H + 30 * MIN, 96 * H),
        },
        calendar=BusinessCalendar(
            "Asia/Shanghai",
            {
                0: ((time(9), time(12)), (time(13), time(22))),  # sorted
                1: ((time(9), time(22)),),
                2: ((time(9), time(22)),),
                3: ((time(9), time(22)),),
                4: ((time(9), MIDNIGHT_END),),
                5: ((time(10), time(18)),),
                6: (),
            },
            frozenset({date(2026, 10, 1), date(2026, 10, 2)}),
        ),
        at_risk_fraction=0.8,
    )


def test_policy_file_may_override_only_some_targets(write_policy):
    path = write_policy({"targets": {"P1": {"first_contact_hours": 1, "resolution_hours": 8}}})
    policy = load_policy(path, "Asia/Shanghai")
    default = default_policy()
    assert policy.targets == default.targets | {"P1": Targets(1 * H, 8 * H)}
    assert policy.calendar == default.calendar
    assert policy.at_risk_fraction == default.at_risk_fraction


def test_policy_path_may_be_a_path_object(tmp_path):
    path = tmp_path / "sla.json"
    path.write_text(json.dumps({"at_risk_fraction": 0.5}), encoding="utf-8")
    assert load_policy(path, "Asia/Shanghai").at_risk_fraction == 0.5


def test_policy_file_calendar_is_used_for_arithmetic(write_policy):
    calendar = load_policy(write_policy(FULL_POLICY), "Asia/Shanghai").calendar
    # Friday runs to midnight; Saturday opens at 10:00.
    assert add_business_time(sh(6, 5, 23), 2 * H, calendar) == sh(6, 6, 11)
    assert business_time_between(sh(10, 1), sh(10, 3), calendar) == timedelta(0)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _week(**overrides: object) -> dict[str, object]:
    days = {day: [["09:00", "22:00"]] for day in DAY_NAMES}
    return days | overrides


def _target(**overrides: object) -> dict[str, object]:
    return {"targets": {"P1": {"first_contact_hours": 2, "resolution_hours": 24} | overrides}}


@pytest.mark.parametrize(
    ("content", "field"),
    [
        pytest.param("{not json", "(file)", id="not-json"),
        pytest.param([], "(top level)", id="top-level-not-object"),
        pytest.param({"target": {}}, "target", id="unknown-top-level-field"),
        pytest.param({"targets": []}, "targets", id="targets-not-object"),
        pytest.param({"targets": {"P4": {}}}, "targets.P4", id="unknown-priority"),
        pytest.param({"targets": {"P1": 2}}, "targets.P1", id="target-not-object"),
        pytest.param(
            {"targets": {"P1": {"first_contact_hours": 2}}}, "targets.P1.resolution_hours", id="missing-hours"
        ),
        pytest.param(_target(minutes=5), "targets.P1.minutes", id="unknown-target-field"),
        pytest.param(_target(resolution_hours="24"), "targets.P1.resolution_hours", id="hours-as-string"),
        pytest.param(_target(resolution_hours=True), "targets.P1.resolution_hours", id="hours-as-bool"),
        pytest.param(_target(first_contact_hours=0), "targets.P1.first_contact_hours", id="zero-hours"),
        pytest.param(_target(first_contact_hours=-1), "targets.P1.first_contact_hours", id="negative-hours"),
        pytest.param(
            '{"targets": {"P1": {"first_contact_hours": NaN, "resolution_hours": 24}}}',
            "targets.P1.first_contact_hours",
            id="nan-hours",
        ),
        pytest.param(_target(resolution_hours=1e300), "targets.P1.resolution_hours", id="absurd-hours"),
        pytest.param(_target(first_contact_hours=30), "targets.P1.first_contact_hours", id="first-after-resolution"),
        pytest.param({"calendar": []}, "calendar", id="calendar-not-object"),
        pytest.param({"calendar": {"mon": []}}, "calendar.tue", id="day-missing"),
        pytest.param({"calendar": _week(monday=[])}, "calendar.monday", id="unknown-day"),
        pytest.param({"calendar": _week(mon="09:00-22:00")}, "calendar.mon", id="day-not-list"),
        pytest.param({"calendar": _week(mon=[["09:00"]])}, "calendar.mon[0]", id="interval-not-pair"),
        pytest.param({"calendar": _week(mon=[["9:00", "22:00"]])}, "calendar.mon[0]", id="not-hh-mm"),
        pytest.param({"calendar": _week(mon=[["09:00", "25:00"]])}, "calendar.mon[0]", id="hour-25"),
        pytest.param({"calendar": _week(mon=[["09:00", "12:60"]])}, "calendar.mon[0]", id="minute-60"),
        pytest.param({"calendar": _week(mon=[[9, 22]])}, "calendar.mon[0]", id="numbers"),
        pytest.param({"calendar": _week(mon=[["24:00", "24:00"]])}, "calendar.mon[0]", id="start-24"),
        pytest.param({"calendar": _week(mon=[["18:00", "09:00"]])}, "calendar.mon[0]", id="reversed"),
        pytest.param({"calendar": _week(mon=[["09:00", "09:00"]])}, "calendar.mon[0]", id="empty"),
        pytest.param({"calendar": _week(mon=[["18:00", "00:00"]])}, "calendar.mon[0]", id="end-00-00"),
        pytest.param(
            {"calendar": _week(tue=[["09:00", "21:00"], ["10:00", "22:00"]])}, "calendar.tue", id="overlap"
        ),
        pytest.param(
            {"calendar": {day: [] for day in DAY_NAMES}},
            "calendar",
            id="never-open",
        ),
        pytest.param({"holidays": "2026-10-01"}, "holidays", id="holidays-not-list"),
        pytest.param({"holidays": ["2026-10-01", "2026-13-01"]}, "holidays[1]", id="month-13"),
        pytest.param({"holidays": ["2026/10/01"]}, "holidays[0]", id="slashes"),
        pytest.param({"holidays": ["20261001"]}, "holidays[0]", id="basic-iso"),
        pytest.param({"holidays": [20261001]}, "holidays[0]", id="number"),
        pytest.param({"at_risk_fraction": 0}, "at_risk_fraction", id="fraction-zero"),
        pytest.param({"at_risk_fraction": 1.5}, "at_risk_fraction", id="fraction-above-one"),
        pytest.param({"at_risk_fraction": "0.75"}, "at_risk_fraction", id="fraction-string"),
        pytest.param({"at_risk_fraction": True}, "at_risk_fraction", id="fraction-bool"),
    ],
)
def test_malformed_policy_file_names_the_bad_field(write_policy, content, field):
    path = write_policy(content)
    with pytest.raises(SlaPolicyError) as caught:
        load_policy(path, "Asia/Shanghai")
    assert caught.value.field == field
    assert f"{path}: {field}: " in str(caught.value)


def test_fraction_of_one_is_allowed(write_policy):
    assert load_policy(write_policy({"at_risk_fraction": 1}), "Asia/Shanghai").at_risk_fraction == 1


def test_missing_policy_file_is_a_policy_error(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(SlaPolicyError, match="cannot read") as caught:
        load_policy(path, "Asia/Shanghai")
    assert caught.value.source == str(path)


@pytest.mark.parametrize("with_file", [False, True], ids=["default", "file"])
def test_unknown_timezone_is_a_policy_error(write_policy, with_file):
    path = write_policy({}) if with_file else None
    with pytest.raises(SlaPolicyError, match="Mars/Olympus_Mons") as caught:
        load_policy(path, "Mars/Olympus_Mons")
    assert caught.value.field == "timezone"


def test_policy_errors_are_value_errors():
    with pytest.raises(ValueError, match="at_risk_fraction"):
        parse_policy({"at_risk_fraction": 2}, "Asia/Shanghai")
