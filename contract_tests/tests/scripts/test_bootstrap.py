"""scripts/bootstrap.py never clears a directory that is not a virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_bootstrap(venv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "M3TER_VENV": venv}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bootstrap.py")],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_directory_that_is_not_a_venv_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = run_bootstrap(str(target), tmp_path)
    assert result.returncode != 0
    assert "refusing to clear it" in result.stderr
    assert (target / "notes.txt").read_text() == "keep me"


def test_an_empty_setting_means_the_default_not_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import bootstrap; print(bootstrap.VENV)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "M3TER_VENV": ""},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()) == (ROOT / ".venv").resolve()
    assert (tmp_path / "notes.txt").read_text() == "keep me"
