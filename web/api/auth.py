"""Bearer-token authentication for the whole /api/v1 blueprint, except what is marked public.

One `before_request` guards every route, so a new read endpoint is protected by default.
The webhook is public here because it authenticates by its HMAC signature instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request

from triage.errors import Unauthorized
from triage.tokens import verify_token
from web.api.blueprint import bp
from web.db import get_db

F = TypeVar("F", bound=Callable)

_public: set[Callable] = set()


def public(view: F) -> F:
    """Exempt a view of the api blueprint from token authentication."""
    _public.add(view)
    return view


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


@bp.before_request
def require_token() -> None:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view in _public:
        return
    token = verify_token(get_db(), bearer_token())
    if token is None:
        raise Unauthorized()
    g.api_token = token

