"""The Python tree's import directions, as each subpackage's docstring states them.

Every module under ``python/memory_doctor`` is parsed with ``ast`` and every
import in it is checked, the ones inside functions included (the helper
imports lazily to keep ``%load_ext`` light):

- ``protocol`` imports nothing of ours; ``log`` and ``format`` at most
  ``protocol``; ``procmem`` only ``log``;
- ``heap`` imports only the shared modules; ``advice`` also ``heap``;
  ``kernel`` also ``advice``;
- ``headless`` (outside the kernel) imports ``protocol``, ``log`` and
  ``format`` only: never the engine or the kernel side;
- nothing imports ``kernel`` except ``memory_doctor/__init__.py``;
- no module imports a private (``_x``) name from another module.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "python" / "memory_doctor"
PACKAGE = "memory_doctor"

SHARED = {"protocol", "log", "format", "procmem"}
#: Part of the tree -> the other parts it may import (itself is always allowed).
ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "log": {"protocol"},
    "format": {"protocol"},
    "procmem": {"log"},
    "heap": SHARED,
    "advice": {"heap"} | SHARED,
    "kernel": {"heap", "advice"} | SHARED,
    "headless": {"protocol", "log", "format"},
    # The package's front door: %load_ext loads the kernel side lazily.
    "__init__": {"kernel", "_version"},
    "__main__": {"headless"},
    "_version": set(),
}
SUBPACKAGES = ("protocol", "kernel", "heap", "advice", "headless")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen from the importing module."""

    source: str  # dotted module name of the importer
    target: str  # dotted module name imported from
    names: tuple[str, ...]  # the names imported from it (empty for `import x`)
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def our_modules(root: Path = ROOT) -> dict[str, Path]:
    return {
        module_name(p, root): p
        for p in sorted(root.rglob("*.py"))
        if "labextension" not in p.parts and "static" not in p.parts
    }


def imports_of(source: str, name: str, package: bool, modules: set[str]) -> list[Import]:
    """Every import of ours in ``source`` (module ``name``), lazy ones included."""
    found: list[Import] = []
    base = name if package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(
                Import(name, alias.name, (), node.lineno)
                for alias in node.names
                if alias.name.split(".")[0] == PACKAGE
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{anchor}.{node.module}" if node.module else anchor
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            names = tuple(alias.name for alias in node.names)
            # `from . import report`: each name that is a module is its own target.
            submodules = [n for n in names if f"{target}.{n}" in modules]
            found.extend(Import(name, f"{target}.{n}", (), node.lineno) for n in submodules)
            rest = tuple(n for n in names if n not in submodules)
            if rest or not submodules:
                found.append(Import(name, target, rest, node.lineno))
    return found


def part_of(module: str) -> str:
    """The part of the tree a dotted module name belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(root: Path = ROOT) -> list[str]:
    """Every import that breaks a direction or takes a private name across modules."""
    modules = our_modules(root)
    problems: list[str] = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(root.parent)
        for imp in imports_of(source, name, is_package(path), set(modules)):
            src, dst = part_of(imp.source), part_of(imp.target)
            version_only = imp.target == PACKAGE and set(imp.names) <= {"__version__"}
            if src != dst and dst not in ALLOWED[src] and not version_only:
                problems.append(f"{where}:{imp.line}: {src} may not import {imp.target}")
            private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
            if private and imp.target != imp.source:
                problems.append(
                    f"{where}:{imp.line}: private name(s) {', '.join(private)} imported "
                    f"from {imp.target}"
                )
    return problems


def test_every_import_goes_in_an_allowed_direction():
    assert violations() == []


def test_the_checker_sees_the_tree():
    modules = our_modules()
    assert {part_of(m) for m in modules} >= set(ALLOWED) - {"_version"}
    assert "memory_doctor.heap.scan" in modules and "memory_doctor.kernel.server" in modules


VIOLATING = {
    # The report importing the engine, lazily, inside a function.
    "headless/report.py": "def render():\n    from ..heap.scan import Scan\n",
    # The heap importing the kernel side, by absolute name.
    "heap/roots.py": "import memory_doctor.kernel.extension\n",
    # A private name taken across modules.
    "advice/fixes.py": "from ..heap.sizers import _wall_size\n",
    # The kernel side imported from outside the package's front door.
    "advice/suggestions.py": "from ..kernel import runner\n",
    # Shared modules stay at the bottom.
    "format.py": "from .heap.introspect import type_name\n",
}


@pytest.mark.parametrize("where", sorted(VIOLATING))
def test_the_checker_fails_on_a_violating_import(tmp_path, where):
    """The same checker over a copy of the tree with one bad import added."""
    copy = tmp_path / PACKAGE
    for path in our_modules().values():
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert violations(copy) == []
    bad = copy / where
    bad.write_text(bad.read_text(encoding="utf-8") + "\n" + VIOLATING[where], encoding="utf-8")
    (problem,) = violations(copy)
    assert problem.startswith(f"{PACKAGE}/{where}:")


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_subpackage_says_what_it_owns_and_may_import(package):
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text("utf-8")))
    assert doc is not None and "Owns:" in doc, f"{package}/__init__.py says nothing it owns"
    match = re.search(r"^May import: (.*)\.$", doc, re.M)
    assert match, f"{package}/__init__.py's docstring has no 'May import: ...' line"
    said = {p.strip() for p in match.group(1).split(",")} - {"nothing"}
    assert said == ALLOWED[package]
