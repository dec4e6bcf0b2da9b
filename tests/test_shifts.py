"""The shift calendar (triage.shifts) and its place in the SLA policy file."""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

import pytest

from triage.config import ConfigError, Settings
from triage.metrics.cs import shift_namer
from triage.shifts import Shift, ShiftCalendar, ShiftSlot, default_shift_calendar, shift_at, shift_slot
from triage.sla import SlaPolicyError, default_policy, load_policy, parse_policy
from triage.timeutil import to_db

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
THREE = [{"name": "早班", "start": "06:00", "end": "14:00"}, {"name": "中班", "start": "14:00", "end": "22:00"},
         {"name": "晚班", "start": "22:00", "end": "06:00"}]


def local(zone, *args, fold=0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone, fold=fold)


@pytest.mark.parametrize(("hour", "minute", "expected"), [
    (9, 0, ShiftSlot("白班", dt.date(2026, 3, 2))),     # the day shift's first minute
    (20, 59, ShiftSlot("白班", dt.date(2026, 3, 2))),
    (21, 0, ShiftSlot("夜班", dt.date(2026, 3, 2))),    # boundary belongs to the shift it starts
    (23, 59, ShiftSlot("夜班", dt.date(2026, 3, 2))),
    (0, 0, ShiftSlot("夜班", dt.date(2026, 3, 1))),     # after midnight: last night's shift
    (8, 59, ShiftSlot("夜班", dt.date(2026, 3, 1))),
])
def test_default_calendar_maps_wall_time_to_shift_and_shift_day(hour, minute, expected):
    assert shift_slot(local(SH, 2026, 3, 2, hour, minute), default_shift_calendar("Asia/Shanghai")) == expected


def test_the_instant_is_read_in_the_calendar_zone_whatever_its_own_offset():
    calendar = default_shift_calendar("Asia/Shanghai")
    # 13:30 UTC is 21:30 in Shanghai.
    assert shift_at(dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.UTC), calendar) == "夜班"


def test_dst_spring_forward_night_shift_is_seven_real_hours_and_still_one_shift():
    calendar = default_shift_calendar("America/New_York")
    # 2026-03-08: clocks jump 02:00 -> 03:00. Every real instant of that night is 夜班 of the 7th.
    start = local(NY, 2026, 3, 7, 21, 0).astimezone(dt.UTC)
    end = local(NY, 2026, 3, 8, 9, 0).astimezone(dt.UTC)
    assert end - start == dt.timedelta(hours=11)
    moment = start
    while moment < end:
        assert shift_slot(moment, calendar) == ShiftSlot("夜班", dt.date(2026, 3, 7)), moment
        moment += dt.timedelta(minutes=7)
    assert shift_at(end, calendar) == "白班"


def test_dst_fall_back_repeated_hour_is_the_same_shift_both_times():
    calendar = ShiftCalendar("America/New_York", (Shift("A", 0, 90), Shift("B", 90, 0)))
    # 2026-11-01: 01:00-02:00 happens twice; 01:15 is shift A both times, 01:45 shift B both times.
    for fold in (0, 1):
        assert shift_at(local(NY, 2026, 11, 1, 1, 15, fold=fold), calendar) == "A"
        assert shift_at(local(NY, 2026, 11, 1, 1, 45, fold=fold), calendar) == "B"


def test_a_single_shift_may_cover_the_whole_day():
    calendar = ShiftCalendar("Asia/Shanghai", (Shift("全天", 6 * 60, 6 * 60),))
    assert shift_slot(local(SH, 2026, 3, 2, 5, 0), calendar) == ShiftSlot("全天", dt.date(2026, 3, 1))
    assert shift_slot(local(SH, 2026, 3, 2, 6, 0), calendar) == ShiftSlot("全天", dt.date(2026, 3, 2))


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="naive"):
        shift_at(dt.datetime(2026, 3, 2, 9), default_shift_calendar("Asia/Shanghai"))


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_the_fast_row_namer_agrees_with_shift_at(zone):
    calendar = parse_shifts_for(zone)
    namer = shift_namer(calendar)
    for moment in instants_worth_checking(zone):
        assert namer(to_db(moment)) == shift_at(moment, calendar), moment


def instants_worth_checking(zone_name: str) -> list[dt.datetime]:
    """Random instants of 2026, plus each shift boundary ±1 µs on the days where the zone's offset
    changes (and the days either side) and on a few ordinary days: where a namer would go wrong."""
    zone = ZoneInfo(zone_name)
    rng = random.Random(7)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    found = [base + dt.timedelta(seconds=rng.randrange(365 * 86400), microseconds=rng.randrange(10**6))
             for _ in range(400)]
    days = {dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365)) for _ in range(8)}
    for offset in range(365):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=offset)
        if local(zone, day.year, day.month, day.day).utcoffset() != local(
                zone, day.year, day.month, day.day, 23, 59).utcoffset():
            days.update(day + dt.timedelta(days=d) for d in (-1, 0, 1))
    for day in days:
        for shift in THREE:
            hour, minute = map(int, shift["start"].split(":"))
            for fold in (0, 1):
                boundary = local(zone, day.year, day.month, day.day, hour, minute, fold=fold).astimezone(dt.UTC)
                found += [boundary - dt.timedelta(microseconds=1), boundary, boundary + dt.timedelta(microseconds=1)]
    return found


def parse_shifts_for(zone: str) -> ShiftCalendar:
    return parse_policy({"shifts": THREE}, zone).shifts


def test_policy_default_shifts_are_day_and_night():
    shifts = default_policy("Asia/Shanghai").shifts
    assert [s.label() for s in shifts.shifts] == ["白班 09:00–21:00", "夜班 21:00–09:00"]


def test_policy_file_sets_the_shifts(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"shifts": THREE}, ensure_ascii=False), "utf-8")
    policy = load_policy(path, "Asia/Shanghai")
    assert policy.shifts.names == ("早班", "中班", "晚班")
    assert shift_at(local(SH, 2026, 3, 2, 23, 0), policy.shifts) == "晚班"


@pytest.mark.parametrize(("shifts", "field"), [
    ([], "shifts"),
    ("白班", "shifts"),
    ([{"name": "白班", "start": "09:00"}], "shifts[0].end"),
    ([{"name": "白班", "start": "9:00", "end": "21:00"}], "shifts[0].start"),
    ([{"name": "白班", "start": "09:00", "end": "24:00"}], "shifts[0].end"),
    ([{"name": " ", "start": "09:00", "end": "09:00"}], "shifts[0].name"),
    ([{"name": "白班", "start": "09:00", "end": "21:00", "lead": "x"}], "shifts[0].lead"),
    # a gap from 20:00 to 21:00
    ([{"name": "白班", "start": "09:00", "end": "20:00"}, {"name": "夜班", "start": "21:00", "end": "09:00"}],
     "shifts"),
    # overlapping
    ([{"name": "白班", "start": "09:00", "end": "22:00"}, {"name": "夜班", "start": "21:00", "end": "09:00"}],
     "shifts"),
    ([{"name": "班", "start": "09:00", "end": "21:00"}, {"name": "班", "start": "21:00", "end": "09:00"}], "shifts"),
])
def test_bad_shift_calendars_are_refused_naming_the_field(shifts, field):
    with pytest.raises(SlaPolicyError) as info:
        parse_policy({"shifts": shifts}, "Asia/Shanghai")
    assert info.value.field == field


def test_a_bad_shift_calendar_stops_start_up(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"shifts": [{"name": "白班", "start": "09:00", "end": "20:00"}]}), "utf-8")
    with pytest.raises(ConfigError, match=r"TRIAGE_SLA_POLICY.*shifts"):
        Settings.from_env({"TRIAGE_SLA_POLICY": str(path)}, var_dir=tmp_path)
