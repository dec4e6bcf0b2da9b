"""Thin Flask layer over `triage`: an app factory and one blueprint per audience."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from triage.config import Settings


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app. `config` is a Settings, a mapping of environment-style overrides
    (as tests pass), or None for the process environment."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env(dict(config) if config is not None else None)
    app = Flask(__name__)
    _install_resources(app, settings)
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = None  # the webhook enforces its own 1 MiB limit with the contract's error
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from web import errors
    from web.db import init_app as init_db

    init_db(app)
    errors.register(app)

    from web.api import bp as api_bp
    from web.health import bp as health_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    _register_optional_blueprints(app)
    return app


def _install_resources(app: Flask, settings: Settings) -> None:
    """What requests need, built once: settings, SLA policy, Redis client (see web.resources)."""
    from web.resources import build_resources, install

    install(app, build_resources(settings))


def _register_optional_blueprints(app: Flask) -> None:
    """Blueprints for other audiences (auth, queue, reports) register themselves here as they land."""
    import importlib

    for module, attr in (("web.auth", "bp"), ("web.queue", "bp"), ("web.reports", "bp")):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        app.register_blueprint(getattr(mod, attr))
