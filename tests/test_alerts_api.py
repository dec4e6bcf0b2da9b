"""The alerts API exactly as the contract says: list by status, and actions for supervisors and admins."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from triage.agents import add_agent
from triage.alerts.jobs import run_detection
from triage.alerts.store import act, record_reviews
from triage.db import transaction
from triage.timeutil import to_db, utcnow
from triage.tokens import create_token

CONTRACT_FIELDS = ["id", "product_id", "category", "cause", "status", "opened_at", "count", "rate", "baseline_rate",
                   "review_ids", "terms"]


def burst(db, product: str, cause: str = "defect", n: int = 4, text: str = "衣服有色差，和图片不一样") -> None:
    now = utcnow()
    pks = []
    with transaction(db):
        for i in range(n):
            at = to_db(now - timedelta(hours=i + 1))
            pks.append(db.execute(
                "INSERT INTO reviews (platform, review_id, text, customer_id, product_id, category, created_at,"
                " received_at, status, sentiment, causes) VALUES ('jd', ?, ?, ?, ?, '服装', ?, ?, 'scored', 'negative', ?)",
                (f"{product}-{i}", text, f"c-{product}-{i}", product, at, at, json.dumps([cause])),
            ).lastrowid)
        record_reviews(db, pks, now)


@pytest.fixture()
def alerts(db, settings) -> list[int]:
    """Three alerts: one open, one acknowledged, one resolved."""
    for product in ("A1", "A2", "A3"):
        burst(db, product)
    opened = run_detection(db, utcnow(), settings).opened
    act(db, opened[1], "acknowledge", actor="lead", now=utcnow())
    act(db, opened[2], "resolve", actor="lead", now=utcnow(), resolution="supplier_qc")
    return opened


def agent_token(db, username: str, role: str) -> dict[str, str]:
    agent_id = add_agent(db, username, "correct horse battery", role)
    token_id, token = create_token(db, f"{username}-token")
    with transaction(db):
        db.execute("UPDATE api_tokens SET agent_id = ? WHERE id = ?", (agent_id, token_id))
    return {"Authorization": f"Bearer {token}"}


def test_alerts_need_a_token(client, alerts):
    assert client.get("/api/v1/alerts").status_code == 401


def test_the_list_has_exactly_the_contract_fields_first(client, auth_headers, alerts):
    body = client.get("/api/v1/alerts", headers=auth_headers).get_json()
    assert body["total"] == 3
    item = body["items"][0]
    assert list(item)[:len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    assert item["review_ids"] and all(isinstance(r, str) for r in item["review_ids"])
    assert isinstance(item["terms"], list)
    assert item["opened_at"].endswith("+00:00")


@pytest.mark.parametrize(("status", "index"), [("open", 0), ("acknowledged", 1), ("resolved", 2)])
def test_the_list_filters_by_status(client, auth_headers, alerts, status, index):
    body = client.get(f"/api/v1/alerts?status={status}", headers=auth_headers).get_json()
    assert [i["id"] for i in body["items"]] == [alerts[index]]
    assert body["total"] == 1
    assert body["items"][0]["status"] == status


@pytest.mark.parametrize("query", ["status=closed", "sort=new", "limit=abc", "limit=1001"])
def test_bad_or_unknown_query_parameters_are_a_422(client, auth_headers, alerts, query):
    response = client.get(f"/api/v1/alerts?{query}", headers=auth_headers)
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_query"


def test_one_alert_carries_its_timeline(client, auth_headers, alerts):
    body = client.get(f"/api/v1/alerts/{alerts[2]}", headers=auth_headers).get_json()
    assert [e["kind"] for e in body["events"]] == ["opened", "resolved"]
    assert client.get("/api/v1/alerts/999999", headers=auth_headers).status_code == 404


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_a_supervisor_or_admin_resolves_an_alert(client, db, alerts, role):
    headers = agent_token(db, "boss", role)
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=headers,
                           json={"action": "resolve", "resolution": "listing_fixed", "note": "主图已换"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["resolution"], body["note"]) == ("resolved", "listing_fixed", "主图已换")
    assert body["events"][-1]["actor"] == "boss"


def test_acknowledge_moves_an_open_alert_to_acknowledged(client, db, alerts):
    headers = agent_token(db, "boss", "supervisor")
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=headers, json={"action": "acknowledge"})
    assert response.get_json()["status"] == "acknowledged"


def test_an_agent_token_may_not_act(client, db, alerts):
    headers = agent_token(db, "worker", "agent")
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=headers, json={"action": "acknowledge"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_a_read_only_token_may_not_act(client, auth_headers, alerts):
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=auth_headers, json={"action": "acknowledge"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [({"action": "close"}, "action"), ({"action": "resolve"}, "resolution"),
     ({"action": "resolve", "resolution": "refund"}, "resolution"), ({"action": "acknowledge", "note": 5}, "note")],
)
def test_bad_action_fields_are_a_422_and_change_nothing(client, db, alerts, body, field):
    headers = agent_token(db, "boss", "supervisor")
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=headers, json=body)
    assert response.status_code == 422
    assert response.get_json()["items"][0]["field"] == field
    assert db.execute("SELECT status FROM alerts WHERE id = ?", (alerts[0],)).fetchone()[0] == "open"


def test_acting_on_a_resolved_alert_is_a_409(client, db, alerts):
    headers = agent_token(db, "boss", "supervisor")
    response = client.post(f"/api/v1/alerts/{alerts[2]}/actions", headers=headers, json={"action": "acknowledge"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "conflict"


def test_an_action_on_an_unknown_alert_is_a_404(client, db):
    headers = agent_token(db, "boss", "supervisor")
    assert client.post("/api/v1/alerts/424242/actions", headers=headers, json={"action": "acknowledge"}).status_code == 404


def test_an_action_body_must_be_json(client, db, alerts):
    headers = agent_token(db, "boss", "supervisor")
    response = client.post(f"/api/v1/alerts/{alerts[0]}/actions", headers=headers, data="action=acknowledge",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
