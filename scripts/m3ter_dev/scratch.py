"""Scratch virtual environments for the steps that test outside ``.venv`` (floors, newest): uv, and the
commands they run from the root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .layout import ROOT


def uv(step: str) -> str:
    """The uv executable (a pinned dev dependency, beside the running interpreter or on ``PATH``)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        raise SystemExit(f"{step}: uv is not installed (it is a pinned dev dependency: run scripts/bootstrap.py)")
    return found


def python_of(venv: Path) -> str:
    """The interpreter of the virtual environment ``venv``."""
    return str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def run(command: list[str], **kwargs: object) -> None:
    """Run ``command`` from the root, shown first; raise when it fails."""
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]
