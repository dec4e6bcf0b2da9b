"""POST /api/v1/cases/<id>/actions and the queue options of GET /api/v1/cases, through the Flask test client."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline_support import COMPLAINTS, add_reviews, review
from triage import cases
from triage.agents import add_agent, disable_agent
from triage.db import transaction
from triage.sla import default_policy
from triage.timeutil import utcnow
from triage.tokens import create_token

POLICY = default_policy("Asia/Shanghai")



@pytest.fixture()
def tokens(db) -> dict[str, dict[str, str]]:
    out = {}
    for name, role in (("li", "agent"), ("wang", "agent"), ("boss", "supervisor")):
        add_agent(db, name, "pw", role)
        out[name] = {"Authorization": f"Bearer {create_token(db, f'{name}-bot', agent=name)[1]}"}
    out["readonly"] = {"Authorization": f"Bearer {create_token(db, 'bi')[1]}"}
    return out


def open_case(db, customer="c1", priority="P2", product="p1", minutes=0) -> int:
    (pk,) = add_reviews(db, [review(f"{customer}-r", COMPLAINTS[0], customer_id=customer, product_id=product,
                                    category="家电", platform="tmall")])
    # Recent: the API acts at the real time, and a case opened long ago would be breached by then.
    now = utcnow() - dt.timedelta(minutes=10 - minutes)
    with transaction(db):
        case_id = cases.add_review(db, review_pk=pk, customer_id=customer, priority=priority, risk=0.7,
                                   causes=("defect",), now=now, policy=POLICY).case_id
        db.execute("UPDATE reviews SET case_id = ? WHERE id = ?", (case_id, pk))
    return case_id


def act(client, headers, case_id, action, version, **fields):
    return client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, "version": version, **fields},
                       headers=headers)


def version_of(client, headers, case_id) -> int:
    return client.get(f"/api/v1/cases/{case_id}", headers=headers).get_json()["version"]


def test_claim_returns_the_updated_case(client, db, tokens):
    case_id = open_case(db)
    response = act(client, tokens["li"], case_id, "claim", 1)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["assignee"], body["version"]) == ("claimed", "li", 2)
    claimed = [e for e in body["events"] if e["kind"] == "claimed"]
    assert [e["actor"] for e in claimed] == ["li"]


def test_the_whole_flow_claim_contact_resolve(client, db, tokens):
    case_id = open_case(db)
    v = act(client, tokens["li"], case_id, "claim", 1).get_json()["version"]
    v = act(client, tokens["li"], case_id, "contact", v, channel="wecom", outcome="reached", note="已联系").get_json()[
        "version"]
    body = act(client, tokens["li"], case_id, "resolve", v, resolution="refund", satisfaction="satisfied").get_json()
    assert (body["status"], body["resolution"], body["satisfaction"], body["resolved_by"]) == (
        "resolved", "refund", "satisfied", "li")
    assert [c["channel"] for c in body["contacts"]] == ["wecom"]
    kinds = [e["kind"] for e in body["events"] if not e["kind"].startswith("sla_")]
    assert kinds == ["opened", "claimed", "contacted", "resolved"]


def test_a_read_only_token_gets_403(client, db, tokens):
    case_id = open_case(db)
    response = act(client, tokens["readonly"], case_id, "claim", 1)
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert cases.get_case(db, case_id)["version"] == 1


def test_an_agent_trying_a_supervisor_action_gets_403(client, db, tokens):
    case_id = open_case(db)
    response = act(client, tokens["li"], case_id, "assign", 1, agent="li")
    assert (response.status_code, response.get_json()["error"]) == (403, "forbidden")


def test_another_agents_claimed_case_cannot_be_resolved_without_reassignment(client, db, tokens):
    case_id = open_case(db)
    v = act(client, tokens["li"], case_id, "claim", 1).get_json()["version"]
    v = act(client, tokens["li"], case_id, "contact", v, channel="phone", outcome="reached").get_json()["version"]
    assert act(client, tokens["wang"], case_id, "resolve", v, resolution="refund").status_code == 403
    v = act(client, tokens["boss"], case_id, "assign", v, agent="wang").get_json()["version"]
    assert act(client, tokens["wang"], case_id, "resolve", v, resolution="refund").status_code == 200


def test_a_stale_version_is_409_and_changes_nothing(client, db, tokens):
    case_id = open_case(db)
    act(client, tokens["li"], case_id, "note", 1, text="先记一笔")
    before = client.get(f"/api/v1/cases/{case_id}", headers=tokens["li"]).get_json()
    response = act(client, tokens["wang"], case_id, "claim", 1)
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "conflict" and body["message"] and body["reason"] == "stale_version"
    assert client.get(f"/api/v1/cases/{case_id}", headers=tokens["li"]).get_json() == before


def test_claiming_a_case_someone_holds_is_409(client, db, tokens):
    case_id = open_case(db)
    act(client, tokens["li"], case_id, "claim", 1)
    response = act(client, tokens["wang"], case_id, "claim", 2)
    assert (response.status_code, response.get_json()["error"], response.get_json()["reason"]) == (
        409, "conflict", "claimed")


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "claim"}, "version"),
    ({"action": "fly", "version": 1}, "action"),
    ({"action": "contact", "version": 1, "channel": "fax", "outcome": "reached"}, "channel"),
    ({"action": "claim", "version": "1"}, "version"),
])
def test_bad_fields_are_422(client, db, tokens, body, field):
    case_id = open_case(db)
    response = client.post(f"/api/v1/cases/{case_id}/actions", json=body, headers=tokens["li"])
    assert response.status_code == 422
    assert field in [item["field"] for item in response.get_json()["items"]]


def test_a_non_json_body_is_refused(client, db, tokens):
    case_id = open_case(db)
    response = client.post(f"/api/v1/cases/{case_id}/actions", data="claim", headers=tokens["li"])
    assert response.status_code == 415


def test_an_unknown_case_is_404(client, db, tokens):
    assert act(client, tokens["li"], 4242, "claim", 1).status_code == 404


def test_a_disabled_agents_token_stops_working(client, db, tokens):
    case_id = open_case(db)
    disable_agent(db, "li")
    assert act(client, tokens["li"], case_id, "claim", 1).status_code == 401


def test_case_json_carries_the_queue_fields_reviews_and_events(client, db, tokens):
    case_id = open_case(db)
    body = client.get(f"/api/v1/cases/{case_id}", headers=tokens["readonly"]).get_json()
    assert {"version", "customer_ltv", "value_tier", "priority_reasons", "revised_upward"} <= body.keys()
    assert body["value_tier"] == "regular" and body["revised_upward"] is False
    (one,) = body["reviews"]
    assert (one["platform"], one["review_id"], one["complaints"]) == ("tmall", "c1-r", [])
    assert body["events"][0]["kind"] == "opened"


# -- the list: queue order, filters, cursors ------------------------------------------------------


@pytest.fixture()
def queue(db) -> dict[str, int]:
    ids = {"p3": open_case(db, "a", "P3", minutes=0), "p1": open_case(db, "b", "P1", minutes=1),
           "p2_late": open_case(db, "c", "P2", product="p9", minutes=3),
           "p2_early": open_case(db, "d", "P2", minutes=2)}
    db.execute("UPDATE cases SET value_tier = 'top' WHERE id = ?", (ids["p2_late"],))
    return ids


def ids_of(client, headers, query) -> list[int]:
    response = client.get(f"/api/v1/cases?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [c["id"] for c in response.get_json()["items"]]


def test_sort_queue_is_priority_then_tier_then_due(client, tokens, queue):
    assert ids_of(client, tokens["readonly"], "sort=queue") == [queue[k] for k in ("p1", "p2_late", "p2_early", "p3")]


@pytest.mark.parametrize(("query", "expected"), [
    ("priority=P2", ["p2_late", "p2_early"]),
    ("product=p9", ["p2_late"]),
    ("cause=defect", ["p1", "p2_late", "p2_early", "p3"]),
    ("cause=logistics", []),
    ("sla=ok,at_risk", ["p1", "p2_late", "p2_early", "p3"]),
    ("sla=breached", []),
    ("category=%E5%AE%B6%E7%94%B5&platform=tmall&priority=P1", ["p1"]),
    ("unassigned=1&priority=P3", ["p3"]),
])
def test_queue_filters(client, tokens, queue, query, expected):
    assert ids_of(client, tokens["readonly"], f"sort=queue&{query}") == [queue[k] for k in expected]


def test_assignee_and_mine_filters(client, db, tokens, queue):
    act(client, tokens["li"], queue["p3"], "claim", 1)
    assert ids_of(client, tokens["li"], "sort=queue&mine=1") == [queue["p3"]]
    assert ids_of(client, tokens["readonly"], "assignee=li") == [queue["p3"]]
    assert client.get("/api/v1/cases?mine=1", headers=tokens["readonly"]).status_code == 400


def test_keyset_pages_walk_the_queue_without_repeats(client, tokens, queue):
    seen, cursor = [], None
    while True:
        query = "sort=queue&limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"/api/v1/cases?{query}", headers=tokens["readonly"]).get_json()
        seen += [c["id"] for c in body["items"]]
        assert body["total"] == 4
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids_of(client, tokens["readonly"], "sort=queue")


def test_newest_first_pages_by_cursor_too(client, tokens, queue):
    first = client.get("/api/v1/cases?limit=2", headers=tokens["readonly"]).get_json()
    second = client.get(f"/api/v1/cases?limit=2&cursor={first['next_cursor']}", headers=tokens["readonly"]).get_json()
    assert [c["id"] for c in first["items"] + second["items"]] == ids_of(client, tokens["readonly"], "")


@pytest.mark.parametrize("query", ["colour=red", "sort=queue&prio=P1", "Status=open"])
def test_unknown_query_parameters_are_422(client, tokens, query):
    response = client.get(f"/api/v1/cases?{query}", headers=tokens["readonly"])
    assert response.status_code == 422 and response.get_json()["items"]


@pytest.mark.parametrize("query", ["sort=random", "cause=weather", "sla=late", "cursor=garbage!",
                                   "cursor=abc&offset=3", "unassigned=maybe"])
def test_bad_values_are_400(client, tokens, query):
    assert client.get(f"/api/v1/cases?{query}", headers=tokens["readonly"]).status_code == 400
