"""The floors of the codebase hold: imports go down a floor or stay in their room, and never in a circle.

    4  service/     process wiring: CLI, `triage serve`, workers, demo data; the only floor that prints
    3  web/         the thin Flask layer
    2  triage/      domain, storage, jobs, SLA, reports: no Flask, no web, no service
    1  classifier/  text in, scores out: no triage, web, service, database or Flask

Every module of the four packages is parsed (never imported), and every import statement counts,
at module level or inside a function, except those under `if TYPE_CHECKING:` (they never run).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("classifier", "triage", "web", "service")

# What each package must not import (a top-level package name, or a dotted prefix).
FORBIDDEN = {
    "classifier": ("triage", "web", "service", "sqlite3", "flask", "werkzeug"),
    "triage": ("web", "service", "flask", "werkzeug"),
    "web": ("service",),
    "service": (),
}
# The single upward import allowed: `python -m triage` hands over to the `triage` command.
ALLOWED_UPWARD = {("triage.__main__", "service.cli")}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or package, or name's package) as written, made absolute
    line: int

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


MODULES = all_modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime(tree: ast.AST, children: Callable[[ast.AST], Iterable[ast.AST]]) -> Iterator[ast.AST]:
    """`tree` and what `children` leads to, except the bodies of `if TYPE_CHECKING:` (their `else:`
    does run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(children(node))


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node that runs."""
    return _runtime(tree, ast.iter_child_nodes)


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _blocks(node: ast.AST) -> Iterator[ast.AST]:
    for block in _BLOCKS:
        children = getattr(node, block, None)
        if isinstance(children, list):
            yield from children


def _runtime_statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement that runs: an import is a statement, and no expression holds one, so the
    blocks of statements (and handlers, match cases) are all there is to walk."""
    return _runtime(tree, _blocks)


@functools.cache
def _parse(path: Path) -> ast.Module:
    """Each module is parsed once per process: several tests walk the same trees (read-only)."""
    return ast.parse(path.read_text("utf-8"), str(path))


def imports_of(name: str, path: Path) -> list[Import]:
    is_package = path.name == "__init__.py"
    found = []
    for node in _runtime_statements(_parse(path)):
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
                submodule = f"{source}.{alias.name}"
                found.append(Import(name, submodule if submodule in MODULES else source, node.lineno))
    return found


class _Imports:
    """Every import statement of every module, parsed on first use (not while tests are collected)."""

    _all: list[Import] | None = None

    def __iter__(self):
        if _Imports._all is None:
            _Imports._all = [imp for name, path in MODULES.items() for imp in imports_of(name, path)]
        return iter(_Imports._all)


IMPORTS = _Imports()


def _under(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def test_the_four_packages_are_all_there():
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    assert "triage.__main__" in MODULES and "service.cli" in MODULES


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_what_its_floor_forbids(package):
    wrong = [
        f"{imp.where} imports {imp.target}"
        for imp in IMPORTS
        if _under(imp.module, package)
        and any(_under(imp.target, banned) for banned in FORBIDDEN[package])
        and (imp.module, imp.target) not in ALLOWED_UPWARD
    ]
    assert wrong == []


def test_the_one_upward_import_is_the_hand_over_in_triage_main():
    upward = {(imp.module, imp.target) for imp in IMPORTS if imp.module.startswith("triage") and
              _under(imp.target, "service")}
    assert upward == ALLOWED_UPWARD


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected sets of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.add(member)
                    if member == node:
                        break
                if len(members) > 1:
                    cycles.append(frozenset(members))
    return cycles


def test_the_cycle_finder_finds_a_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [frozenset({"a", "b", "c"})]


def test_no_import_cycle():
    cycles = [" <-> ".join(sorted(cycle)) for cycle in import_cycles(_graph())]
    assert cycles == [], "import cycle(s): " + "; ".join(cycles)


# Printing, prompting and argv belong to service/ (and to `python -m classifier`, the contract's
# batch-scoring command): domain and web code return values or take a progress callback.
_CONSOLE_MODULES = ("argparse", "getpass", "tqdm")


@pytest.mark.parametrize("package", ["triage", "web"])
def test_only_the_process_floor_prints_or_parses_argv(package):
    wrong = []
    for name, path in MODULES.items():
        if not _under(name, package):
            continue
        for node in _runtime_nodes(_parse(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "input"):
                wrong.append(f"{name}:{node.lineno} calls {node.func.id}()")
            elif (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr", "stdin", "argv")
                  and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                wrong.append(f"{name}:{node.lineno} uses sys.{node.attr}")
    wrong += [f"{imp.where} imports {imp.target}" for imp in IMPORTS
              if _under(imp.module, package) and any(_under(imp.target, m) for m in _CONSOLE_MODULES)]
    assert wrong == []


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import sqlite3\n"
        "def f():\n    from web import create_app\n    from . import sibling\n",
        "utf-8",
    )
    targets = [imp.target for imp in imports_of("triage.pkg.mod", path)]
    assert sorted(targets) == ["triage.pkg", "typing", "web"]
