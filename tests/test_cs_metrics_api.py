"""GET /api/v1/metrics/cs: the contract's shape, who may ask, and 422 for bad queries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.pipeline_support import COMPLAINTS, add_reviews, review
from tests.supervisor_support import PEOPLE, add_people, sign_in, token_for
from triage import cases
from triage.db import transaction
from triage.sla import default_policy
from triage.timeutil import utcnow

SH = ZoneInfo("Asia/Shanghai")
POLICY = default_policy("Asia/Shanghai")
URL = "/api/v1/metrics/cs"
CONTRACT = {"key", "cases_handled", "first_contact_minutes", "resolved", "resolved_within_sla", "resolution_rate",
            "satisfaction", "revised_upward"}


@pytest.fixture()
def people(db):
    add_people(db)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_case(db, customer: str, opened: dt.datetime, agent: str | None = None) -> int:
    (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer)], now=opened)
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id=customer, priority="P2", risk=0.8,
                                   causes=("defect",), now=opened, policy=POLICY).case_id
    if agent:
        cases.transition(db, case_id, "claimed", agent, opened + dt.timedelta(minutes=5), policy=POLICY,
                         assignee=agent)
        cases.transition(db, case_id, "contacted", agent, opened + dt.timedelta(minutes=20), policy=POLICY)
    return case_id


def test_a_supervisor_token_gets_the_contract_object_grouped_by_agent(client, db, people):
    day = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    open_case(db, "c1", day, PEOPLE["li"][0])
    open_case(db, "c2", day.replace(hour=22), PEOPLE["wang"][0])
    response = client.get(f"{URL}?from=2026-03-02&to=2026-03-02&group_by=agent", headers=bearer(token_for(db, "zhao")))
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("from", "to", "timezone", "group_by")} == \
        {"from": "2026-03-02", "to": "2026-03-02", "timezone": "Asia/Shanghai", "group_by": "agent"}
    groups = {g["key"]: g for g in body["groups"]}
    assert set(groups) == {PEOPLE["li"][0], PEOPLE["wang"][0]}
    for group in groups.values():
        assert CONTRACT <= set(group)
    assert groups[PEOPLE["li"][0]]["cases_handled"] == 1
    assert groups[PEOPLE["li"][0]]["first_contact_minutes"] == {"median": 20.0, "p90": 20.0, "n": 1}
    assert body["overall"]["cases_handled"] == 2
    assert CONTRACT - {"key"} <= set(body["overall"])


def test_grouped_by_shift_the_night_case_counts_for_the_night_shift(client, db, people):
    day = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    open_case(db, "c1", day, PEOPLE["li"][0])
    open_case(db, "c2", day.replace(hour=22), PEOPLE["li"][0])
    open_case(db, "c3", day.replace(hour=23), None)
    body = client.get(f"{URL}?from=2026-03-02&to=2026-03-02&group_by=shift",
                      headers=bearer(token_for(db, "root"))).get_json()
    assert [(g["key"], g["cases_handled"]) for g in body["groups"]] == [("白班", 1), ("夜班", 2)]
    assert body["groups"][1]["satisfaction"] == {"answers": 0, "satisfied": 0, "rate": None}


def test_the_default_period_is_the_last_seven_days_ending_today(client, db, people):
    body = client.get(URL, headers=bearer(token_for(db, "zhao"))).get_json()
    today = utcnow().astimezone(SH).date()
    assert (body["from"], body["to"]) == (str(today - dt.timedelta(days=6)), str(today))
    assert body["group_by"] == "agent"


def test_a_signed_in_supervisor_may_use_the_session(client, db, people):
    sign_in(client, "zhao")
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize("who", ["li", None])
def test_an_agent_token_or_a_read_only_token_gets_403(client, db, people, who):
    response = client.get(URL, headers=bearer(token_for(db, who)))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_a_signed_in_agent_gets_403(client, db, people):
    sign_in(client, "li")
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer trg_nope"}, {"Authorization": "Basic eDp5"}])
def test_no_or_a_bad_credential_gets_401(client, db, people, headers):
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized"}


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-3-02", "from"),
    ("from=2026-02-30", "from"),
    ("to=yesterday", "to"),
    ("from=2026-03-05&to=2026-03-01", "to"),
    ("from=2024-01-01&to=2026-03-01", "from"),
    ("group_by=team", "group_by"),
    ("group_by=agent&shift=白班", "shift"),
])
def test_bad_dates_group_by_or_parameters_get_422_naming_the_field(client, db, people, query, field):
    response = client.get(f"{URL}?{query}", headers=bearer(token_for(db, "zhao")))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_query"
    assert field in [item["field"] for item in body["items"]]
