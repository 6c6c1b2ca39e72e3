"""The lowest-dependencies check: install a distribution with each runtime dependency at the lowest version
its range admits, then run its tests.

    python3 scripts/lowest.py constraints harness   # print the constraints (name==floor per line)
    python3 scripts/lowest.py run harness           # fresh venv in build/lowest-harness, install, test

CI's lowest-dependencies job runs ``run``, so a floor in pyproject.toml is a version that was tested, not a
guess ("lowest-direct": the direct dependencies at their floors, the transitive ones as the resolver picks
them; the test tools at their pins). Standard library only: it runs before any environment exists.

Distributions (``DISTRIBUTIONS``):

- ``harness``: the root project's ``[tool.hatch.metadata.hooks.custom] dependencies`` at their floors, with
  the client from generated/ and the ``test`` extra; runs the client, sandbox, rules and conformance tests and
  the embedded ``m3ter-conformance``.
- the client's floors (generated/pyproject.toml) are checked by the ``floors`` step of scripts/check.py
  (``m3ter_dev.floors``, with uv), so on every Python of CI's matrix; a ``client`` entry here would repeat it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
import venv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .bootstrap import CLIENT_REQUIREMENT_ENV
from .check import PYTEST_WORKERS
from .layout import GENERATED, ROOT

# NAME then version clauses; extras and markers are not used by these lists and are refused.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*((?:[<>=!~]=?\s*[^,;\s]+\s*,?\s*)+)$")
_LOWER_BOUND = re.compile(r"^(>=|==|~=)\s*([0-9][^,\s]*)$")


class FloorError(ValueError):
    """A requirement without exactly one usable lower bound."""


def floor(requirement: str) -> tuple[str, str]:
    """(name, lowest admitted version) of a requirement such as ``httpx>=0.27,<0.29``."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise FloorError(f"{requirement!r}: expected NAME followed by version clauses (no extras or markers)")
    clauses = [clause.strip() for clause in match.group(2).split(",") if clause.strip()]
    floors = [bound.group(2) for bound in map(_LOWER_BOUND.match, clauses) if bound is not None]
    if len(floors) != 1:
        raise FloorError(f"{requirement!r}: needs exactly one lower bound (>=, ~= or ==) to test")
    return match.group(1), floors[0]


def constraints(requirements: Iterable[str]) -> str:
    lines = [f"{name}=={version}" for name, version in map(floor, requirements)]
    return "# The lowest versions the ranges admit (scripts/lowest.py).\n" + "\n".join(lines) + "\n"


def harness_requirements(root: Path = ROOT) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    requirements: list[str] = config["tool"]["hatch"]["metadata"]["hooks"]["custom"]["dependencies"]
    return requirements


@dataclass(frozen=True)
class Distribution:
    requirements: Callable[[], list[str]]  # the ranges whose floors are installed
    install: tuple[str, ...]  # pip install arguments, after the constraints
    tests: tuple[str, ...]  # pytest arguments
    commands: tuple[tuple[str, ...], ...] = ()  # more commands; the first word is a script of the venv


TESTS = ROOT / "contract_tests" / "tests"
DISTRIBUTIONS: dict[str, Distribution] = {
    "harness": Distribution(
        requirements=harness_requirements,
        install=("-e", str(GENERATED), "-e", f"{ROOT}[test]"),
        tests=tuple(str(TESTS / area) for area in ("client", "sandbox", "rules", "conformance")),
        commands=(("m3ter-conformance",),),
    ),
}


def run(name: str, venv_dir: Path) -> int:
    """Install ``name`` at its floors into a fresh ``venv_dir`` and run its tests; the first failing exit."""
    distribution = DISTRIBUTIONS[name]
    venv_dir.mkdir(parents=True, exist_ok=True)
    constraints_file = venv_dir / "lowest-constraints.txt"
    constraints_file.write_text(constraints(distribution.requirements()), encoding="utf-8")
    print(constraints_file.read_text(), end="", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir / "venv")
    bin_dir = venv_dir / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    # generated/ is installed editable, so the harness names the client by version (hatch_build.py).
    # Without M3TER_* settings: the embedded check must not be pointed at a real organization.
    env = {key: value for key, value in os.environ.items() if not key.startswith("M3TER_")}
    env[CLIENT_REQUIREMENT_ENV] = "version"
    steps = [
        [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-c",
            str(constraints_file),
            *distribution.install,
        ],
        [python, "-m", "pip", "list", "--disable-pip-version-check"],
        [python, "-m", "pytest", "-q", *PYTEST_WORKERS, *distribution.tests],
        *([str(bin_dir / command[0]), *command[1:]] for command in distribution.commands),
    ]
    for step in steps:
        print(f"\nlowest: {' '.join(step)}", flush=True)
        code = subprocess.run(step, cwd=ROOT, env=env, check=False).returncode
        if code != 0:
            print(f"lowest: failed (exit {code}): {' '.join(step)}", file=sys.stderr)
            return code
    print(f"\nlowest: {name} passes at its floors")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lowest.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("constraints", "run"))
    parser.add_argument("distribution", choices=sorted(DISTRIBUTIONS))
    parser.add_argument("--venv", type=Path, help="run: where to create the venv (default build/lowest-NAME)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        if args.command == "constraints":
            sys.stdout.write(constraints(DISTRIBUTIONS[args.distribution].requirements()))
            return 0
        return run(args.distribution, args.venv or ROOT / "build" / f"lowest-{args.distribution}")
    except FloorError as exc:
        print(f"lowest: {exc}", file=sys.stderr)
        return 2
