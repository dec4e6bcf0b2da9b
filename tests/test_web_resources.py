"""The web app's one configuration route: settings, SLA policy and Redis built once from the app's settings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from tests.pipeline_support import COMPLAINTS, add_reviews, review
from triage import cases
from triage.db import transaction
from triage.timeutil import from_db, utcnow
from web import create_app
from web.db import get_policy, get_redis, get_settings
from web.resources import resources


def test_the_app_uses_the_sla_policy_of_its_own_settings_not_the_environment(
        settings, tmp_path, monkeypatch, db, api_token):
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"targets": {"P1": {"first_contact_hours": 1, "resolution_hours": 2}},
                                       "calendar": {d: [["00:00", "24:00"]] for d in
                                                    ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}))
    monkeypatch.delenv("TRIAGE_SLA_POLICY", raising=False)
    app = create_app(dataclasses.replace(settings, sla_policy_path=policy_file))
    opened = utcnow()
    (pk,) = add_reviews(db, [review("r1", COMPLAINTS[0])], now=opened)
    with app.app_context():
        with transaction(db):
            case_id = cases.add_review(db, review_pk=pk, customer_id="c1", priority="P1", risk=0.9,
                                       causes=("defect",), now=opened, policy=get_policy()).case_id
    body = app.test_client().get(f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {api_token}"})
    assert from_db(body.get_json()["first_contact_due"]) == (
        opened + dt.timedelta(hours=1)).replace(microsecond=0)


def test_resources_are_built_once_per_app(app):
    with app.app_context():
        first = resources()
        assert get_settings() is first.settings and get_policy() is first.policy
    with app.test_request_context():
        assert resources() is first


def test_one_redis_client_per_app_and_none_without_a_redis_url(app, settings):
    with app.app_context():
        assert get_redis() is get_redis() is not None
    bare = create_app(dataclasses.replace(settings, redis_url=None))
    with bare.app_context():
        assert get_redis() is None
