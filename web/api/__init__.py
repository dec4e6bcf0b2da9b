"""The `api` blueprint: the connector webhook and the token-protected read API (/api/v1).

Each route module serves one resource and registers on `web.api.blueprint.bp` when imported;
importing this package imports them all.
"""

from __future__ import annotations

from web.api import alerts, auth, cases, metrics, openapi, reports, reviews, stats, webhook  # noqa: F401
from web.api.blueprint import bp

__all__ = ["bp"]
