"""The one check shared by local runs, tox, pre-commit and CI: lint, format, types, regeneration drift,
tests and their branch coverage.

    python3 scripts/check.py                   # everything (creates .venv with pinned tools first)
    python3 scripts/check.py lint tests        # some steps
    python3 scripts/check.py tests -- -k auth  # arguments after -- go to pytest

Steps: lint (ruff check), format (ruff format --check), types (mypy --strict over the client, the harness,
the dev tools and the tests), imports (the import-linter contracts of .importlinter: ARCHITECTURE.md's
layering), regen (generated/ equals a fresh regeneration: the one regeneration check of a run), tests
(pytest under coverage, warnings are errors), coverage (branch coverage of the last tests step against the
floor, ``fail_under`` in pyproject.toml; skipped when pytest got arguments, since a partial run covers
less) and floors (the client tests again, in a scratch venv with the lowest dependency versions
generated/pyproject.toml allows; needs PyPI) and newest (every test again on the newest Python the
classifiers name, at the pins, when the machine has it: ``m3ter_dev.newest``). Exits non-zero when any
step fails. ``--no-bootstrap`` uses
the current interpreter as it is (tox and pre-commit do this).
"""

from __future__ import annotations

import subprocess
import sys
import time

from .bootstrap import reexec_in_venv
from .layout import ROOT

# pytest-xdist: a pytest run spread over the machine's cores, at most four (more only add start-up time).
# Used by the tests step (coverage from every worker: pytest-cov), the floors step and the spec-change
# test's run of a scratch copy.
# worksteal: a worker that runs out takes tests queued for another (the default hands out fixed blocks, so
# the slow tests, collected first, would all queue on one worker).
PYTEST_WORKERS = ("-n", "auto", "--maxprocesses", "4", "--dist", "worksteal")

STEPS: dict[str, list[str]] = {
    "lint": ["-m", "ruff", "check", "."],
    "format": ["-m", "ruff", "format", "--check", "."],
    "types": [
        "-m",
        "mypy",
        "--strict",
        # Module names from mypy_path (tests.client.x, not client.x, which scripts/*.py would shadow).
        "--explicit-package-bases",
        "generated/m3ter_billing",
        "contract_tests/m3ter_contract",
        "scripts",
        "contract_tests/tests",
    ],
    # The layering of ARCHITECTURE.md: the contracts in .importlinter (every import, also inside functions).
    "imports": ["-c", "import sys, importlinter.cli as cli; sys.exit(cli.lint_imports_command())"],
    "regen": ["scripts/regenerate.py", "--check"],
    # The floor (fail_under) is the coverage step's: a run of some tests (arguments after --) has none.
    "tests": ["-m", "pytest", *PYTEST_WORKERS, "--cov", "--cov-report=", "--cov-fail-under=0"],
    "coverage": ["-m", "coverage", "report"],
    "floors": ["scripts/check_floors.py"],
    "newest": ["scripts/check_newest.py"],
}


def plan(argv: list[str]) -> tuple[list[str], list[str], bool] | str:
    """(steps, pytest arguments, bootstrap) for a command line, or the usage error to print."""
    bootstrap = "--no-bootstrap" not in argv
    argv = [arg for arg in argv if arg != "--no-bootstrap"]
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    unknown = [step for step in argv if step not in STEPS]
    if unknown:
        return f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}"
    if extra and argv and "tests" not in argv:
        return "arguments after -- go to pytest, but the tests step is not selected"
    steps = argv or list(STEPS)
    if extra and "coverage" in steps:
        print("check: skipping the coverage step: the floor applies to the whole test suite", file=sys.stderr)
        steps = [step for step in steps if step != "coverage"]
    return steps, extra, bootstrap


def main(argv: list[str]) -> int:
    planned = plan(argv)
    if isinstance(planned, str):
        print(f"check: {planned}", file=sys.stderr)
        return 2
    steps, extra, bootstrap = planned
    if bootstrap:
        reexec_in_venv("dev")
    failed: list[str] = []
    for step in steps:
        command = [sys.executable, *STEPS[step], *(extra if step == "tests" else [])]
        print(f"\n=== {step}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        print(f"=== {step}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.perf_counter() - started:.1f}s")
        if code != 0:
            failed.append(step)
    if failed:
        print(f"\ncheck: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("\ncheck: all steps passed")
    return 0
