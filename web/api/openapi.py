"""GET /api/v1/openapi.json (no auth): the API's OpenAPI 3.1 description.

The description is data, `web/api/openapi.json`, served byte for byte: client generators and
linters can read it from the repository without running the app, and a review sees exactly what
clients will get. It is not generated from the routes, so `tests/test_openapi.py` holds the two
together (every /api/v1 route and /healthz is described, every described path is a route) and
`tests/test_api_schemathesis.py` holds the responses to it. The prose is `docs/api.md`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Response

from web.api.auth import public
from web.api.blueprint import bp

DESCRIPTION_PATH = Path(__file__).with_name("openapi.json")


@cache
def description_bytes() -> bytes:
    return DESCRIPTION_PATH.read_bytes()


@bp.get("/openapi.json")
@public  # integrators read it before they have a token
def openapi_description():
    return Response(description_bytes(), mimetype="application/json")
