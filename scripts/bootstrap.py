"""Create or refresh the project's virtual environment (.venv) with exactly pinned tools.

Needs only python3 (3.11+). Installs the generated client (generated/) and the harness (this project)
in editable mode with the pins of pyproject.toml and scripts/constraints.txt, and does nothing when the
environment already matches them. Other scripts import ``ensure_venv`` and re-run themselves inside it.

    python3 scripts/bootstrap.py            # make sure .venv is ready
    python3 scripts/bootstrap.py --freeze   # rewrite scripts/constraints.txt from .venv
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("M3TER_VENV", ROOT / ".venv"))
CONSTRAINTS = ROOT / "scripts" / "constraints.txt"
INPUTS = (ROOT / "pyproject.toml", ROOT / "generated" / "pyproject.toml", CONSTRAINTS)
PIP = "25.3"


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for path in INPUTS:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(extras: str = "dev") -> Path:
    """Make sure .venv exists with the pinned dependencies (and ``extras``); return its python."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs under any python3 first
        sys.exit("m3ter-billing needs Python 3.11 or newer")
    marker = VENV / ".m3ter-installed"
    wanted = _fingerprint(extras)
    if marker.exists() and marker.read_text() == wanted and _python().exists():
        return _python()
    print(f"bootstrap: preparing {VENV} (pinned dependencies, extras: {extras or 'none'})", file=sys.stderr)
    if not _python().exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [str(_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", f"pip=={PIP}"], check=True)
    constraints = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    subprocess.run([*pip, "install", *constraints, "-e", str(ROOT / "generated"), "-e", target], check=True)
    marker.write_text(wanted)
    return _python()


def reexec_in_venv(extras: str = "dev") -> None:
    """Re-run the calling script with the venv's python unless it already runs there."""
    python = ensure_venv(extras)
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(python), [str(python), *sys.argv])


def freeze() -> None:
    out = subprocess.run(
        [str(_python()), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = sorted(line for line in out.splitlines() if line and not line.startswith(("-e ", "#")))
    CONSTRAINTS.write_text(
        "# Written by `python3 scripts/bootstrap.py --freeze`: every transitive pin.\n" + "\n".join(lines) + "\n"
    )
    print(f"wrote {len(lines)} pins to {CONSTRAINTS.relative_to(ROOT)}")


if __name__ == "__main__":
    ensure_venv("dev,bench" if "--bench" in sys.argv else "dev")
    if "--freeze" in sys.argv:
        freeze()
