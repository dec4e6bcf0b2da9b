"""The `api` blueprint object (/api/v1), on its own so route modules can import it without a
cycle through `web/api/__init__.py`, which gathers them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
