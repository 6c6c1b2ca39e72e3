"""scripts/check_newest.py (m3ter_dev.newest): which Python the newest step runs the tests on."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest
from m3ter_dev import newest
from m3ter_dev.layout import ROOT


def _fake_python(path: Path, prints: str, code: int = 0) -> Path:
    """An executable that answers the version question as a Python of ``prints`` would (or fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {prints}\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_newest_supported_python_is_the_last_classifier() -> None:
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    assert f"Programming Language :: Python :: {newest.newest_supported()}" in classifiers
    assert newest.newest_supported() == "3.13"


@pytest.mark.skipif(os.name == "nt", reason="shell scripts stand in for interpreters")
def test_pyenvs_newest_patch_release_is_found_and_a_broken_one_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "pyenv" / "versions"
    _fake_python(versions / "3.13.1" / "bin" / "python", "3.13")
    _fake_python(versions / "3.13.10" / "bin" / "python", "3.13", code=1)  # broken: not taken
    _fake_python(versions / "3.13.2" / "bin" / "python", "3.13")
    _fake_python(versions / "3.12.9" / "bin" / "python", "3.12")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no python3.13 on PATH
    assert newest.find_python("3.13") == str(versions / "3.13.2" / "bin" / "python")
    assert newest.find_python("3.12") == str(versions / "3.12.9" / "bin" / "python")
    assert newest.find_python("3.14") is None


@pytest.mark.skipif(os.name == "nt", reason="shell scripts stand in for interpreters")
def test_a_shim_for_a_version_not_installed_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pyenv's shim for python3.13 exists on PATH even when no 3.13 is selected; it fails when run.
    _fake_python(tmp_path / "bin" / "python3.13", "pyenv: python3.13: command not found", code=127)
    _fake_python(tmp_path / "bin" / "python3.12", "3.11")  # answers another version: not taken either
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    assert newest.find_python("3.13") is None
    assert newest.find_python("3.12") is None


def test_a_machine_without_the_newest_python_skips_the_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(newest, "newest_supported", lambda: "3.99")  # not the one running the tests
    monkeypatch.setattr(newest, "find_python", lambda version: None)
    assert newest.main() == 0
    assert capsys.readouterr().out == "check_newest: no Python 3.99 on this machine (PATH, pyenv): step skipped\n"


def test_the_step_is_skipped_when_the_tests_already_run_on_the_newest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(newest, "newest_supported", lambda: "{}.{}".format(*sys.version_info[:2]))
    monkeypatch.setattr(newest, "find_python", lambda version: pytest.fail("looked for another Python"))
    assert newest.main() == 0
    assert "the tests step runs on Python" in capsys.readouterr().out
