"""A case's clocks derived from their marks equal the plain computation at every instant.

`triage.cases.compute_clocks` reads each clock's state off two instants fixed when the case
starts (when used time reaches the at-risk threshold and the target) instead of walking the
calendar up to `now`. Here it is held to the definition, `sla.due_at` / `sla.clock_state` /
`sla.next_transition` called as they were before, over random policies (business hours with
gaps, closed days, holidays, wall clocks, zones with DST including half-hour shifts, tiny
targets and fractions), random starts around DST changes, pauses (closed, open, overlapping,
before the start, of zero length), finish times, and instants drawn around the marks themselves
(the due instant, a microsecond either side) and far from them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage import sla
from triage.cases import Clocks, compute_clocks

# The fast tier's search is short (~25 ms an example); each property has a slow-tier twin that
# searches far longer, so `make test` as a whole still looks hard.
PROPERTY = settings(max_examples=12, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DEEP = settings(PROPERTY, max_examples=1500)  # the slow tier's longer search
DEEP_OTHERS = settings(PROPERTY, max_examples=300)

ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC",
         "America/Santiago")
# Starts are drawn near these instants: DST changes in the zones above, and an ordinary day.
ANCHORS = (
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),     # New York springs forward
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),    # Berlin springs forward
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),    # Lord Howe goes back half an hour
    datetime(2026, 4, 5, 3, 0, tzinfo=UTC),     # Santiago goes back
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),   # Berlin falls back
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),    # New York falls back
    datetime(2026, 11, 26, 5, 33, 27, 123456, tzinfo=UTC),
)


def reference_clocks(*, priority, started_at, first_contacted_at, resolved_at, active, pauses, policy, now) -> Clocks:
    """The clocks as computed before the marks: the definition in `triage.sla`, walked to `now`."""
    targets = policy.targets[priority]
    fraction = policy.at_risk_fraction
    calendar = {c: policy.calendar_for(c) for c in ("first_contact", "resolution")}
    done = {"first_contact": first_contacted_at, "resolution": resolved_at}
    target = {"first_contact": targets.first_contact, "resolution": targets.resolution}
    dues = {c: sla.due_at(started_at, target[c], calendar[c], pauses) for c in calendar}
    states = {c: sla.clock_state(started_at, target[c], done[c], now, calendar[c], pauses, fraction) for c in calendar}
    upcoming = []
    if active:
        for c in calendar:
            if done[c] is None:
                moment = sla.next_transition(started_at, target[c], now, calendar[c], pauses, fraction)
                if moment is not None:
                    upcoming.append(moment)
    return Clocks(dues["first_contact"], dues["resolution"], states["first_contact"], states["resolution"],
                  min(upcoming, default=None))


# -- strategies ---------------------------------------------------------------------------------

@st.composite
def day_hours(draw) -> tuple[tuple[time, time], ...]:
    """0-3 intervals of one day, on a half-hour grid (02:00-03:00 falls in DST gaps), 24:00 allowed."""
    marks = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    intervals = []
    for begin, end in zip(marks[::2], marks[1::2], strict=True):
        start = time(begin // 2, 30 * (begin % 2))
        finish = time(0) if end == 48 else time(end // 2, 30 * (end % 2))
        intervals.append((start, finish))
    return tuple(intervals)


@st.composite
def policies(draw) -> sla.SlaPolicy:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        weekly = sla.default_policy(zone).calendar.weekly
    else:
        weekly = {d: draw(day_hours()) for d in range(7)}
        if not any(weekly.values()):
            weekly[draw(st.integers(0, 6))] = ((time(9), time(17)),)
    holidays = frozenset(date(2026, m, d) for m, d in draw(st.lists(
        st.tuples(st.sampled_from((3, 4, 10, 11)), st.integers(1, 28)), max_size=6)))
    calendar = sla.BusinessCalendar(zone, weekly, holidays)
    hours = st.one_of(st.sampled_from((1e-9, 0.25, 1, 4, 8, 24, 48)), st.floats(1e-6, 60))
    targets = {}
    for priority in sla.PRIORITIES:
        first, resolution = sorted((draw(hours), draw(hours)))
        targets[priority] = sla.Targets(timedelta(hours=first), timedelta(hours=resolution))
    fraction = draw(st.one_of(st.sampled_from((0.75, 1.0, 0.5, 1e-12, 0.999999)), st.floats(1e-9, 1.0)))
    clocks = {c: draw(st.sampled_from(sla.CLOCK_KINDS)) for c in sla.CLOCK_NAMES}
    return sla.SlaPolicy(targets, calendar, fraction, clocks)


offsets = st.one_of(
    st.timedeltas(timedelta(days=-2), timedelta(days=30)),
    st.sampled_from((timedelta(0), timedelta(microseconds=1), timedelta(microseconds=-1))),
)


@st.composite
def cases(draw) -> dict:
    policy = draw(policies())
    start = draw(st.sampled_from(ANCHORS)) + draw(st.timedeltas(timedelta(days=-3), timedelta(days=3)))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        paused = start + draw(offsets)
        length = draw(st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=5))))
        pauses.append((paused, None if length is None else paused + length))
    pauses.sort(key=lambda p: p[0])
    done = st.one_of(st.none(), offsets.map(lambda o: start + o))
    return {"priority": draw(st.sampled_from(sla.PRIORITIES)), "started_at": start,
            "first_contacted_at": draw(done), "resolved_at": draw(done), "active": draw(st.booleans()),
            "pauses": tuple(pauses), "policy": policy}


def marks_of(case: dict) -> list[datetime]:
    """Every instant where a state can change: the reference's dues and thresholds."""
    policy = case["policy"]
    targets = policy.targets[case["priority"]]
    out = []
    for clock, target in (("first_contact", targets.first_contact), ("resolution", targets.resolution)):
        for amount in (target, target * policy.at_risk_fraction):
            moment = sla.due_at(case["started_at"], amount, policy.calendar_for(clock), case["pauses"])
            if moment is not None:
                out.append(moment)
    return out


# -- properties ---------------------------------------------------------------------------------

def check_any_instant(case: dict, data: st.DataObject) -> None:
    near = [m + d for m in marks_of(case) for d in (timedelta(microseconds=-1), timedelta(0),
                                                    timedelta(microseconds=1))]
    anywhere = st.timedeltas(timedelta(days=-2), timedelta(days=60)).map(lambda o: case["started_at"] + o)
    now = data.draw(st.sampled_from(near) if near and data.draw(st.booleans()) else anywhere)
    if data.draw(st.booleans()):  # an aware `now` in the calendar's zone, DST fold and all
        now = now.astimezone(ZoneInfo(case["policy"].calendar.timezone))
    assert compute_clocks(**case, now=now) == reference_clocks(**case, now=now)
    later = data.draw(anywhere)  # the same case again: its marks now come from the memo
    assert compute_clocks(**case, now=later) == reference_clocks(**case, now=later)


@PROPERTY
@given(case=cases(), data=st.data())
def test_derived_clocks_equal_the_definition_at_any_instant(case, data):
    check_any_instant(case, data)


@pytest.mark.slow
@DEEP
@given(case=cases(), data=st.data())
def test_derived_clocks_equal_the_definition_at_any_instant_deep_search(case, data):
    check_any_instant(case, data)


def check_finished_at_due(case):
    dues = [due for due in marks_of(case)[:1] if due is not None]
    for due in dues:
        finished = {**case, "first_contacted_at": due}
        for now in (due, due + timedelta(hours=1)):
            assert compute_clocks(**finished, now=now) == reference_clocks(**finished, now=now)


@PROPERTY
@given(case=cases())
def test_a_clock_finished_at_its_due_instant_met_it(case):
    check_finished_at_due(case)


@pytest.mark.slow
@DEEP_OTHERS
@given(case=cases())
def test_a_clock_finished_at_its_due_instant_met_it_deep_search(case):
    check_finished_at_due(case)


def check_remembered_days(policy, first, span):
    calendar = policy.calendar
    zone = ZoneInfo(calendar.timezone)
    since = datetime.combine(first, time(0), zone)
    sla.business_time_between(since, since + timedelta(days=span), calendar)  # fills the memo
    days = sla._days_of(calendar)
    for offset in range(span):
        day = first + timedelta(days=offset)
        if day in days:
            assert days[day] == tuple(sla._day_intervals(calendar, day, zone))


DAYS = {"policy": policies(), "first": st.dates(date(2026, 1, 1), date(2026, 12, 31)), "span": st.integers(1, 60)}


@PROPERTY
@given(**DAYS)
def test_remembered_days_are_the_days_computed_afresh(policy, first, span):
    check_remembered_days(policy, first, span)


@pytest.mark.slow
@DEEP_OTHERS
@given(**DAYS)
def test_remembered_days_are_the_days_computed_afresh_deep_search(policy, first, span):
    check_remembered_days(policy, first, span)


def test_naive_now_is_refused_as_before():
    policy = sla.default_policy()
    with pytest.raises(ValueError):
        compute_clocks(priority="P1", started_at=ANCHORS[-1], first_contacted_at=None, resolved_at=None,
                       active=True, pauses=(), policy=policy, now=datetime(2026, 11, 27))


def test_a_threshold_that_rounds_to_zero_is_at_risk_even_before_the_start():
    # 4 µs x 1e-12 is 0 µs: `used >= 0` holds at every instant, before the case started too.
    tiny = sla.Targets(timedelta(microseconds=4), timedelta(microseconds=4))
    policy = sla.SlaPolicy(dict.fromkeys(sla.PRIORITIES, tiny), sla.default_policy().calendar, 1e-12)
    case = {"priority": "P2", "started_at": ANCHORS[-1], "first_contacted_at": None, "resolved_at": None,
            "active": True, "pauses": (), "policy": policy}
    now = ANCHORS[-1] - timedelta(days=1)
    assert compute_clocks(**case, now=now) == reference_clocks(**case, now=now)
    assert compute_clocks(**case, now=now).first_contact == "at_risk"


AMOUNTS = st.lists(st.timedeltas(timedelta(0), timedelta(days=3)), min_size=1, max_size=4)


@PROPERTY
@given(case=cases(), amounts=AMOUNTS)
def test_due_instants_are_due_at_of_each_amount(case, amounts):
    check_due_instants(case, amounts)


@pytest.mark.slow
@DEEP_OTHERS
@given(case=cases(), amounts=AMOUNTS)
def test_due_instants_are_due_at_of_each_amount_deep_search(case, amounts):
    check_due_instants(case, amounts)


def check_due_instants(case, amounts):
    calendar = case["policy"].calendar
    amounts = sorted(amounts)
    assert sla.due_instants(case["started_at"], amounts, calendar, case["pauses"]) == [
        sla.due_at(case["started_at"], amount, calendar, case["pauses"]) for amount in amounts]
