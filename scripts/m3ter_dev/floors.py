"""The client's declared dependency ranges are true at their floors.

    python3 scripts/check_floors.py          # or: python3 scripts/check.py floors

Builds a fresh virtual environment in a temporary directory, installs the *lowest* versions of the client's
runtime dependencies that generated/pyproject.toml allows, its extras' included (``uv pip install
--resolution lowest-direct --extra aiohttp``),
checks that each installed version is exactly its declared floor, adds the client (without dependencies)
and the pinned test tools, and runs the client tests there (those that need only the client: modules that
import the harness, ``m3ter_contract``, are left out). Needs the package registry (PyPI), as the bootstrap
does. Exits non-zero when a floor is not true.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from . import scratch
from .check import PYTEST_WORKERS
from .layout import ROOT

CLIENT_PYPROJECT = ROOT / "generated" / "pyproject.toml"
CONSTRAINTS = ROOT / "scripts" / "constraints.txt"
CLIENT_TESTS = ROOT / "contract_tests" / "tests" / "client"
# The test tools the client tests import, at the versions pinned for the project (pytest-xdist and its
# execnet: the tests run on every core).
TEST_TOOLS = ("pytest", "pytest-asyncio", "pytest-xdist", "execnet", "respx", "hypothesis")
# The client's extras, installed at their floors too (their tests skip where an extra is missing).
EXTRAS = ("aiohttp",)
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def floors() -> dict[str, str]:
    """``{distribution: floor}`` for every runtime dependency of the client and of its extras (installed
    with them: ``EXTRAS``); each must declare a floor."""
    project = tomllib.loads(CLIENT_PYPROJECT.read_text())["project"]
    dependencies = list(project["dependencies"])
    for extra in EXTRAS:
        dependencies += project["optional-dependencies"][extra]
    found: dict[str, str] = {}
    for requirement in dependencies:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"check_floors: {requirement!r} declares no '>=' floor")
        found[_canonical(match[1])] = match[2]
    return found


def pins(names: tuple[str, ...]) -> list[str]:
    """The exact pins of ``names`` from scripts/constraints.txt."""
    pinned = {}
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pinned[_canonical(name)] = f"{name.strip()}=={version.strip()}"
    missing = [name for name in names if _canonical(name) not in pinned]
    if missing:
        raise SystemExit(f"check_floors: no pin for {', '.join(missing)} in {CONSTRAINTS}")
    return [pinned[_canonical(name)] for name in names]


def client_only_tests() -> list[str]:
    """The client test modules that import only the client (not the harness)."""
    return sorted(
        str(path.relative_to(ROOT))
        for path in CLIENT_TESTS.glob("test_*.py")
        if "m3ter_contract" not in path.read_text(encoding="utf-8")
    )


def main() -> int:
    uv = scratch.uv("check_floors")
    wanted = floors()
    with tempfile.TemporaryDirectory(prefix="m3ter-floors-") as tmp:
        venv = Path(tmp) / "venv"
        python = scratch.python_of(venv)
        scratch.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        install = [uv, "pip", "install", "--quiet", "--python", python]
        extras = [argument for extra in EXTRAS for argument in ("--extra", extra)]
        scratch.run(
            [*install, "--resolution", "lowest-direct", "-r", str(CLIENT_PYPROJECT), *extras, *pins(TEST_TOOLS)]
        )
        scratch.run([*install, "--no-deps", str(ROOT / "generated")])
        listed = subprocess.run(
            [uv, "pip", "freeze", "--python", python], check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout
        installed = {_canonical(n): v for n, _, v in (line.partition("==") for line in listed.splitlines()) if v}
        wrong = {name: installed.get(name) for name, floor in wanted.items() if installed.get(name) != floor}
        if wrong:
            print(f"check_floors: resolved {wrong}, expected the floors {wanted}", file=sys.stderr)
            return 1
        print(f"check_floors: installed the floors {wanted}", flush=True)
        tests = client_only_tests()
        command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PYTEST_WORKERS, *tests]
        code = subprocess.run(command, cwd=ROOT).returncode
    print(f"check_floors: client tests at the floors {'passed' if code == 0 else 'FAILED'}", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
