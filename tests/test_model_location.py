"""Where the shipped model is found: package data that resolves without the source checkout."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import classifier
from classifier.shipped import MODEL_NAME

ROOT = Path(__file__).resolve().parent.parent


def test_the_public_functions_name_the_shipped_model() -> None:
    directory = classifier.model_dir()
    assert (directory / f"{MODEL_NAME}.npz").exists()
    assert classifier.shipped_model_version() == classifier.get_classifier().version


def test_the_environment_overrides_the_model_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TRIAGE_MODEL_DIR", str(tmp_path))
    assert classifier.model_dir() == tmp_path
    assert classifier.shipped_model_version() is None  # nothing there


def test_the_model_files_are_declared_package_data() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    declared = {name.strip() for name in cfg["options.package_data"]["models"].split(",")}
    assert {f"{MODEL_NAME}.npz", f"{MODEL_NAME}.json"} <= declared
    assert "models" in cfg["options.packages.find"]["include"].split()


@pytest.mark.slow
def test_an_installed_copy_finds_its_own_model(tmp_path) -> None:
    """The packages as a wheel lays them out, away from the checkout: the model resolves
    inside the installed tree and loads."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "classifier", site / "classifier", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "models", site / "models", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import classifier; d = classifier.model_dir(); print(d); "
            "print(classifier.shipped_model_version() == classifier.get_classifier().version)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    where, same = result.stdout.split()
    assert Path(where).resolve().is_relative_to(site.resolve())
    assert same == "True"


def test_classifier_is_free_of_storage_and_web_imports() -> None:
    import ast

    banned = {"sqlite3", "flask", "werkzeug", "triage", "web", "redis", "rq"}
    for path in (ROOT / "classifier").glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in banned, f"{path.name} imports {name}"


def test_classifier_modules_import_no_cycle() -> None:
    """Every import between classifier modules, including those inside functions, forms no cycle."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in (ROOT / "classifier").glob("*.py"):
        name = path.stem
        deps = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("classifier"):
                target = node.module.split(".")[1] if "." in node.module else None
                targets = [target] if target else [a.name for a in node.names]
                deps.update(t for t in targets if (ROOT / "classifier" / f"{t}.py").exists() and t != name)
            elif isinstance(node, ast.Import):
                deps.update(a.name.split(".")[1] for a in node.names
                            if a.name.startswith("classifier.") and a.name.count(".") == 1)
    graph.pop("__init__", None)  # the package's lazy re-exports are not a module of their own
    for deps in graph.values():
        deps.discard("__init__")
    seen: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for dep in graph.get(node, ()):
            assert seen.get(dep) != 1, f"import cycle: {' -> '.join([*stack, node, dep])}"
            if dep not in seen:
                visit(dep, [*stack, node])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [])
