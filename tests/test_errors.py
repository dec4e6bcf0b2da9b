"""Specification of web/errors.py: domain exceptions and Flask's own errors as JSON, in one place."""

from __future__ import annotations

import pytest

from triage import errors
from web.errors import status_for


@pytest.fixture()
def raising_app(app):
    """The app plus routes that raise, under /api and elsewhere; exceptions are not propagated."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def raise_(exc):
        def view():
            raise exc

        return view

    app.add_url_rule("/api/v1/test-conflict", "conflict", raise_(errors.Conflict("version changed")))
    app.add_url_rule("/api/v1/test-invalid", "invalid", raise_(errors.ValidationFailed(
        [{"field": "status", "message": "unknown"}], code="invalid_request")))
    app.add_url_rule("/api/v1/test-crash", "crash", raise_(RuntimeError("boom")))
    app.add_url_rule("/test-crash", "page_crash", raise_(RuntimeError("boom")))
    return app


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.BadRequest("limit must be a number"), 400, "bad_request"),
        (errors.InvalidJson(), 400, "invalid_json"),
        (errors.Unauthorized(), 401, "unauthorized"),
        (errors.BadSignature(), 401, "bad_signature"),
        (errors.StaleTimestamp(), 401, "stale_timestamp"),
        (errors.Forbidden("supervisors only"), 403, "forbidden"),
        (errors.NotFound("no case 7"), 404, "not_found"),
        (errors.Conflict("changed"), 409, "conflict"),
        (errors.TooLarge("big"), 413, "too_large"),
        (errors.UnsupportedMediaType(), 415, "unsupported_media_type"),
        (errors.ValidationFailed([]), 422, "invalid_reviews"),
    ],
)
def test_each_domain_error_has_its_status_and_code(exc, status, code):
    assert (status_for(exc), exc.to_dict()["error"]) == (status, code)


def test_a_domain_error_becomes_its_json_body(raising_app):
    response = raising_app.test_client().get("/api/v1/test-conflict")
    assert (response.status_code, response.get_json()) == (409, {"error": "conflict", "message": "version changed"})


def test_validation_failures_carry_their_items_and_may_name_their_code(raising_app):
    response = raising_app.test_client().get("/api/v1/test-invalid")
    assert (response.status_code, response.get_json()) == (
        422,
        {"error": "invalid_request", "items": [{"field": "status", "message": "unknown"}]},
    )


def test_401_bodies_say_nothing_beyond_the_code():
    assert errors.BadSignature("no secret matched").to_dict() == {"error": "bad_signature"}


def test_a_crash_under_api_is_a_json_500(raising_app):
    response = raising_app.test_client().get("/api/v1/test-crash")
    assert (response.status_code, response.get_json()) == (
        500,
        {"error": "internal_error", "message": "internal server error"},
    )


def test_a_crash_elsewhere_keeps_flasks_page(raising_app):
    response = raising_app.test_client().get("/test-crash")
    assert response.status_code == 500 and not response.is_json


def test_an_unknown_page_outside_api_keeps_flasks_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and not response.is_json
