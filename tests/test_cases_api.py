"""GET /api/v1/cases and /api/v1/cases/<id>: the contract's case objects, filters, paging, errors."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases
from triage.db import transaction
from triage.sla import default_policy

POLICY = default_policy("Asia/Shanghai")
CASE_KEYS = {"id", "customer_id", "priority", "status", "causes", "review_ids", "assignee", "first_contact_due",
             "resolution_due", "first_contacted_at", "resolved_at", "sla"}


@pytest.fixture()
def three_cases(db) -> list[int]:
    """Cases for c0 (P1, opened first), c1 (P2, claimed), c2 (P3, opened last)."""
    ids = []
    for i, priority in enumerate(("P1", "P2", "P3")):
        opened = T0 + dt.timedelta(minutes=i)
        (pk,) = add_reviews(db, [review(f"r{i}", COMPLAINTS[i], customer_id=f"c{i}")], now=opened)
        with transaction(db):
            case_id = cases.add_review(db, review_pk=pk, customer_id=f"c{i}", priority=priority, risk=0.7,
                                          causes=("defect",), now=opened, policy=POLICY).case_id
            db.execute("UPDATE reviews SET case_id = ? WHERE id = ?", (case_id, pk))
        ids.append(case_id)
    cases.transition(db, ids[1], "claimed", "li", T0 + dt.timedelta(minutes=5), policy=POLICY)
    return ids


def test_cases_need_a_token(client, three_cases):
    assert client.get("/api/v1/cases").status_code == 401


def test_list_is_newest_first_with_the_total(client, auth_headers, three_cases):
    body = client.get("/api/v1/cases", headers=auth_headers).get_json()
    assert body["total"] == 3
    assert [c["id"] for c in body["items"]] == three_cases[::-1]
    assert all(CASE_KEYS <= c.keys() for c in body["items"])


@pytest.mark.parametrize(("query", "expected"), [("status=claimed", [1]), ("priority=P1", [0]),
                                                  ("status=open&priority=P3", [2]), ("status=open,claimed", [2, 1, 0])])
def test_list_filters_by_status_and_priority(client, auth_headers, three_cases, query, expected):
    body = client.get(f"/api/v1/cases?{query}", headers=auth_headers).get_json()
    assert [c["id"] for c in body["items"]] == [three_cases[i] for i in expected]
    assert body["total"] == len(expected)


def test_limit_and_offset_page_through_while_total_counts_all(client, auth_headers, three_cases):
    body = client.get("/api/v1/cases?limit=1&offset=1", headers=auth_headers).get_json()
    assert ([c["id"] for c in body["items"]], body["total"]) == ([three_cases[1]], 3)


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=ten", "offset=-1", "status=lost", "priority=P4",
                                   "limit=%C2%B2", "limit=%D9%A1", "offset=99999999999999999999"])
def test_bad_parameters_are_a_400_json_error(client, auth_headers, query):
    response = client.get(f"/api/v1/cases?{query}", headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request" and response.get_json()["message"]


def test_one_case_by_id(client, auth_headers, three_cases):
    body = client.get(f"/api/v1/cases/{three_cases[1]}", headers=auth_headers).get_json()
    assert (body["customer_id"], body["priority"], body["status"], body["assignee"]) == ("c1", "P2", "claimed", "li")
    assert body["review_ids"] == ["r1"] and body["causes"] == ["defect"]
    assert body["first_contact_due"].endswith("+00:00")
    assert body["sla"]["first_contact"] in ("ok", "at_risk", "breached")


def test_unknown_case_is_a_404_json_error(client, auth_headers):
    response = client.get("/api/v1/cases/424242", headers=auth_headers)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_limit_defaults_to_100_and_goes_up_to_1000(db, client, auth_headers):
    pks = add_reviews(db, [review(f"r{i}", COMPLAINTS[0], customer_id=f"c{i}") for i in range(101)])
    with transaction(db):
        for i, pk in enumerate(pks):
            cases.add_review(db, review_pk=pk, customer_id=f"c{i}", priority="P3", risk=0.5, causes=("defect",),
                             now=T0, policy=POLICY)
    default = client.get("/api/v1/cases", headers=auth_headers).get_json()
    most = client.get("/api/v1/cases?limit=1000", headers=auth_headers).get_json()
    assert (len(default["items"]), len(most["items"]), default["total"]) == (100, 101, 101)
