"""Browser-facing safety for every response: CSRF on forms, session cookie flags, security headers.

* CSRF: Flask-WTF's `CSRFProtect` checks every POST/PUT/PATCH/DELETE for a token tied to the
  session (hidden field `csrf_token`, or the `X-CSRFToken` header that base.html makes htmx send).
  Callers that do not authenticate by cookie are exempt by blueprint: the JSON API (Bearer token)
  and the webhook (HMAC signature) live on the `api` blueprint, which create_app passes here.
* Session cookie: HttpOnly, SameSite=Lax; Secure when `Settings.cookie_secure` (TRIAGE_COOKIE_SECURE),
  off by default because `make run` serves plain http://127.0.0.1.
* Headers: a Content-Security-Policy with no inline script (htmx is served from /static), no
  framing, no MIME sniffing, same-origin referrers, `no-store` on everything but /static/, and a
  `Server` header without a version (Werkzeug's server keeps an app's own `Server` header).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from flask import Blueprint, Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect

from triage.config import Settings

__all__ = ["allow_inline_style", "csrf", "init_app"]

csrf = CSRFProtect()

SERVER_NAME_HEADER = "review-triage"
SESSION_LIFETIME = timedelta(hours=12)  # one working day and a bit; then sign in again

_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def allow_inline_style(css: str) -> None:
    """Allow this exact `<style>` text on the current response (by its hash; no 'unsafe-inline')."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    g.setdefault("csp_style_hashes", []).append(f"'sha256-{digest}'")


def content_security_policy(style_hashes: list[str] | None = None) -> str:
    policy = dict(_CSP)
    if style_hashes:
        policy["style-src"] = " ".join([policy["style-src"], *style_hashes])
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(g.get("csp_style_hashes"))
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of form posts made over HTTPS.
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Server"] = SERVER_NAME_HEADER
    if not request.path.startswith("/static/"):
        # Pages, reports and API answers carry customer data: never keep them in a shared cache
        # or in the browser's back/forward history after logout.
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask, settings: Settings, *, exempt: tuple[Blueprint, ...] = ()) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="triage_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # The token lives as long as the session: an agent's queue page stays usable all shift.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    app.after_request(_set_headers)
