"""scripts/bootstrap.py (m3ter_dev.bootstrap) never clears a directory that is not a virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from m3ter_dev import bootstrap
from m3ter_dev.bootstrap import main, venv_dir
from m3ter_dev.layout import ROOT


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


def test_a_python_without_ensurepip_gets_told_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian and Ubuntu ship ensurepip apart from python3: creating the venv fails in a subprocess."""

    def no_ensurepip(self: venv.EnvBuilder, env_dir: str) -> None:
        Path(env_dir).mkdir()
        (Path(env_dir) / "pyvenv.cfg").write_text("home = /usr/bin\n")  # made, but without pip
        raise subprocess.CalledProcessError(1, [sys.executable, "-m", "ensurepip"])

    monkeypatch.setattr(venv.EnvBuilder, "create", no_ensurepip)
    monkeypatch.setattr(bootstrap, "VENV", tmp_path / "venv")
    with pytest.raises(SystemExit) as exit_info:
        bootstrap.ensure_venv()
    message = str(exit_info.value.code)
    assert "ensurepip" in message
    assert f"apt install python{sys.version_info[0]}.{sys.version_info[1]}-venv" in message
    assert "Traceback" not in message
    assert not (tmp_path / "venv").exists()  # the half-made venv is gone: the next run starts afresh


def test_an_empty_setting_means_the_default_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert venv_dir({"M3TER_VENV": ""}) == (ROOT / ".venv").resolve()
    assert venv_dir({}) == (ROOT / ".venv").resolve()
    assert venv_dir({"M3TER_VENV": "elsewhere"}) == (tmp_path / "elsewhere").resolve()


def test_unknown_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frezee"]) == 2
    assert "unknown argument(s) --frezee" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argument", "code", "stream", "says"),
    [("--help", 0, "stdout", "--outdir"), ("--bogus", 2, "stderr", "unrecognized arguments: --bogus")],
)
def test_build_dists_answers_help_and_usage_errors_before_bootstrapping(
    argument: str, code: int, stream: str, says: str, tmp_path: Path
) -> None:
    """A venv it would have to build (here one it refuses to touch) is not needed to print the help."""
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_dists.py"), argument],
        env={**os.environ, "M3TER_VENV": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == code, result.stderr
    assert says in getattr(result, stream)
    assert "refusing to clear it" not in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
