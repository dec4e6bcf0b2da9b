"""CS metrics (triage.metrics.cs) on hand-built case timelines, through the real case life cycle."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.pipeline_support import COMPLAINTS, add_reviews, review
from triage import cases
from triage.db import transaction
from triage.metrics.cs import (
    CaseOutcome,
    Period,
    Rate,
    credited_agent,
    cs_figures,
    cs_report,
    fetch_outcomes,
    median,
    nearest_rank,
    period_report,
)
from triage.sla import default_policy
from triage.timeutil import to_db

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
POLICY = default_policy(TZ)  # P1: first contact 2 h, resolution 24 h of business time (09:00-22:00)
DAY = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 2), TZ)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A local time on March `day`, 2026 in Shanghai."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=SH)


class Timeline:
    """Builds one case step by step through `triage.cases` (the real store and life cycle)."""

    def __init__(self, db, customer: str, opened: dt.datetime, priority: str = "P1") -> None:
        self.db = db
        (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)], now=opened)
        with transaction(db):
            self.id = cases.add_review(db, review_pk=pk, customer_id=customer, priority=priority, risk=0.9,
                                       causes=("defect",), now=opened, policy=POLICY).case_id

    def to(self, status: str, when: dt.datetime, actor: str = "system", **kw) -> Timeline:
        cases.transition(self.db, self.id, status, actor, when, policy=POLICY, **kw)
        return self

    def claim(self, agent: str, when: dt.datetime) -> Timeline:
        return self.to("claimed", when, agent, assignee=agent)

    def set(self, **columns) -> Timeline:
        # What the queue's case actions record beside the status (resolver, answer, 已改评, reopens).
        sets = ", ".join(f"{k} = ?" for k in columns)
        with transaction(self.db):
            self.db.execute(f"UPDATE cases SET {sets} WHERE id = ?", (*columns.values(), self.id))
        return self

    def row(self):
        return cases.get_case(self.db, self.id)


def report(db, period: Period = DAY):
    return period_report(db, period, POLICY.shifts)


def test_a_case_opened_before_the_shift_change_counts_for_the_day_shift_though_contacted_at_night(db):
    Timeline(db, "c1", at(2, 20, 50)).claim("li", at(2, 20, 55)).to("contacted", at(2, 21, 20), "li")
    figures = report(db)
    assert figures.by_shift["白班"].cases_handled == 1
    assert figures.by_shift["夜班"].cases_handled == 0
    assert figures.by_shift["白班"].first_contact_minutes.to_json() == {"median": 30.0, "p90": 30.0, "n": 1}


def test_a_case_opened_at_night_counts_for_the_night_shift_with_its_wall_clock_wait(db):
    # Opened 21:30, contacted 09:10 next morning: 700 minutes of waiting for the customer, though only
    # 10 of them are business time, so the first contact is within its 2-hour SLA.
    Timeline(db, "c1", at(2, 21, 30)).claim("li", at(3, 9, 0)).to("contacted", at(3, 9, 10), "li")
    figures = report(db)
    night = figures.by_shift["夜班"]
    assert night.cases_handled == 1
    assert night.first_contact_minutes.median == 700.0
    assert night.rates["first_contact_within_sla"] == Rate(1, 1)
    assert figures.by_shift["白班"].cases_handled == 0


def test_a_case_opened_after_midnight_counts_for_the_night_shift_of_the_day_it_was_opened(db):
    Timeline(db, "c1", at(2, 3, 0))
    assert report(db).by_shift["夜班"].cases_handled == 1


def test_waiting_on_the_customer_moves_the_resolution_due_so_a_late_looking_resolution_is_within_sla(db):
    case = Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 5)).to("contacted", at(2, 10, 30), "li")
    due_before = case.row()["resolution_due"]
    case.to("waiting_customer", at(2, 11, 0), "li").to("contacted", at(3, 11, 0), "li")
    assert case.row()["resolution_due"] > due_before  # 13 business hours of waiting added
    case.to("resolved", at(3, 21, 30), "li")  # after the original due (3 March 21:00), before the moved one
    assert to_db(at(3, 21, 30)) > due_before
    figures = report(db).by_agent["li"]
    assert (figures.resolved, figures.resolved_within_sla) == (1, 1)
    assert figures.rates["resolution_within_sla"] == Rate(1, 1)


def test_a_resolution_after_the_due_is_resolved_but_not_within_sla(db):
    Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 5)).to("contacted", at(2, 10, 30), "li") \
        .to("resolved", at(5, 10, 0), "li")
    figures = report(db).overall
    assert (figures.resolved, figures.resolved_within_sla) == (1, 0)
    assert figures.rates["resolution"] == Rate(1, 1)
    assert figures.rates["resolution_within_sla"] == Rate(0, 1)


def test_a_reopened_case_counts_in_the_reopen_rate_and_as_resolved_only_once_resolved_again(db):
    first = Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 5)).to("contacted", at(2, 10, 30), "li") \
        .to("resolved", at(2, 12, 0), "li")
    first.to("contacted", at(2, 15, 0), "li").set(reopened_count=1)  # the customer came back unhappy
    second = Timeline(db, "c2", at(2, 11, 0)).claim("li", at(2, 11, 5)).to("contacted", at(2, 11, 30), "li") \
        .to("resolved", at(2, 13, 0), "li")
    figures = report(db).by_agent["li"]
    assert figures.resolved == 1  # the reopened one is open again
    assert figures.rates["reopen"] == Rate(1, 2)  # of the two ever resolved, one reopened
    first.to("resolved", at(2, 18, 0), "li")
    figures = report(db).by_agent["li"]
    assert figures.resolved == 2 and figures.rates["reopen"] == Rate(1, 2)
    assert second.row()["reopened_count"] == 0


def test_a_case_with_no_contact_yet_is_handled_but_not_in_the_first_contact_times(db):
    Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 5))
    Timeline(db, "c2", at(2, 10, 0)).claim("li", at(2, 10, 5)).to("contacted", at(2, 10, 45), "li")
    figures = report(db).by_agent["li"]
    assert figures.cases_handled == 2
    assert figures.first_contact_minutes.to_json() == {"median": 45.0, "p90": 45.0, "n": 1}
    assert figures.not_contacted == 1


def test_a_case_counts_for_who_resolved_it_else_who_holds_it_and_unheld_ones_only_overall(db):
    Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 1)).to("contacted", at(2, 10, 2), "li") \
        .to("resolved", at(2, 11, 0), "li").set(resolved_by="wang", assignee="li")
    Timeline(db, "c2", at(2, 10, 0)).claim("li", at(2, 10, 1))
    Timeline(db, "c3", at(2, 10, 0))
    figures = report(db)
    assert figures.by_agent["wang"].cases_handled == 1
    assert figures.by_agent["li"].cases_handled == 1
    assert figures.overall.cases_handled == 3
    assert credited_agent("wang", "li") == "wang" and credited_agent(None, "li") == "li"


def test_satisfaction_counts_answers_only_and_revised_upward_counts_resolved_cases(db):
    for i, (answer, revised) in enumerate([("satisfied", 1), ("satisfied", 0), ("unsatisfied", 0), (None, 1)]):
        Timeline(db, f"c{i}", at(2, 10, i)).claim("li", at(2, 10, 30)).to("contacted", at(2, 10, 40), "li") \
            .to("resolved", at(2, 11, 0), "li").set(satisfaction=answer, revised_upward=revised)
    # Revised upward but not resolved: not in the 已改评 count, whose base is resolved cases.
    Timeline(db, "c9", at(2, 10, 0)).claim("li", at(2, 10, 30)).set(revised_upward=1)
    figures = report(db).by_agent["li"]
    assert figures.to_json()["satisfaction"] == {"answers": 3, "satisfied": 2, "rate": 2 / 3}
    assert figures.revised_upward == 2
    assert figures.rates["revised_upward"] == Rate(2, 4)


def test_the_period_is_local_days_with_to_inclusive(db):
    Timeline(db, "c1", at(1, 23, 59))   # the day before
    Timeline(db, "c2", at(2, 0, 0))     # first instant
    Timeline(db, "c3", at(2, 23, 59))   # last minute of `to`
    Timeline(db, "c4", at(3, 0, 0))     # the day after
    ids = {o.case_id for o in fetch_outcomes(db, DAY, POLICY.shifts)}
    assert len(ids) == 2
    assert report(db, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 3), TZ)).overall.cases_handled == 4


def test_every_active_agent_and_every_shift_has_a_row_even_without_cases(db):
    from triage.agents import add_agent

    add_agent(db, "zhou", "pw-123456", "agent")
    add_agent(db, "boss", "pw-123456", "supervisor")
    figures = report(db)
    assert list(figures.by_agent) == ["zhou"]
    assert list(figures.by_shift) == ["白班", "夜班"]
    assert figures.by_agent["zhou"].to_json()["resolution_rate"] is None


# --- pure definitions ---------------------------------------------------------------------------


def outcome(minutes: float | None = None, *, resolved: bool = False, **kw) -> CaseOutcome:
    opened = at(2, 10)
    fields = dict(case_id=1, opened_at=opened, agent="li", shift="白班", priority="P1",
                  first_contacted_at=None if minutes is None else opened + dt.timedelta(minutes=minutes),
                  first_contact_due=None, resolved_at=opened + dt.timedelta(hours=1) if resolved else None,
                  resolution_due=None, satisfaction=None, revised_upward=False, reopened_count=0)
    fields.update(kw)
    return CaseOutcome(**fields)


@pytest.mark.parametrize(("values", "mid", "p90"), [
    ([], None, None),
    ([5], 5, 5),
    ([1, 3], 2, 3),
    ([1, 2, 3], 2, 3),
    (list(range(1, 11)), 5.5, 9),
    (list(range(1, 21)), 10.5, 18),
])
def test_median_is_the_middle_and_p90_is_the_nearest_rank(values, mid, p90):
    assert median(values) == mid
    assert nearest_rank(values, 0.9) == p90


def test_a_rate_with_no_sample_is_null_not_zero_and_small_samples_are_marked():
    assert Rate(0, 0).rate is None
    assert Rate(1, 1).small and not Rate(20, 20).small
    assert Rate(1, 1).to_json() == {"count": 1, "n": 1, "rate": 1.0}


def test_first_contact_minutes_are_rounded_to_a_tenth():
    figures = cs_figures([outcome(1 / 3), outcome(10), outcome(20)])
    assert figures.first_contact_minutes.to_json() == {"median": 10.0, "p90": 20.0, "n": 3}
    assert cs_figures([outcome(1 / 3)]).first_contact_minutes.median == 0.3


def test_the_api_object_has_the_contract_fields_for_each_group_and_overall():
    rep = cs_report([outcome(5, resolved=True)], DAY, POLICY.shifts, agents=["li"])
    body = rep.to_json("shift")
    assert (body["from"], body["to"], body["timezone"], body["group_by"]) == ("2026-03-02", "2026-03-02", TZ, "shift")
    contract = {"key", "cases_handled", "first_contact_minutes", "resolved", "resolved_within_sla",
                "resolution_rate", "satisfaction", "revised_upward"}
    assert [g["key"] for g in body["groups"]] == ["白班", "夜班"]
    for group in body["groups"]:
        assert contract <= set(group)
    assert contract - {"key"} <= set(body["overall"])
    assert rep.to_json("agent")["groups"][0]["key"] == "li"


def test_a_period_cannot_end_before_it_starts_and_knows_its_predecessor():
    with pytest.raises(ValueError):
        Period(dt.date(2026, 3, 2), dt.date(2026, 3, 1), TZ)
    week = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8), TZ)
    assert week.previous() == Period(dt.date(2026, 2, 23), dt.date(2026, 3, 1), TZ)


def test_period_bounds_follow_dst_in_the_zone():
    lo, hi = Period(dt.date(2026, 3, 8), dt.date(2026, 3, 8), "America/New_York").bounds()
    assert hi - lo == dt.timedelta(hours=23)


# --- the SQL path agrees with the Python definitions ----------------------------------------------


@pytest.mark.parametrize("accounts", [3, 2, 0], ids=["all-agents-known", "one-unknown", "none-known"])
def test_sql_aggregation_agrees_with_the_python_definitions_on_a_mixed_history(db, accounts):
    import random

    from triage.agents import add_agent
    from triage.metrics.cs import reference_report

    rng = random.Random(12)
    agents = ["li", "wang", "chen"]
    for name in agents[:accounts]:  # a credited name with no account sends the query down its fallback
        add_agent(db, name, "pw-123456", "agent")
    for i in range(36):
        opened = at(1 + rng.randrange(3), rng.randrange(24), rng.randrange(60))
        case = Timeline(db, f"c{i}", opened, rng.choice(["P1", "P2", "P3"]))
        if rng.random() < 0.15:
            continue
        who = rng.choice(agents)
        case.claim(who, opened + dt.timedelta(minutes=1))
        if rng.random() < 0.2:
            continue
        case.to("contacted", opened + dt.timedelta(minutes=rng.randrange(2, 900)), who)
        if rng.random() < 0.3:
            continue
        case.to("resolved", opened + dt.timedelta(hours=rng.randrange(16, 90)), who)
        case.set(satisfaction=rng.choice([None, "satisfied", "neutral", "unsatisfied"]),
                 revised_upward=int(rng.random() < 0.3), reopened_count=int(rng.random() < 0.2),
                 resolved_by=rng.choice(agents))
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 3), TZ)
    fast, plain = period_report(db, period, POLICY.shifts), reference_report(db, period, POLICY.shifts)
    assert fast.to_json("agent") == plain.to_json("agent")
    assert fast.to_json("shift") == plain.to_json("shift")
    assert fast.overall.cases_handled == 36


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "Australia/Lord_Howe"])
def test_shift_segments_cover_the_period_and_agree_with_shift_at(zone):
    from triage.metrics.cs import shift_segments
    from triage.shifts import Shift, ShiftCalendar, shift_at

    calendar = ShiftCalendar(zone, (Shift("早", 90, 13 * 60), Shift("晚", 13 * 60, 90)))
    for first, last in ((dt.date(2026, 3, 1), dt.date(2026, 4, 10)), (dt.date(2026, 9, 25), dt.date(2026, 11, 5))):
        lo, hi = Period(first, last, zone).bounds()
        segments = shift_segments(lo, hi, calendar)
        assert segments[0][1] == lo and segments[-1][2] == hi
        for (name, start, end), (following, *_rest) in zip(segments, [*segments[1:], (None,)], strict=True):
            assert name != following
            for probe in (start, start + (end - start) / 2, end - dt.timedelta(seconds=1)):
                assert shift_at(probe, calendar) == name, (probe, name)


def test_a_by_shift_report_may_skip_the_agents_and_keeps_the_same_shift_and_overall_figures(db):
    Timeline(db, "c1", at(2, 10, 0)).claim("li", at(2, 10, 5)).to("contacted", at(2, 10, 30), "li")
    Timeline(db, "c2", at(2, 22, 0)).claim("li", at(2, 22, 5))
    full, lean = report(db), period_report(db, DAY, POLICY.shifts, agents=False)
    assert lean.by_agent == {}
    assert lean.to_json("shift") == full.to_json("shift")


# --- the day cache (migration 021's change counters) ------------------------------------------------


def test_cached_days_follow_every_later_change_and_still_agree_with_the_python_definitions(db):
    from triage.metrics.cs import reference_report

    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 3), TZ)
    first = Timeline(db, "c1", at(1, 10, 0)).claim("li", at(1, 10, 5))
    second = Timeline(db, "c2", at(2, 23, 0)).claim("wang", at(2, 23, 5))
    before = period_report(db, period, POLICY.shifts)  # fills the cache
    assert before.overall.first_contact_minutes.n == 0
    first.to("contacted", at(1, 10, 40), "li")
    second.to("contacted", at(3, 1, 0), "wang").to("resolved", at(3, 2, 0), "wang")
    second.set(satisfaction="satisfied", resolved_by="li")
    Timeline(db, "c3", at(3, 12, 0))
    after, plain = period_report(db, period, POLICY.shifts), reference_report(db, period, POLICY.shifts)
    assert after.to_json("agent") == plain.to_json("agent")
    assert after.to_json("shift") == plain.to_json("shift")
    assert after.overall.cases_handled == 3
    assert after.by_agent["li"].satisfied == 1


def test_a_day_whose_cases_did_not_change_is_not_computed_again(db, monkeypatch):
    from triage.metrics import cs

    Timeline(db, "c1", at(1, 10, 0)).claim("li", at(1, 10, 5))
    Timeline(db, "c2", at(2, 10, 0)).claim("li", at(2, 10, 5))
    period = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), TZ)
    computed: list[dt.date] = []
    real = cs._compute_day

    def counting(conn, day, shifts):
        computed.append(day.start)
        return real(conn, day, shifts)

    monkeypatch.setattr(cs, "_compute_day", counting)
    period_report(db, period, POLICY.shifts)
    period_report(db, period, POLICY.shifts)
    Timeline(db, "c3", at(2, 15, 0))
    assert period_report(db, period, POLICY.shifts).overall.cases_handled == 3
    assert computed == [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 2)]


def test_figures_read_inside_a_write_transaction_are_not_kept(db):
    from triage.metrics import cs

    cs.clear_day_cache()
    Timeline(db, "c1", at(2, 10, 0))
    db.execute("BEGIN")
    db.execute("UPDATE cases SET opened_at = ?", (to_db(at(5, 10, 0)),))  # out of the day, then undone
    assert report(db).overall.cases_handled == 0
    db.execute("ROLLBACK")
    assert report(db).overall.cases_handled == 1


def test_every_change_to_a_case_bumps_its_opening_hours_in_cs_changes(db):
    def counter(hour: str) -> int:
        row = db.execute("SELECT n FROM cs_changes WHERE hour = ?", (hour,)).fetchone()
        return row[0] if row else 0

    hour = to_db(at(2, 10, 0))[:13]
    case = Timeline(db, "c1", at(2, 10, 0))
    created = counter(hour)
    assert created > 0
    case.claim("li", at(2, 10, 5))
    claimed = counter(hour)
    assert claimed > created
    later = to_db(at(2, 14, 0))
    with transaction(db):
        db.execute("UPDATE cases SET opened_at = ? WHERE id = ?", (later, case.id))
    assert counter(hour) > claimed  # the hour it left
    assert counter(later[:13]) > 0  # and the hour it joined
