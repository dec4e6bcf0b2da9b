"""Case metrics (triage.metrics): the SQL rule, the Python rule and sla.clock_state agree, at the due instant too."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases, metrics, sla
from triage.db import transaction
from triage.sla import default_policy
from triage.timeutil import from_db, to_db

POLICY = default_policy("Asia/Shanghai")
US = dt.timedelta(microseconds=1)
S = dt.timedelta(seconds=1)
AROUND_DUE = [pytest.param(-S, id="due-1s"), pytest.param(-US, id="due-1us"), pytest.param(dt.timedelta(0), id="due"),
              pytest.param(US, id="due+1us"), pytest.param(S, id="due+1s")]


def open_case(db, customer="c1", priority="P1", now=T0) -> int:
    (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)], now=now)
    with transaction(db):
        return cases.add_review(db, review_pk=pk, customer_id=customer, priority=priority, risk=0.9,
                                causes=("defect",), now=now, policy=POLICY).case_id


def clock_state_breached(db, case_id: int, now: dt.datetime) -> bool:
    """Either clock breached at `now`, as sla.clock_state sees it (the definition)."""
    row = cases.get_case(db, case_id)
    targets = POLICY.targets[row["priority"]]
    pauses = cases.load_pauses(db, case_id)
    states = [
        sla.clock_state(from_db(row["sla_started_at"]), target, from_db(row[done]), now, POLICY.calendar, pauses,
                        POLICY.at_risk_fraction)
        for target, done in ((targets.first_contact, "first_contacted_at"), (targets.resolution, "resolved_at"))
    ]
    return "breached" in states


def sql_breached(db, case_id: int, now: dt.datetime) -> bool:
    row = db.execute(f"SELECT {metrics.breached_sql()} FROM cases WHERE id = :id",
                     {"id": case_id, "now": to_db(now)}).fetchone()
    return bool(row[0])


def first_contact_due(db, case_id: int) -> dt.datetime:
    return from_db(cases.get_case(db, case_id)["first_contact_due"])


@pytest.mark.parametrize("offset", AROUND_DUE)
def test_an_undone_clock_is_breached_from_its_due_instant_by_every_rule(db, offset):
    case_id = open_case(db)
    now = first_contact_due(db, case_id) + offset
    expected = offset >= dt.timedelta(0)
    assert clock_state_breached(db, case_id, now) is expected
    assert sql_breached(db, case_id, now) is expected
    assert metrics.case_breached(cases.get_case(db, case_id), now) is expected
    assert metrics.open_case_counts(db, now) == {"open": 1, "breached": int(expected)}


@pytest.mark.parametrize("offset", AROUND_DUE)
def test_a_clock_done_at_its_due_instant_has_met_it_and_a_moment_later_is_breached(db, offset):
    case_id = open_case(db)
    due = first_contact_due(db, case_id)
    cases.transition(db, case_id, "claimed", "li", T0 + dt.timedelta(minutes=1), policy=POLICY)
    cases.transition(db, case_id, "contacted", "li", due + offset, policy=POLICY)
    now = due + 2 * S
    late = offset > dt.timedelta(0)
    assert clock_state_breached(db, case_id, now) is late
    assert sql_breached(db, case_id, now) is late
    assert metrics.case_breached(cases.get_case(db, case_id), now) is late
    row = cases.get_case(db, case_id)
    assert metrics.within_sla(due=from_db(row["first_contact_due"]), done_at=from_db(row["first_contacted_at"])) \
        is not late


def test_the_sql_count_matches_clock_state_over_many_cases_and_instants(db):
    ids = [open_case(db, f"c{i}", priority, T0 + dt.timedelta(minutes=7 * i))
           for i, priority in enumerate(("P1", "P2", "P3", "P1", "P2", "P3"))]
    dues = sorted(first_contact_due(db, i) for i in ids)
    instants = [due + offset for due in dues for offset in (-S, -US, dt.timedelta(0), US, S)]
    for now in instants:
        expected = sum(clock_state_breached(db, i, now) for i in ids)
        assert metrics.open_case_counts(db, now)["breached"] == expected, now


def test_a_paused_clock_past_a_stale_due_keeps_its_stored_state(db):
    case_id = open_case(db)
    cases.transition(db, case_id, "claimed", "li", T0 + S, policy=POLICY)
    cases.transition(db, case_id, "contacted", "li", T0 + 2 * S, policy=POLICY)
    cases.transition(db, case_id, "waiting_customer", "li", T0 + 3 * S, policy=POLICY)
    stale = to_db(T0 + 4 * S)
    db.execute("UPDATE cases SET resolution_due = ? WHERE id = ?", (stale, case_id))
    now = T0 + dt.timedelta(days=30)
    assert clock_state_breached(db, case_id, now) is False
    assert sql_breached(db, case_id, now) is False


def test_a_stored_breach_stays_a_breach(db):
    case_id = open_case(db)
    db.execute("UPDATE cases SET sla_resolution = 'breached' WHERE id = ?", (case_id,))
    assert sql_breached(db, case_id, T0) is True
    assert metrics.case_breached(cases.get_case(db, case_id), T0) is True


def test_cohort_figures_count_contacts_within_sla_and_the_median_first_response(db):
    fast, slow = open_case(db, "a", priority="P2"), open_case(db, "b", priority="P2")
    open_case(db, "c", priority="P2")  # never contacted, not yet due (first contact: 4 business hours)
    for case_id, minutes in ((fast, 10), (slow, 30)):
        cases.transition(db, case_id, "claimed", "li", T0 + S, policy=POLICY)
        cases.transition(db, case_id, "contacted", "li", T0 + dt.timedelta(minutes=minutes), policy=POLICY)
    cases.transition(db, fast, "resolved", "li", T0 + dt.timedelta(hours=1), policy=POLICY)
    figures = metrics.cohort_figures(db, "opened_at >= :lo", {"lo": to_db(T0)}, T0 + dt.timedelta(hours=1))
    assert figures == {"opened": 3, "contacted": 2, "first_contact_within_sla": 2, "resolved": 1,
                       "resolved_within_sla": 1, "breached": 0, "median_minutes_to_first_contact": 20.0}


@pytest.mark.parametrize(("due", "done_at", "within"), [
    (T0, None, False), (T0, T0, True), (T0, T0 + US, False), (T0, T0 - S, True), (None, T0, True),
])
def test_within_sla_means_done_at_or_before_the_due_time(due, done_at, within):
    assert metrics.within_sla(due=due, done_at=done_at) is within


def test_first_response_minutes_is_wall_clock_time_to_first_contact():
    assert metrics.first_response_minutes(T0, T0 + dt.timedelta(minutes=90, seconds=30)) == 90.5
    assert metrics.first_response_minutes(T0, None) is None


@pytest.mark.parametrize(("resolved", "total", "rate"), [(3, 4, 0.75), (0, 5, 0.0), (0, 0, None)])
def test_resolution_rate_is_resolved_over_counted_and_none_without_cases(resolved, total, rate):
    assert metrics.resolution_rate(resolved, total) == rate
