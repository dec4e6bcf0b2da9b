"""create_app wires every blueprint explicitly: nothing optional, nothing skipped silently."""

from __future__ import annotations

import ast
from pathlib import Path

import web

EXPECTED = {"api", "health", "auth", "landing", "queue", "reports"}


def test_create_app_registers_every_blueprint(settings):
    app = web.create_app(settings)
    assert EXPECTED <= set(app.blueprints)


def test_create_app_imports_its_blueprints_by_name():
    # No importlib, no try/except ModuleNotFoundError: a misnamed module fails at start-up.
    source = Path(web.__file__).read_text("utf-8")
    tree = ast.parse(source)
    assert "importlib" not in source
    assert not any(isinstance(node, ast.Try) for node in ast.walk(tree))


def test_every_page_module_has_its_blueprint_registered(settings):
    app = web.create_app(settings)
    views = Path(web.__file__).parent / "views"
    pages = {p.stem for p in views.glob("*.py")} - {"__init__", "base"}
    assert pages <= set(app.blueprints)
