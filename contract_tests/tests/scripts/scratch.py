"""A scratch copy of the repository for the end-to-end tests, and running the project's scripts in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from m3ter_dev.layout import ROOT

SPEC = Path("spec") / "m3ter-billing.yaml"
# What never goes into the scratch copy: environments, caches, build output.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    ".hypothesis", ".m3ter-conformance", ".coverage", ".coverage.*", "node_modules", "results",
)  # fmt: skip


def copy_repo(scratch: Path) -> Path:
    """The repository (without environments and caches) copied to ``scratch``."""
    shutil.copytree(ROOT, scratch, ignore=IGNORED)
    return scratch


def scratch_env(scratch: Path) -> dict[str, str]:
    """The project's .venv with the scratch copy's packages first on the path, and no M3TER_* setting."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("M3TER_")}
    paths = [scratch / "generated", scratch / "contract_tests", scratch / "scripts"]
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_in(scratch: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the scratch copy (its packages first on the path)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=scratch,
        env=scratch_env(scratch),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
