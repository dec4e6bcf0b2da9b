"""docs/architecture.md is held against the code: what it names exists, and it describes every package."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")

# `triage/jobs/`, `service/serve.py`, `web/templates/base.html`: paths inside one of our packages.
_PATH = re.compile(r"`((?:{})/[\w./-]*)`".format("|".join(PACKAGES)))
# `triage.jobs.context`, `web.create_app(settings)`: dotted names, optionally called.
_DOTTED = re.compile(r"`((?:{})(?:\.\w+)+)(?:\([^`]*\))?`".format("|".join(PACKAGES)))


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _paths() -> list[str]:
    return sorted(set(_PATH.findall(_doc())))


def _dotted() -> list[str]:
    return sorted(set(_DOTTED.findall(_doc())))


def _resolves(dotted: str) -> bool:
    """A module, or a name a module gives (functions, classes, lazily provided job paths)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_the_doc_names_paths_and_modules_at_all():
    assert len(_paths()) >= 10 and len(_dotted()) >= 3


@pytest.mark.parametrize("path", _paths())
def test_every_path_the_doc_names_exists(path):
    assert (ROOT / path).exists(), f"docs/architecture.md names `{path}`, which does not exist"


@pytest.mark.parametrize("name", _dotted())
def test_every_module_the_doc_names_exists(name):
    assert _resolves(name), f"docs/architecture.md names `{name}`, which the code does not define"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_top_level_package_is_described(package):
    assert re.search(rf"^- `{package}/`", _doc(), re.M), f"docs/architecture.md has no bullet for `{package}/`"
