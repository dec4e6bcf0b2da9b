"""Cases (triage.cases): one per customer, joining, life cycle with audit, pauses, JSON."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from tests.pipeline_support import T0, add_reviews, review
from triage import cases
from triage.db import open_db, transaction
from triage.errors import Conflict, NotFound
from triage.sla import add_business_time, default_policy
from triage.timeutil import from_db

POLICY = default_policy("Asia/Shanghai")
H = dt.timedelta(hours=1)


def put(conn, pk, customer="c1", priority="P3", causes=("logistics",), risk=0.5, now=T0):
    with transaction(conn):
        case_id = cases.add_review(conn, review_pk=pk, customer_id=customer, priority=priority, risk=risk,
                                      causes=causes, now=now, policy=POLICY).case_id
        conn.execute("UPDATE reviews SET case_id = ? WHERE id = ?", (case_id, pk))
    return case_id


@pytest.fixture()
def pks(db):
    return add_reviews(db, [review(f"r{i}", "物流太慢了", customer_id=f"c{i % 2 + 1}") for i in range(6)])


def events(conn, case_id):
    return [(r["kind"], r["actor"], r["from_status"], r["to_status"])
            for r in conn.execute("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", (case_id,))]


def walk(conn, case_id, *statuses, start=T0, step=dt.timedelta(minutes=10), actor="agent1"):
    now = start
    for status in statuses:
        now += step
        cases.transition(conn, case_id, status, actor, now, policy=POLICY)
    return now


# -- one case per customer --------------------------------------------------------------------


def test_first_at_risk_review_opens_a_case_with_its_sla_dues(db, pks):
    case_id = put(db, pks[0], priority="P2")
    row = cases.get_case(db, case_id)
    assert (row["status"], row["priority"], row["customer_id"]) == ("open", "P2", "c1")
    assert from_db(row["first_contact_due"]) == add_business_time(T0, 4 * H, POLICY.calendar)
    assert events(db, case_id) == [("opened", "system", None, "open")]


def test_next_review_of_the_same_customer_joins_the_open_case(db, pks):
    first = put(db, pks[0])
    second = put(db, pks[2], now=T0 + H)
    assert first == second
    assert db.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 1
    assert [e[0] for e in events(db, first)] == ["opened", "review_added"]


def test_other_customers_get_their_own_cases(db, pks):
    assert put(db, pks[0], customer="c1") != put(db, pks[1], customer="c2")


def test_concurrent_openings_for_one_customer_make_one_case(settings, db, pks):
    barrier = threading.Barrier(6)
    errors = []

    def worker(i):
        conn = open_db(settings.db_path)
        try:
            barrier.wait()
            put(conn, pks[0], customer="racer", risk=0.1 * i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("SELECT COUNT(*) FROM cases WHERE customer_id = 'racer'").fetchone()[0] == 1


def test_joining_raises_priority_and_recomputes_dues_from_the_original_start(db, pks):
    case_id = put(db, pks[0], priority="P3")
    put(db, pks[2], priority="P1", now=T0 + 3 * H)
    row = cases.get_case(db, case_id)
    assert row["priority"] == "P1"
    assert from_db(row["first_contact_due"]) == add_business_time(T0, 1 * H, POLICY.calendar)
    assert from_db(row["resolution_due"]) == T0 + 24 * H  # the resolution clock is the wall clock
    changed = db.execute("SELECT detail FROM case_events WHERE case_id = ? AND kind = 'priority_changed'",
                         (case_id,)).fetchone()
    assert json.loads(changed["detail"])["from"] == "P3"


def test_joining_never_lowers_priority(db, pks):
    case_id = put(db, pks[0], priority="P1")
    put(db, pks[2], priority="P3")
    assert cases.get_case(db, case_id)["priority"] == "P1"


def test_case_causes_are_the_union_in_canonical_order(db, pks):
    case_id = put(db, pks[0], causes=("description_mismatch",))
    put(db, pks[2], causes=("defect", "description_mismatch"))
    assert json.loads(cases.get_case(db, case_id)["causes"]) == ["defect", "description_mismatch"]


def test_a_resolved_case_does_not_take_new_reviews(db, pks):
    first = put(db, pks[0])
    walk(db, first, "claimed", "contacted", "resolved")
    assert put(db, pks[2], now=T0 + 5 * H) != first


# -- life cycle -------------------------------------------------------------------------------


def test_full_life_cycle_is_audited_with_actor_and_statuses(db, pks):
    case_id = put(db, pks[0])
    walk(db, case_id, "claimed", "contacted", "waiting_customer", "contacted", "resolved", "closed")
    trail = [e for e in events(db, case_id) if e[0] == "status_changed"]
    assert trail == [
        ("status_changed", "agent1", "open", "claimed"),
        ("status_changed", "agent1", "claimed", "contacted"),
        ("status_changed", "agent1", "contacted", "waiting_customer"),
        ("status_changed", "agent1", "waiting_customer", "contacted"),
        ("status_changed", "agent1", "contacted", "resolved"),
        ("status_changed", "agent1", "resolved", "closed"),
    ]
    row = cases.get_case(db, case_id)
    assert row["status"] == "closed" and row["closed_at"] is not None


def test_claim_assigns_the_actor_and_release_clears_it(db, pks):
    case_id = put(db, pks[0])
    assert cases.transition(db, case_id, "claimed", "li", T0 + H, policy=POLICY)["assignee"] == "li"
    assert cases.transition(db, case_id, "open", "li", T0 + 2 * H, policy=POLICY)["assignee"] is None


def test_first_contact_is_recorded_once_and_meets_the_clock(db, pks):
    case_id = put(db, pks[0], priority="P2")
    contacted_at = walk(db, case_id, "claimed", "contacted", "waiting_customer", "contacted")
    row = cases.get_case(db, case_id)
    assert from_db(row["first_contacted_at"]) == T0 + dt.timedelta(minutes=20)
    assert from_db(row["first_contacted_at"]) < contacted_at
    assert row["sla_first_contact"] == "met"


@pytest.mark.parametrize(("path", "target"), [((), "resolved"), ((), "contacted"), (("claimed",), "resolved"),
                                              (("claimed", "contacted", "resolved", "closed"), "open")])
def test_invalid_transitions_are_rejected_and_change_nothing(db, pks, path, target):
    case_id = put(db, pks[0])
    walk(db, case_id, *path)
    before = (dict(cases.get_case(db, case_id)), events(db, case_id))
    with pytest.raises(cases.InvalidTransition):
        cases.transition(db, case_id, target, "agent1", T0 + 9 * H, policy=POLICY)
    assert (dict(cases.get_case(db, case_id)), events(db, case_id)) == before


def test_a_stale_version_is_refused(db, pks):
    case_id = put(db, pks[0])
    version = cases.get_case(db, case_id)["version"]
    cases.transition(db, case_id, "claimed", "a", T0 + H, policy=POLICY, expected_version=version)
    with pytest.raises(cases.VersionConflict):
        cases.transition(db, case_id, "open", "b", T0 + 2 * H, policy=POLICY, expected_version=version)


def test_unknown_case_is_not_found(db):
    with pytest.raises(NotFound):
        cases.transition(db, 999, "claimed", "a", T0, policy=POLICY)


def test_waiting_for_the_customer_pauses_the_resolution_due(db, pks):
    case_id = put(db, pks[0], priority="P2")
    walk(db, case_id, "claimed", "contacted")
    due_before = from_db(cases.get_case(db, case_id)["resolution_due"])
    paused_at, resumed_at = T0 + H, T0 + 4 * H
    cases.transition(db, case_id, "waiting_customer", "a", paused_at, policy=POLICY)
    assert cases.get_case(db, case_id)["resolution_due"] is None  # unknown until the customer answers
    cases.transition(db, case_id, "contacted", "a", resumed_at, policy=POLICY)
    due_after = from_db(cases.get_case(db, case_id)["resolution_due"])
    paused = [tuple(r) for r in db.execute("SELECT paused_at, resumed_at FROM case_pauses WHERE case_id = ?",
                                           (case_id,))]
    assert len(paused) == 1 and paused[0][1] is not None
    assert due_after - due_before == 3 * H  # 10:00 -> 13:00 local, all business time


def test_reopening_clears_the_resolution(db, pks):
    case_id = put(db, pks[0])
    walk(db, case_id, "claimed", "contacted", "resolved")
    row = cases.transition(db, case_id, "contacted", "a", T0 + 2 * H, policy=POLICY)
    assert (row["status"], row["resolved_at"]) == ("contacted", None)


def test_reopening_is_refused_while_the_customer_has_another_active_case(db, pks):
    first = put(db, pks[0])
    walk(db, first, "claimed", "contacted", "resolved")
    put(db, pks[2], now=T0 + 2 * H)
    with pytest.raises(Conflict):
        cases.transition(db, first, "contacted", "a", T0 + 3 * H, policy=POLICY)


# -- JSON ---------------------------------------------------------------------------------------


def test_case_json_has_the_contract_fields_and_wire_times(db, pks):
    case_id = put(db, pks[0], priority="P1", causes=("defect",))
    put(db, pks[2], priority="P2")
    body = cases.case_to_json(db, cases.get_case(db, case_id), T0, POLICY)
    contract = {"id", "customer_id", "priority", "status", "causes", "review_ids", "assignee", "first_contact_due",
                "resolution_due", "first_contacted_at", "resolved_at", "sla"}
    assert contract <= body.keys()
    assert body["review_ids"] == ["r0", "r2"]
    assert body["first_contact_due"] == "2026-11-26T03:00:00+00:00"
    assert body["sla"] == {"first_contact": "ok", "resolution": "ok"}


def test_case_json_states_are_computed_for_now_before_any_timer_fires(db, pks):
    case_id = put(db, pks[0], priority="P1")
    row = cases.get_case(db, case_id)  # stored states are still "ok"
    at_risk = cases.case_to_json(db, row, T0 + dt.timedelta(minutes=50), POLICY)["sla"]["first_contact"]
    breached = cases.case_to_json(db, row, T0 + 1 * H, POLICY)["sla"]["first_contact"]
    assert (row["sla_first_contact"], at_risk, breached) == ("ok", "at_risk", "breached")
