"""The whole test suite again on the newest Python the project supports, at the pinned versions.

    python3 scripts/check.py newest          # or: python3 scripts/check_newest.py

The tests step runs on the interpreter the bootstrap made ``.venv`` with (``python3``: 3.11, the oldest
supported, on this project's machines), and the floors step runs the client tests at their dependencies'
floors on that same interpreter. This step covers the other end of the range: it finds the newest Python
that pyproject.toml's classifiers name (``Programming Language :: Python :: 3.X``), makes a virtual
environment with it in a temporary directory (uv), installs the pins of scripts/constraints.txt, the
client and the harness (editable, as the bootstrap does), and runs every test there, warnings as errors
(but the spec-change flow test, which would run the suite a second time on that Python).

The interpreter is looked for on ``PATH`` (``python3.X``) and then among pyenv's versions
(``$PYENV_ROOT/versions/3.X.*``). A machine without one gets a line saying so and the step passes: the
GitHub workflow runs the whole check on each supported Python anyway (and on the newest, the tests step
already covers it: the step is skipped there too). Needs the package registry, as the
bootstrap does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from . import scratch
from .bootstrap import CLIENT_REQUIREMENT_ENV
from .check import PYTEST_WORKERS
from .layout import CONSTRAINTS, ROOT

_CLASSIFIER = re.compile(r"^Programming Language :: Python :: 3\.(\d+)$")
# The spec-change flow test runs the whole fast suite of a regenerated scratch copy (3-4 minutes): on this
# Python, the step's own run of every test already covers what that second run would.
_LEFT_OUT = ("--ignore", "contract_tests/tests/scripts/test_spec_changes_flow_through.py")


def newest_supported() -> str:
    """``3.X``: the newest Python version pyproject.toml's classifiers name."""
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    minors = [int(match[1]) for match in map(_CLASSIFIER.match, classifiers) if match]
    if not minors:
        raise SystemExit("check_newest: pyproject.toml names no 'Programming Language :: Python :: 3.X'")
    return f"3.{max(minors)}"


def _runs(python: str, version: str) -> bool:
    """Whether ``python`` starts and is ``version`` (a pyenv shim for a version not selected does not)."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` on this machine, or None."""
    candidates = [found] if (found := shutil.which(f"python{version}")) else []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        patch = re.compile(rf"^{re.escape(version)}\.(\d+)$")
        releases = sorted(
            (path for path in pyenv.iterdir() if patch.match(path.name)),
            key=lambda path: int(path.name.rsplit(".", 1)[1]),
            reverse=True,
        )
        candidates += [str(path / "bin" / "python") for path in releases]
    return next((python for python in candidates if _runs(python, version)), None)


def main() -> int:
    version = newest_supported()
    if "{}.{}".format(*sys.version_info[:2]) == version:
        print(f"check_newest: the tests step runs on Python {version} itself: step skipped", flush=True)
        return 0
    python = find_python(version)
    if python is None:
        print(f"check_newest: no Python {version} on this machine (PATH, pyenv): step skipped", flush=True)
        return 0
    uv = scratch.uv("check_newest")
    with tempfile.TemporaryDirectory(prefix="m3ter-newest-") as tmp:
        venv = Path(tmp) / "venv"
        venv_python = scratch.python_of(venv)
        # --seed: pip in the venv, as python -m venv gives it (tests install wheels with it)
        scratch.run([uv, "venv", "--quiet", "--seed", "--python", python, str(venv)])
        # generated/ editable, so the root names the client by version (as the bootstrap installs them).
        env = {**os.environ, CLIENT_REQUIREMENT_ENV: "version"}
        install = [uv, "pip", "install", "--quiet", "--python", venv_python, "-c", str(CONSTRAINTS)]
        scratch.run([*install, "-e", str(ROOT / "generated"), "-e", f"{ROOT}[dev]"], env=env)
        command = [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PYTEST_WORKERS, *_LEFT_OUT]
        print("$", " ".join(command), flush=True)
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
    print(f"check_newest: the tests on Python {version} {'passed' if code == 0 else 'FAILED'}", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
