"""Thin Flask layer over `triage`: an app factory and one blueprint per audience,
registered explicitly."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache

from triage.config import Settings


class _ProcessBytecodeCache(BytecodeCache):
    """Jinja bytecode kept in memory for the life of the process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CACHE = _ProcessBytecodeCache()


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app. `config` is a Settings, a mapping of environment-style overrides
    (as tests pass), or None for the process environment."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env(dict(config) if config is not None else None)
    app = Flask(__name__)
    from web import converters

    converters.install(app)  # before any blueprint: rules bind their converters when registered
    _install_resources(app, settings)
    app.config["MAX_CONTENT_LENGTH"] = None  # the webhook enforces its own 1 MiB limit with the contract's error
    # Compiled templates are shared by every app of the process (keyed by name and source checksum),
    # so an app built again (each test builds its own) does not recompile the same templates.
    app.jinja_env.bytecode_cache = _TEMPLATE_CACHE
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from web import errors, security
    from web.db import init_app as init_db

    init_db(app)
    errors.register(app)

    # Every blueprint is named here: a misnamed module fails at start-up, never silently.
    from web import auth, health
    from web.api import bp as api_bp
    from web.views import (
        accounts,
        alerts,
        base,
        cases,
        handbook,
        landing,
        present,
        queue,
        reports,
        supervisor,
    )

    # The API (Bearer tokens) and the webhook (HMAC signature) are not cookie-authenticated: no CSRF.
    security.init_app(app, settings, exempt=(api_bp,))
    base.init_app(app)
    present.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(landing.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(handbook.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(supervisor.bp)
    return app


def _install_resources(app: Flask, settings: Settings) -> None:
    """What requests need, built once: settings, SLA policy, Redis client (see web.resources)."""
    from web.resources import build_resources, install

    install(app, build_resources(settings))
