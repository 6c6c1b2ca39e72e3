"""ARCHITECTURE.md's import rules: no import cycle anywhere (every import statement counts, also those inside
functions and under ``TYPE_CHECKING``), and .importlinter's list of the client's private modules is complete
(the contracts themselves run in the ``imports`` step of scripts/check.py)."""

from __future__ import annotations

import ast
import configparser
from collections.abc import Iterable, Mapping
from pathlib import Path

from m3ter_dev.layout import GENERATED, PACKAGE, ROOT

PACKAGES = {
    "m3ter_billing": GENERATED / PACKAGE,
    "m3ter_contract": ROOT / "contract_tests" / "m3ter_contract",
    "m3ter_dev": ROOT / "scripts" / "m3ter_dev",
}


def modules(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of ``packages``."""
    found: dict[str, Path] = {}
    for name, root in packages.items():
        for path in sorted(root.rglob("*.py")):
            parts = [name, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: Mapping[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, *([node.module] if node.module else [])])
        # ``from package import name`` imports the submodule when there is one, else the package.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    targets = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            targets.append(name)
    return targets


def import_graph(packages: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports anywhere in its source."""
    known = modules(packages)
    graph: dict[str, set[str]] = {module: set() for module in known}
    for module, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module].update(_imported(module, path, node, known))
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles_in_the_client_the_harness_or_the_dev_tools() -> None:
    assert cycles(import_graph(PACKAGES)) == []


def test_the_cycle_check_sees_imports_inside_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text("def serve() -> None:\n    from .adapter import run\n")
    (package / "adapter.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import core\n"
    )
    (package / "alone.py").write_text("from . import core\n")
    assert cycles(import_graph({"pkg": package})) == [["pkg.adapter", "pkg.core"]]


def test_the_contracts_protect_every_private_module_of_the_client() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    protected = set(config["importlinter:contract:client-private-modules"]["protected_modules"].split())
    private = {
        f"m3ter_billing.{path.stem}" for path in (GENERATED / PACKAGE).glob("_*.py") if path.name != "__init__.py"
    }
    assert protected == private
