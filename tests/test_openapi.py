"""The OpenAPI description (web/api/openapi.json) and the app cannot drift apart.

Every route under /api/v1 (and /healthz) is described with its methods, every described path is
a real route, and every example in the description is valid against its own schema, so what
docs/api.md and client generators show is what the server does. Responses themselves are held
to the description by tests/test_api_schemathesis.py.
"""

from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest

from triage.timeutil import to_wire
from web.api.openapi import DESCRIPTION_PATH

DESCRIPTION = json.loads(DESCRIPTION_PATH.read_text(encoding="utf-8"))
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _openapi_path(rule: str) -> str:
    # Flask's <converter:name> and <name> both become OpenAPI's {name}.
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _app_operations(app) -> set[tuple[str, str]]:
    return {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") or rule.rule == "/healthz"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def _described_operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DESCRIPTION["paths"].items() for method in item if method in HTTP_METHODS}


def test_it_is_served_without_a_token_exactly_as_kept_in_the_repository(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_data() == DESCRIPTION_PATH.read_bytes()


def test_it_is_openapi_3_1(client):
    assert client.get("/api/v1/openapi.json").get_json()["openapi"].startswith("3.1.")


def test_every_api_route_of_the_app_is_described(app):
    missing = _app_operations(app) - _described_operations()
    assert not missing, f"routes without a description in {DESCRIPTION_PATH.name}: {sorted(missing)}"


def test_every_described_operation_is_a_route_of_the_app(app):
    stale = _described_operations() - _app_operations(app)
    assert not stale, f"described in {DESCRIPTION_PATH.name} but not served: {sorted(stale)}"


def test_every_path_parameter_is_declared():
    for path, item in DESCRIPTION["paths"].items():
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), f"{method.upper()} {path}"


def _operations():
    for path, item in DESCRIPTION["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


@pytest.mark.parametrize(("name", "operation"), list(_operations()))
def test_every_response_and_request_body_is_json_with_a_schema(name, operation):
    bodies = [operation.get("requestBody", {"content": {"application/json": {"schema": {}}}})]
    bodies += [r for r in operation["responses"].values() if "$ref" not in r]
    for body in bodies:
        assert set(body["content"]) == {"application/json"}, name
        assert "schema" in body["content"]["application/json"], name


def _validator(schema: dict):
    # A schema of the description, with the description's components beside it so its $refs resolve.
    return jsonschema_rs.validator_for({**schema, "components": DESCRIPTION["components"]}, validate_formats=True)


def _examples():
    def walk(node, where):
        if isinstance(node, dict):
            if "schema" in node and "example" in node:
                yield where, node["schema"], node["example"]
            for key, value in node.items():
                yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{where}/{i}")

    return list(walk(DESCRIPTION, "#"))


@pytest.mark.parametrize(("where", "schema", "example"), _examples(), ids=[w for w, _, _ in _examples()])
def test_every_example_is_valid_against_its_schema(where, schema, example):
    errors = [e.message for e in _validator(schema).iter_errors(example)]
    assert not errors, f"{where}: {errors}"


def test_the_wire_time_schema_takes_what_the_server_sends_and_refuses_other_offsets():
    from datetime import UTC, datetime, timedelta, timezone

    validator = _validator({"$ref": "#/components/schemas/Time"})
    assert validator.is_valid(to_wire(datetime(2026, 11, 26, 2, 0, tzinfo=UTC)))
    assert validator.is_valid(to_wire(datetime(1900, 1, 1, tzinfo=timezone(timedelta(hours=8, minutes=5, seconds=43)))))
    for bad in ("2026-11-26T02:00:00Z", "1900-01-01T00:00:00+08:05:43", "2026-11-26 02:00:00+00:00"):
        assert not validator.is_valid(bad), bad
