"""Specification of the token-protected read API (reviews, stats) and GET /healthz."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from triage.db import transaction
from triage.ingest import ingest
from triage.timeutil import to_db, utcnow
from triage.tokens import create_token, revoke_token
from triage.validation import Review
from web import create_app

RECEIVED = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)


def add_review(db, review_id="r1", platform="default", **fields):
    base = {"platform": platform, "review_id": review_id, "text": "物流太慢", "customer_id": "c1", "product_id": "p1"}
    ingest(db, [Review(**{**base, **fields})], RECEIVED)


def set_status(db, review_id, status):
    with transaction(db):
        db.execute("UPDATE reviews SET status = ? WHERE review_id = ?", (status, review_id))


def add_case(db, customer_id, status="open", *, first="ok", resolution="ok", first_due=None, resolution_due=None):
    now = to_db(utcnow())
    with transaction(db):
        cur = db.execute(
            """INSERT INTO cases (customer_id, priority, status, risk, opened_at, updated_at, sla_started_at,
                                  sla_first_contact, sla_resolution, first_contact_due, resolution_due)
               VALUES (?, 'P2', ?, 0.8, ?, ?, ?, ?, ?, ?, ?)""",
            (customer_id, status, now, now, now, first, resolution, first_due, resolution_due),
        )
    return cur.lastrowid


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/stats", "/api/v1/reviews/default/r1"])
def test_no_token_is_401_unauthorized(client, path):
    response = client.get(path)
    assert (response.status_code, response.get_json()) == (401, {"error": "unauthorized"})
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer trg_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "trg_no-scheme"],
    ids=["unknown", "empty", "basic", "no-scheme"],
)
def test_a_bad_token_is_401_unauthorized(client, authorization):
    response = client.get("/api/v1/stats", headers={"Authorization": authorization})
    assert (response.status_code, response.get_json()) == (401, {"error": "unauthorized"})


def test_a_revoked_token_is_401(client, db):
    token_id, token = create_token(db, "old")
    revoke_token(db, token_id)
    assert client.get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_bearer_scheme_is_case_insensitive(client, api_token):
    assert client.get("/api/v1/stats", headers={"Authorization": f"bearer {api_token}"}).status_code == 200


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


# -- reviews ----------------------------------------------------------------------------------


def test_a_review_before_scoring_has_null_scores(client, db, auth_headers):
    add_review(db, "r1", platform="taobao", rating=1, created_at=dt.datetime(2026, 11, 26, 5, 5, tzinfo=dt.UTC))
    response = client.get("/api/v1/reviews/taobao/r1", headers=auth_headers)
    assert response.status_code == 200
    body = response.get_json()
    contract = {k: body[k] for k in ("platform", "review_id", "status", "sentiment", "negative_prob", "causes",
                                     "risk", "case_id", "model_version")}
    assert contract == {
        "platform": "taobao",
        "review_id": "r1",
        "status": "pending",
        "sentiment": None,
        "negative_prob": None,
        "causes": None,
        "risk": None,
        "case_id": None,
        "model_version": None,
    }
    assert (body["created_at"], body["rating"], body["priority"], body["terms"]) == (
        "2026-11-26T05:05:00+00:00", 1, None, None
    )


def test_a_scored_review_shows_its_scores(client, db, auth_headers):
    add_review(db, "r1", customer_id="c7")
    case_id = add_case(db, "c7")
    with transaction(db):
        db.execute(
            """UPDATE reviews SET status = 'scored', sentiment = 'negative', negative_prob = 0.93,
                   causes = ?, cause_probs = ?, terms = ?, risk = 0.81, priority = 'P2', case_id = ?,
                   model_version = 'rc-test', scored_at = ?""",
            (json.dumps(["logistics"]), json.dumps({"logistics": 0.9, "defect": 0.1}),
             json.dumps([{"term": "太慢", "weight": 1.2}]), case_id, to_db(RECEIVED)),
        )
    body = client.get("/api/v1/reviews/default/r1", headers=auth_headers).get_json()
    assert {k: body[k] for k in ("status", "sentiment", "negative_prob", "causes", "risk", "case_id",
                                 "model_version", "cause_probs", "priority")} == {
        "status": "scored",
        "sentiment": "negative",
        "negative_prob": 0.93,
        "causes": ["logistics"],
        "risk": 0.81,
        "case_id": case_id,
        "model_version": "rc-test",
        "cause_probs": {"logistics": 0.9, "defect": 0.1},
        "priority": "P2",
    }


def test_an_unknown_review_is_404(client, auth_headers):
    response = client.get("/api/v1/reviews/default/nope", headers=auth_headers)
    assert (response.status_code, response.get_json()["error"]) == (404, "not_found")


def test_a_review_is_looked_up_by_platform_too(client, db, auth_headers):
    add_review(db, "r1", platform="jd")
    assert client.get("/api/v1/reviews/taobao/r1", headers=auth_headers).status_code == 404


def test_a_review_id_containing_a_slash_can_be_read(client, db, auth_headers):
    add_review(db, "2026/11/abc")
    response = client.get("/api/v1/reviews/default/2026/11/abc", headers=auth_headers)
    assert response.get_json()["review_id"] == "2026/11/abc"


# -- stats ------------------------------------------------------------------------------------


def test_stats_of_an_empty_database_are_zero(client, auth_headers):
    assert client.get("/api/v1/stats", headers=auth_headers).get_json() == {
        "reviews": {"total": 0, "pending": 0, "scored": 0, "failed": 0},
        "cases": {"open": 0, "breached": 0},
    }


def test_stats_count_reviews_by_status(client, db, auth_headers):
    for review_id in ("a", "b", "c", "d"):
        add_review(db, review_id)
    set_status(db, "b", "scored")
    set_status(db, "c", "scored")
    set_status(db, "d", "failed")
    reviews = client.get("/api/v1/stats", headers=auth_headers).get_json()["reviews"]
    assert reviews == {"total": 4, "pending": 1, "scored": 2, "failed": 1}


def test_stats_count_open_cases_and_breaches(client, db, auth_headers):
    past = to_db(utcnow() - dt.timedelta(hours=1))
    future = to_db(utcnow() + dt.timedelta(hours=1))
    add_case(db, "c1", "open", first_due=future, resolution_due=future)
    add_case(db, "c2", "claimed", first="breached", first_due=past, resolution_due=future)
    add_case(db, "c3", "contacted", first="met", resolution="breached", first_due=past, resolution_due=past)
    add_case(db, "c4", "resolved", first="breached")  # no longer open: counts in neither
    add_case(db, "c5", "closed")
    cases = client.get("/api/v1/stats", headers=auth_headers).get_json()["cases"]
    assert cases == {"open": 3, "breached": 2}


def test_a_running_clock_past_its_due_counts_as_breached_before_the_check_runs(client, db, auth_headers):
    past = to_db(utcnow() - dt.timedelta(minutes=1))
    add_case(db, "c1", "open", first_due=past, resolution_due=to_db(utcnow() + dt.timedelta(days=1)))
    assert client.get("/api/v1/stats", headers=auth_headers).get_json()["cases"] == {"open": 1, "breached": 1}


def test_a_paused_case_past_its_old_due_is_not_breached(client, db, auth_headers):
    past = to_db(utcnow() - dt.timedelta(minutes=1))
    add_case(db, "c1", "waiting_customer", first="met", first_due=past, resolution_due=past)
    assert client.get("/api/v1/stats", headers=auth_headers).get_json()["cases"] == {"open": 1, "breached": 0}


# -- health -----------------------------------------------------------------------------------


def test_healthz_needs_no_token_and_reports_every_part_ok(client, redis_conn, classifier):
    from tests.test_health import live_worker

    live_worker(redis_conn, "score")
    live_worker(redis_conn, "apply,sla")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert {k: response.get_json()[k] for k in ("db", "redis", "model")} == {
        "db": "ok", "redis": "ok", "model": classifier.version}


def test_healthz_is_503_naming_redis_when_it_is_unreachable(settings_without_redis, classifier):
    settings = settings_without_redis
    response = create_app(settings).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["db"], body["redis"], body["model"], body["down"]) == ("ok", "down", classifier.version, ["redis"])


def test_healthz_is_503_naming_the_database_when_it_is_gone(app, settings, redis_conn):
    settings.db_path.unlink()  # the schema vanishes under a running app
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()["db"]) == (503, "down")
    assert "db" in response.get_json()["down"]
