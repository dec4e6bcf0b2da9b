"""The one place where exceptions become HTTP responses.

Domain errors (`triage.errors`) become the contract's JSON bodies everywhere; `Busy` (the database
locked beyond its busy timeout) is 503 with `Retry-After`. Under /api, Flask's
own errors (unknown route, wrong method, crash) are JSON too, so API clients never get HTML; other
paths get a Chinese HTML page in the site's layout (web/views/base.py).
"""

from __future__ import annotations

import logging
import re
import sqlite3

from flask import Flask, Response, jsonify, make_response, request
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from triage import errors as e
from triage.db import DatabaseBusy, is_busy
from web.views.base import error_page

# Looked up along the exception's MRO, so a subclass inherits its base's status.
STATUS: dict[type[e.TriageError], int] = {
    e.TriageError: 400,
    e.BadRequest: 400,
    e.InvalidJson: 400,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.TooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.ValidationFailed: 422,
    e.Busy: 503,
}


def status_for(exc: e.TriageError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# Werkzeug names that differ from the contract's words for the same status.
_HTTP_CODES = {413: "too_large", 415: "unsupported_media_type", 500: "internal_error"}


def _domain_error(exc: e.TriageError) -> tuple[Response, int]:
    status = status_for(exc)
    if status == 403:
        logging.getLogger("triage.audit").warning(
            "permission refused: %s %s (%s) address=%s", request.method, request.path, exc, request.remote_addr)
    response = jsonify(exc.to_dict())
    if type(exc) is e.Unauthorized:
        # The read API's scheme (RFC 6750); webhook signature failures are not a Bearer challenge.
        response.headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, e.Busy):
        if not _is_api_request():
            page, status = error_page(ServiceUnavailable())
            response = make_response(page, status)
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


def _sqlite_error(exc: sqlite3.OperationalError):
    # A lock timeout outside `triage.db.transaction` (a plain read, a connection's set-up) is
    # the same condition as inside it; anything else stays a 500.
    if is_busy(exc):
        return _domain_error(DatabaseBusy())
    raise exc


def _http_error(exc: HTTPException):
    if not _is_api_request():
        if exc.code is None or exc.code < 400 or exc.response is not None:
            return exc  # redirects (RoutingException) and ready-made responses pass through
        return error_page(exc)
    status = exc.code or 500
    body = {"error": _HTTP_CODES.get(status) or _snake(exc.name), "message": exc.description}
    response = jsonify(body)
    # Keep headers such as Allow (405) that Werkzeug attaches, but not its HTML Content-Type.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, status


def _internal_error(exc: InternalServerError):
    # Reached for unhandled exceptions outside debug/testing; Flask has already logged them.
    if not _is_api_request():
        return error_page(exc)
    return jsonify({"error": "internal_error", "message": "internal server error"}), 500


def register(app: Flask) -> None:
    app.register_error_handler(e.TriageError, _domain_error)
    app.register_error_handler(sqlite3.OperationalError, _sqlite_error)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
