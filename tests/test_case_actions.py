"""Specification of triage.cases.actions: every action, who may take it, and that a refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases
from triage.agents import add_agent
from triage.cases import Actor, perform
from triage.db import connect, transaction
from triage.errors import Conflict, Forbidden, NotFound, ValidationFailed
from triage.sla import default_policy
from triage.timeutil import from_db

POLICY = default_policy("Asia/Shanghai")
M = dt.timedelta(minutes=1)
LI = Actor("li", "agent")
WANG = Actor("wang", "agent")
BOSS = Actor("boss", "supervisor")



@pytest.fixture()
def case_id(db) -> int:
    for name, role in (("li", "agent"), ("wang", "agent"), ("boss", "supervisor")):
        add_agent(db, name, "pw", role)
    (pk,) = add_reviews(db, [review("r1", COMPLAINTS[0], customer_id="c1")])
    with transaction(db):
        cid = cases.add_review(db, review_pk=pk, customer_id="c1", priority="P2", risk=0.7, causes=("defect",),
                               now=T0, policy=POLICY).case_id
        db.execute("UPDATE reviews SET case_id = ?, status = 'scored', sentiment = 'negative', causes = '[\"defect\"]'"
                   " WHERE id = ?", (cid, pk))
    return cid


def act(db, case_id, actor, action, minutes=1, **fields):
    version = cases.get_case(db, case_id)["version"]
    return perform(db, case_id, actor, action, fields, version=version, policy=POLICY, now=T0 + minutes * M)


def state(db, case_id):
    tables = {t: [tuple(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY id")]
              for t in ("case_events", "contacts", "corrections", "case_pauses")}
    return dict(cases.get_case(db, case_id)), tables


def kinds(db, case_id):
    return [r["kind"] for r in db.execute("SELECT kind FROM case_events WHERE case_id = ? ORDER BY id", (case_id,))]


# -- the happy path ---------------------------------------------------------------------------


def test_claim_takes_an_open_case_and_audits_it(db, case_id):
    row = act(db, case_id, LI, "claim")
    assert (row["status"], row["assignee"], row["version"]) == ("claimed", "li", 2)
    assert kinds(db, case_id)[-1] == "claimed"


def test_release_gives_the_case_back_to_the_queue(db, case_id):
    act(db, case_id, LI, "claim")
    row = act(db, case_id, LI, "release", 2)
    assert (row["status"], row["assignee"]) == ("open", None)


def test_contact_logs_the_attempt_and_stops_the_first_contact_clock(db, case_id):
    act(db, case_id, LI, "claim")
    row = act(db, case_id, LI, "contact", 5, channel="wecom", outcome="reached", note="客户同意换货")
    assert row["status"] == "contacted" and from_db(row["first_contacted_at"]) == T0 + 5 * M
    assert row["sla_first_contact"] == "met"
    contact = db.execute("SELECT agent, channel, outcome, note FROM contacts").fetchone()
    assert tuple(contact) == ("li", "wecom", "reached", "客户同意换货")


def test_no_answer_is_logged_but_is_not_a_first_contact(db, case_id):
    act(db, case_id, LI, "claim")
    row = act(db, case_id, LI, "contact", 5, channel="phone", outcome="no_answer")
    assert (row["status"], row["first_contacted_at"]) == ("claimed", None)
    assert kinds(db, case_id)[-1] == "contacted"


def test_wait_pauses_and_resume_restarts_the_clocks(db, case_id):
    act(db, case_id, LI, "claim")
    act(db, case_id, LI, "contact", 2, channel="im", outcome="message_sent")
    row = act(db, case_id, LI, "wait", 3)
    assert row["status"] == "waiting_customer" and row["resolution_due"] is None
    row = act(db, case_id, LI, "resume", 63)
    assert row["status"] == "contacted" and row["resolution_due"] is not None
    assert db.execute("SELECT COUNT(*) FROM case_pauses WHERE resumed_at IS NOT NULL").fetchone()[0] == 1


def test_resolve_records_code_satisfaction_and_who(db, case_id):
    act(db, case_id, LI, "claim")
    act(db, case_id, LI, "contact", 2, channel="wecom", outcome="reached")
    row = act(db, case_id, LI, "resolve", 3, resolution="replacement", satisfaction="satisfied", note="已换新")
    assert (row["status"], row["resolution"], row["satisfaction"], row["resolved_by"]) == (
        "resolved", "replacement", "satisfied", "li")
    event = db.execute("SELECT detail FROM case_events WHERE kind = 'resolved'").fetchone()
    assert json.loads(event["detail"])["note"] == "已换新"


def test_close_as_unreachable(db, case_id):
    act(db, case_id, LI, "claim")
    row = act(db, case_id, LI, "close", 2, reason="unreachable")
    assert (row["status"], row["close_reason"]) == ("closed", "unreachable") and row["closed_at"]


def test_a_note_goes_on_the_timeline_by_anyone(db, case_id):
    act(db, case_id, WANG, "note", text="客户是老顾客，语气要客气")
    event = db.execute("SELECT actor, detail FROM case_events WHERE kind = 'note'").fetchone()
    assert (event["actor"], json.loads(event["detail"])["text"]) == ("wang", "客户是老顾客，语气要客气")


def test_a_correction_is_stored_with_who_and_when(db, case_id):
    act(db, case_id, WANG, "correct", review="default/r1", sentiment="negative", causes=["logistics", "defect"])
    row = db.execute("SELECT agent, at, sentiment, causes FROM corrections").fetchone()
    assert (row["agent"], from_db(row["at"]), row["sentiment"]) == ("wang", T0 + M, "negative")
    assert json.loads(row["causes"]) == ["logistics", "defect"]  # canonical cause order
    assert kinds(db, case_id)[-1] == "corrected"


def test_assign_by_a_supervisor(db, case_id):
    act(db, case_id, LI, "claim")
    row = act(db, case_id, BOSS, "assign", agent="wang")
    assert (row["status"], row["assignee"]) == ("claimed", "wang")
    assert json.loads(db.execute("SELECT detail FROM case_events WHERE kind = 'assigned'").fetchone()[0]) == {
        "previous_assignee": "li", "assignee": "wang"}


def test_every_accepted_action_bumps_the_version_by_one(db, case_id):
    before = cases.get_case(db, case_id)["version"]
    act(db, case_id, LI, "note", text="x")
    act(db, case_id, LI, "claim")
    assert cases.get_case(db, case_id)["version"] == before + 2


# -- permissions --------------------------------------------------------------------------------


def test_an_agent_cannot_assign(db, case_id):
    before = state(db, case_id)
    with pytest.raises(Forbidden):
        act(db, case_id, LI, "assign", agent="li")
    assert state(db, case_id) == before


@pytest.mark.parametrize(("action", "fields"), [
    ("contact", {"channel": "phone", "outcome": "reached"}),
    ("resolve", {"resolution": "refund"}),
    ("close", {"reason": "unreachable"}),
    ("release", {}),
])
def test_another_agents_claimed_case_cannot_be_worked(db, case_id, action, fields):
    act(db, case_id, LI, "claim")
    act(db, case_id, LI, "contact", 2, channel="phone", outcome="reached")
    before = state(db, case_id)
    with pytest.raises(Forbidden):
        act(db, case_id, WANG, action, 3, **fields)
    assert state(db, case_id) == before


def test_a_supervisor_resolves_someone_elses_case_only_after_reassigning_it(db, case_id):
    act(db, case_id, LI, "claim")
    act(db, case_id, LI, "contact", 2, channel="phone", outcome="reached")
    with pytest.raises(Forbidden):
        act(db, case_id, BOSS, "resolve", 3, resolution="refund")
    act(db, case_id, BOSS, "assign", 4, agent="boss")
    assert act(db, case_id, BOSS, "resolve", 5, resolution="refund")["resolved_by"] == "boss"


def test_a_supervisor_may_release_and_close_any_case(db, case_id):
    act(db, case_id, LI, "claim")
    assert act(db, case_id, BOSS, "release", 2)["assignee"] is None
    assert act(db, case_id, BOSS, "close", 3, reason="duplicate")["status"] == "closed"


def test_an_unclaimed_case_cannot_be_contacted(db, case_id):
    with pytest.raises(Forbidden):
        act(db, case_id, LI, "contact", channel="phone", outcome="reached")


# -- conflicts --------------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_and_changes_nothing(db, case_id):
    stale = cases.get_case(db, case_id)["version"]
    act(db, case_id, LI, "note", text="x")
    before = state(db, case_id)
    with pytest.raises(cases.VersionConflict):
        perform(db, case_id, WANG, "claim", {}, version=stale, policy=POLICY, now=T0 + 5 * M)
    assert state(db, case_id) == before


def test_a_case_someone_holds_cannot_be_claimed(db, case_id):
    act(db, case_id, LI, "claim")
    before = state(db, case_id)
    with pytest.raises(cases.ClaimedByOther) as caught:
        act(db, case_id, WANG, "claim", 2)
    assert caught.value.to_dict()["error"] == "conflict" and "li" in caught.value.message
    assert state(db, case_id) == before


@pytest.mark.parametrize(("path", "action", "fields"), [
    ((("claim", {}),), "wait", {}),
    ((("claim", {}),), "resolve", {"resolution": "refund"}),
    ((("claim", {}),), "resume", {}),
    ((("claim", {}), ("close", {"reason": "other"})), "claim", {}),
    ((("claim", {}), ("close", {"reason": "other"})), "close", {"reason": "other"}),
])
def test_actions_the_status_rules_out_are_conflicts(db, case_id, path, action, fields):
    for step, step_fields in path:
        act(db, case_id, LI, step, **step_fields)
    before = state(db, case_id)
    with pytest.raises(Conflict):
        act(db, case_id, LI, action, 9, **fields)
    assert state(db, case_id) == before


def test_concurrent_claims_have_exactly_one_winner(db, case_id, settings):
    version = cases.get_case(db, case_id)["version"]
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def claim(actor: Actor) -> None:
        conn = connect(settings.db_path)  # each agent has their own connection, as two requests would
        try:
            barrier.wait()
            perform(conn, case_id, actor, "claim", {}, version=version, policy=POLICY, now=T0 + M)
            outcomes[actor.username] = "won"
        except Conflict:
            outcomes[actor.username] = "conflict"
        finally:
            conn.close()

    threads = [threading.Thread(target=claim, args=(a,)) for a in (LI, WANG)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["conflict", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    assert cases.get_case(db, case_id)["assignee"] == winner
    assert kinds(db, case_id).count("claimed") == 1


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "fields", "field"), [
    ("dance", {}, "action"),
    ("contact", {"channel": "pigeon", "outcome": "reached"}, "channel"),
    ("contact", {"channel": "phone"}, "outcome"),
    ("resolve", {"resolution": "hug"}, "resolution"),
    ("resolve", {"resolution": "refund", "satisfaction": "meh"}, "satisfaction"),
    ("close", {}, "reason"),
    ("note", {"text": "   "}, "text"),
    ("note", {"text": "x" * 2001}, "text"),
    ("claim", {"agent": "li"}, "agent"),
    ("correct", {"review": "default/r1", "causes": ["weather"]}, "causes"),
    ("correct", {"review": "default/r1"}, "sentiment"),
    ("correct", {"review": "default/nope", "sentiment": "positive"}, "review"),
    ("assign", {"agent": "ghost"}, "agent"),
])
def test_bad_fields_are_422_naming_the_field_and_change_nothing(db, case_id, action, fields, field):
    before = state(db, case_id)
    with pytest.raises(ValidationFailed) as caught:
        act(db, case_id, BOSS, action, **fields)
    assert field in [item["field"] for item in caught.value.items]
    assert state(db, case_id) == before


def test_an_unknown_case_is_not_found(db, case_id):
    with pytest.raises(NotFound):
        perform(db, 999, LI, "claim", {}, version=1, policy=POLICY, now=T0)


def test_a_missing_version_is_a_422(db, case_id):
    with pytest.raises(ValidationFailed):
        perform(db, case_id, LI, "claim", {}, version=None, policy=POLICY, now=T0)  # type: ignore[arg-type]


# -- bulk assignment ---------------------------------------------------------------------------


def test_bulk_assign_skips_closed_and_unknown_cases(db, case_id):
    (pk,) = add_reviews(db, [review("r2", COMPLAINTS[1], customer_id="c2")])
    with transaction(db):
        other = cases.add_review(db, review_pk=pk, customer_id="c2", priority="P3", risk=0.5, causes=(),
                                 now=T0, policy=POLICY).case_id
    act(db, other, BOSS, "close", reason="duplicate")
    assert cases.bulk_assign(db, [case_id, other, 999], BOSS, "wang", policy=POLICY, now=T0 + M) == [case_id]
    assert cases.get_case(db, case_id)["assignee"] == "wang"


def test_bulk_assign_is_for_supervisors(db, case_id):
    with pytest.raises(Forbidden):
        cases.bulk_assign(db, [case_id], LI, "li", policy=POLICY, now=T0)
