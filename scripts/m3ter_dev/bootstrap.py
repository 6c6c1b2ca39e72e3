"""Create or refresh the project's virtual environment (.venv) with exactly pinned tools.

Needs only python3 (3.11+) and the standard library. Installs the generated client (generated/) and the
harness (this project, which puts scripts/ on the path for ``m3ter_dev``) in editable mode with the pins of
pyproject.toml and scripts/constraints.txt, and does nothing when the environment already matches them.
The entry points in scripts/ call ``reexec_in_venv`` to re-run themselves inside it.

    python3 scripts/bootstrap.py            # make sure .venv is ready
    python3 scripts/bootstrap.py --freeze   # rewrite scripts/constraints.txt from .venv
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping
from pathlib import Path

from .layout import CONSTRAINTS, GENERATED, ROOT

INPUTS = (ROOT / "pyproject.toml", ROOT / "scripts" / "hatch_build.py", GENERATED / "pyproject.toml", CONSTRAINTS)
PIP = "25.3"
CLIENT_REQUIREMENT_ENV = "M3TER_CLIENT_REQUIREMENT"  # read by hatch_build.py: "path" (default) or "version"


def venv_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``M3TER_VENV`` when set and not empty, else ``.venv`` at the root (never the current directory)."""
    return Path(environ.get("M3TER_VENV") or ROOT / ".venv").resolve()


VENV = venv_dir()


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(f"{extras}|{sys.version}|{PIP}".encode())
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
    if not _install(extras, fresh=not _usable_venv()):
        print("bootstrap: the environment looks broken; recreating it", file=sys.stderr)
        if not _install(extras, fresh=True):
            sys.exit(f"bootstrap: could not install the pinned dependencies into {VENV} (see pip's output above)")
    marker.write_text(wanted)
    return _python()


def _usable_venv() -> bool:
    """A virtual environment of this interpreter's version is there (it may still lack packages)."""
    config = VENV / "pyvenv.cfg"
    if not (config.is_file() and _python().exists()):
        return False
    wanted = "{}.{}".format(*sys.version_info[:2])
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info") and value.strip().startswith(wanted):
            return True
    return False


def _create() -> None:
    """(Re)create the venv; only a directory that is absent, empty or already a venv is ever cleared."""
    if VENV.exists() and any(VENV.iterdir()) and not (VENV / "pyvenv.cfg").is_file():
        sys.exit(f"bootstrap: {VENV} exists and is not a virtual environment; refusing to clear it (set M3TER_VENV)")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except subprocess.CalledProcessError:  # ensurepip failed: Debian and Ubuntu ship it apart from python3
        shutil.rmtree(VENV, ignore_errors=True)  # ours (just created, cleared): a later run starts afresh
        version = "{}.{}".format(*sys.version_info[:2])
        sys.exit(
            f"bootstrap: {sys.executable} could not put pip into a new virtual environment (its ensurepip is"
            f" missing or failed). On Debian or Ubuntu install it with `apt install python{version}-venv`, or"
            " run this with another Python 3.11+ (python.org, pyenv, uv python install)."
        )


def _install(extras: str, *, fresh: bool) -> bool:
    if fresh:
        _create()
    pip = [str(_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    constraints = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    steps = [
        [*pip, "install", f"pip=={PIP}"],
        [*pip, "install", *constraints, "-e", str(ROOT / "generated"), "-e", target],
    ]
    # generated/ is installed editable here, so the root names the client by version, not by path
    # (hatch_build.py); pip refuses a path dependency and an editable install of the same folder.
    env = {**os.environ, CLIENT_REQUIREMENT_ENV: "version"}
    return all(subprocess.run(step, check=False, env=env).returncode == 0 for step in steps)


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


def main(argv: list[str]) -> int:
    unknown = [arg for arg in argv if arg not in ("--bench", "--freeze")]
    if unknown:
        print(f"bootstrap: unknown argument(s) {' '.join(unknown)}; use --bench and/or --freeze", file=sys.stderr)
        return 2
    ensure_venv("dev,bench" if "--bench" in argv else "dev")
    if "--freeze" in argv:
        freeze()
    return 0
