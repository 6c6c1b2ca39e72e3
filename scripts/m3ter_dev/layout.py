"""Where things are in the repository (standard library only: imported before .venv exists)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
SPEC = ROOT / "spec" / "m3ter-billing.yaml"
SPEC_PATH = "spec/m3ter-billing.yaml"  # the same, relative to the root (as ``git show REV:PATH`` wants it)
OVERRIDES = ROOT / "overrides"
GENERATED = ROOT / "generated"
PACKAGE = "m3ter_billing"  # the generated import package
CONSTRAINTS = SCRIPTS / "constraints.txt"


def repo_path(path: Path) -> str:
    """``path`` as messages and headers name it: relative to the root when inside the repository."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name
