"""The contact log (triage.cases.contacts): attempts stored in order, bad fields refused, nothing half-stored."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases
from triage.db import transaction
from triage.errors import NotFound, ValidationFailed
from triage.sla import default_policy

POLICY = default_policy("Asia/Shanghai")
M = dt.timedelta(minutes=1)


def open_case(db, customer="c1") -> int:
    (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)])
    with transaction(db):
        return cases.add_review(db, review_pk=pk, customer_id=customer, priority="P2", risk=0.8,
                                causes=("defect",), now=T0, policy=POLICY).case_id


def log(db, case_id, channel="phone", outcome="no_answer", note=None, now=T0, agent="li"):
    with transaction(db):
        return cases.log_contact(db, case_id, agent, channel, outcome, note, now)


def test_a_logged_contact_is_listed_with_everything_it_was_given(db):
    case_id = open_case(db)
    logged = log(db, case_id, "wecom", "reached", "客户同意换货", T0 + M)
    (listed,) = cases.list_contacts(db, case_id)
    assert listed == logged
    assert (listed.case_id, listed.at, listed.agent, listed.channel, listed.outcome, listed.note) == (
        case_id, T0 + M, "li", "wecom", "reached", "客户同意换货")


def test_contacts_are_listed_oldest_first_and_only_for_their_case(db):
    first, other = open_case(db, "c1"), open_case(db, "c2")
    log(db, first, "sms", "message_sent", now=T0 + 2 * M)
    log(db, first, "phone", "no_answer", now=T0 + M)
    log(db, other, "email", "replied", now=T0)
    assert [(c.channel, c.at) for c in cases.list_contacts(db, first)] == [("phone", T0 + M), ("sms", T0 + 2 * M)]
    assert [c.channel for c in cases.list_contacts(db, other)] == ["email"]


@pytest.mark.parametrize("channel", cases.CHANNELS)
@pytest.mark.parametrize("outcome", cases.OUTCOMES)
def test_every_channel_and_outcome_of_the_contract_is_accepted(db, channel, outcome):
    case_id = open_case(db)
    log(db, case_id, channel, outcome)
    assert [(c.channel, c.outcome) for c in cases.list_contacts(db, case_id)] == [(channel, outcome)]


def test_bad_fields_are_refused_by_name_and_nothing_is_stored(db):
    case_id = open_case(db)
    with pytest.raises(ValidationFailed) as caught:
        log(db, case_id, channel="fax", outcome="maybe")
    assert [item["field"] for item in caught.value.items] == ["channel", "outcome"]
    assert caught.value.code == "invalid_contact"
    assert cases.list_contacts(db, case_id) == []


def test_a_contact_for_an_unknown_case_is_not_found(db):
    with pytest.raises(NotFound):
        log(db, 424242)


def test_a_blank_note_is_stored_as_none(db):
    case_id = open_case(db)
    log(db, case_id, note="   ")
    assert cases.list_contacts(db, case_id)[0].note is None


def test_a_contact_as_json_has_its_time_on_the_wire_format(db):
    case_id = open_case(db)
    body = log(db, case_id, "im", "replied", "ok", T0).to_json()
    assert body == {"id": body["id"], "case_id": case_id, "at": "2026-11-26T02:00:00+00:00", "agent": "li",
                    "channel": "im", "outcome": "replied", "note": "ok"}
