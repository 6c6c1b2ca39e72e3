"""The pin lists agree: pyproject.toml, scripts/constraints.txt, tox.ini, the regeneration's tool pins and
the generated client's dependency ranges (overrides/templates/pyproject.toml.jinja)."""

from __future__ import annotations

import configparser
import tomllib
from typing import Any

import pytest
from m3ter_dev import regenerate
from m3ter_dev.layout import CONSTRAINTS, GENERATED, ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

CLIENT = "m3ter-billing"


def _constraints() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _runtime_requirements() -> list[Requirement]:
    """The harness's runtime dependencies (hatch_build.py adds the client to these)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in config["tool"]["hatch"]["metadata"]["hooks"]["custom"]["dependencies"]]


def _extra_requirements() -> list[Requirement]:
    """Every tool of the extras (an extra may include another: ``m3ter-billing-contract[test]``)."""
    project = _project()
    requirements = [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for requirement in requirements:
        if requirement.name == project["name"]:
            assert requirement.extras <= set(project["optional-dependencies"]), requirement
            assert not requirement.specifier, f"{requirement}: include the extra, without a version"
            assert not requirement.url, f"{requirement}: include the extra, without a URL"
    return [r for r in requirements if r.name != project["name"]]


def test_every_tool_in_the_extras_is_pinned_exactly_and_the_same_in_constraints() -> None:
    constraints = _constraints()
    for requirement in _extra_requirements():
        [spec] = requirement.specifier
        assert spec.operator == "==", f"{requirement} is not pinned exactly"
        constrained = constraints.get(canonicalize_name(requirement.name))
        assert constrained == Version(spec.version), f"{requirement} in pyproject.toml, {constrained} in constraints"


def test_the_runtime_dependencies_are_ranges_that_admit_the_pins() -> None:
    constraints = _constraints()
    runtime = _runtime_requirements()
    assert runtime, "the harness declares its runtime dependencies"
    for requirement in runtime:
        assert requirement.specifier, f"{requirement} has no floor"
        assert all(spec.operator != "==" for spec in requirement.specifier), f"{requirement}: a range, not a pin"
        pinned = constraints.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not pinned in scripts/constraints.txt"
        assert pinned in requirement.specifier, f"{requirement} excludes the pinned {pinned}"
    names = {canonicalize_name(r.name) for r in runtime}
    assert CLIENT not in names, "hatch_build.py adds the client (a path or a version range)"
    assert not names & {canonicalize_name(r.name) for r in _extra_requirements()}, "a dependency in two places"


def _readme_dependencies() -> dict[str, set[str]]:
    """The "runtime dependencies" column of the README's table of the two distributions, by distribution."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed: dict[str, set[str]] = {}
    for line in readme[readme.index("## Installing") :].splitlines():
        if line.startswith("| `m3ter-billing"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            names = {CLIENT if name == "the client" else canonicalize_name(name) for name in cells[-1].split(", ")}
            listed[cells[0].split("`")[1]] = names
        elif listed and not line.startswith("|"):
            break
    return listed


def test_the_readme_lists_the_runtime_dependencies_of_both_distributions() -> None:
    generated = tomllib.loads((GENERATED / "pyproject.toml").read_text())["project"]["dependencies"]
    assert _readme_dependencies() == {
        CLIENT: {canonicalize_name(Requirement(r).name) for r in generated},
        _project()["name"]: {CLIENT} | {canonicalize_name(r.name) for r in _runtime_requirements()},
    }


def test_the_regeneration_pins_are_the_installed_pins() -> None:
    constraints = _constraints()
    for name, version in regenerate.PINNED.items():
        assert constraints[canonicalize_name(name)] == Version(version), name


def test_the_generated_clients_ranges_admit_the_pinned_versions() -> None:
    constraints = _constraints()
    generated = tomllib.loads((GENERATED / "pyproject.toml").read_text())["project"]["dependencies"]
    assert generated, "the generated client declares its runtime dependencies"
    for requirement in map(Requirement, generated):
        pinned = constraints[canonicalize_name(requirement.name)]
        assert pinned in requirement.specifier, f"{requirement} (generated) excludes the pinned {pinned}"


def test_tox_installs_the_same_pins_and_runs_the_same_steps() -> None:
    tox = configparser.ConfigParser()
    tox.read(ROOT / "tox.ini")
    deps = tox["testenv"]["deps"].split()
    assert deps == ["-c", "scripts/constraints.txt", "-e", "generated", "-e", ".[dev]"]
    assert tox["testenv"]["basepython"] == f"python{_project()['requires-python'].removeprefix('>=')}"
    assert tox["tox"]["ignore_base_python_conflict"] == "true"  # `tox -e tests-py313` runs on 3.13
    assert "python scripts/check.py --no-bootstrap" in tox["testenv"]["commands"]


@pytest.mark.parametrize("name", ["coverage", "pytest", "mypy", "ruff"])
def test_the_check_tools_are_pinned(name: str) -> None:
    assert canonicalize_name(name) in _constraints()
