"""The one check shared by local runs, tox and CI: lint, format, types, regeneration drift, tests.

    python3 scripts/check.py                 # everything (creates .venv with pinned tools first)
    python3 scripts/check.py lint tests      # some steps
    python3 scripts/check.py tests -- -k auth  # arguments after -- go to pytest

Steps: lint (ruff check), format (ruff format --check), types (mypy --strict), regen (generated/ equals a
fresh regeneration), tests (pytest, warnings are errors), floors (the client tests again, in a scratch venv
with the lowest dependency versions generated/pyproject.toml allows; needs PyPI).
Exits non-zero when any step fails.
``--no-bootstrap`` uses the current interpreter as it is (tox does this).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

STEPS: dict[str, list[str]] = {
    "lint": ["-m", "ruff", "check", "."],
    "format": ["-m", "ruff", "format", "--check", "."],
    "types": ["-m", "mypy", "--strict", "generated/m3ter_billing", "contract_tests/m3ter_contract", "scripts"],
    "regen": ["scripts/regenerate.py", "--check"],
    "tests": ["-m", "pytest"],
    "floors": ["scripts/check_floors.py"],
}


def main(argv: list[str]) -> int:
    bootstrap = "--no-bootstrap" not in argv
    argv = [arg for arg in argv if arg != "--no-bootstrap"]
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    unknown = [step for step in argv if step not in STEPS]
    if unknown:
        print(f"check: unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}", file=sys.stderr)
        return 2
    if extra and argv and "tests" not in argv:
        print("check: arguments after -- go to pytest, but the tests step is not selected", file=sys.stderr)
        return 2
    if bootstrap:
        from bootstrap import reexec_in_venv

        reexec_in_venv("dev")
    failed: list[str] = []
    for step in argv or list(STEPS):
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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
