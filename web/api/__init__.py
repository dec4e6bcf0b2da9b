"""The `api` blueprint: the connector webhook and the token-protected read API (/api/v1)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Route modules register on `bp` when imported; each file serves one resource. `alerts` adds its
# routes through `register(bp)` instead, so it does not import this module back.
from web.api import alerts, auth, cases, reports, reviews, stats, webhook  # noqa: E402, F401

alerts.register(bp)
