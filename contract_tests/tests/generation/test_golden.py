"""Golden record: generated/ is exactly what spec/ + overrides/ regenerate to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_committed_client_equals_a_fresh_regeneration() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regenerate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_check_mode_shows_the_diff_when_generated_is_stale(tmp_path: Path) -> None:
    """--check must fail, and say where, when the committed tree differs from the regeneration."""
    regenerate = _load_regenerate()
    fresh = tmp_path / "fresh"
    regenerate.build(fresh)
    stale = tmp_path / "stale"
    import shutil

    shutil.copytree(fresh, stale)
    init = stale / "m3ter_billing" / "__init__.py"
    init.write_text(init.read_text() + "# hand edit\n")
    diff = regenerate.diff(fresh, stale)
    assert "generated/m3ter_billing/__init__.py" in diff
    assert "-# hand edit" in diff
    assert regenerate.diff(fresh, fresh) == ""


def test_package_version_comes_from_the_spec_and_the_overrides_revision() -> None:
    regenerate = _load_regenerate()
    version = regenerate.package_version()
    pyproject = (ROOT / "generated" / "pyproject.toml").read_text()
    assert f'version = "{version}"' in pyproject
    init = (ROOT / "generated" / "m3ter_billing" / "__init__.py").read_text()
    assert f'__version__ = "{version}"' in init


def _load_regenerate():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("regenerate", ROOT / "scripts" / "regenerate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_reports_a_binary_file_instead_of_crashing(tmp_path: Path) -> None:
    regenerate = _load_regenerate()
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    (fresh / "pkg").mkdir(parents=True)
    (stale / "pkg").mkdir(parents=True)
    (fresh / "pkg" / "a.py").write_text("x = 1\n")
    (stale / "pkg" / "a.py").write_text("x = 1\n")
    (stale / ".DS_Store").write_bytes(b"\x00\xff")
    assert regenerate.diff(fresh, stale) == "Binary files generated/.DS_Store and regenerated/.DS_Store differ\n"
