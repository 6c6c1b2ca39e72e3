"""No output of a run is ever written over what the run reads (its ids file, its spec, its baseline, the
``--config`` file and the files it names), however the path is spelled: exit 2 before anything is sent,
the input left as it was."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from m3ter_contract.conformance.command import main
from m3ter_contract.sandbox import Sandbox, SandboxServer
from m3ter_contract.spec_facts import CURATED_SPEC

OUTPUTS = ["--report-json", "--junit-xml", "--markdown", "--write-baseline", "--suggest-overlay", "--state"]


def _plain(path: Path) -> Path:
    return path


def _dotted(path: Path) -> Path:
    return path.parent / "." / ".." / path.parent.name / path.name


def _symlink(path: Path) -> Path:
    link = path.with_name("link-" + path.name)
    link.symlink_to(path)
    return link


def _hardlink(path: Path) -> Path:
    link = path.with_name("hard-" + path.name)
    os.link(path, link)
    return link


SPELLINGS: dict[str, Callable[[Path], Path]] = {
    "same": _plain,
    "dotted": _dotted,
    "symlink": _symlink,
    "hardlink": _hardlink,
}


def _refused(capsys: pytest.CaptureFixture[str], args: list[str], environ: dict[str, str], what: str) -> str:
    assert main(args, environ=environ) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"is {what}" in err
    assert "pass another path" in err
    return err


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_no_output_is_written_over_the_ids_file(
    output: str,
    spelling: str,
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = tmp_path / "ids.json"
    text = json.dumps({"bills": [sandbox.seeded.bills["monthly"]], "statement_jobs": []})
    ids.write_text(text)
    spelled = SPELLINGS[spelling](ids)
    state = [] if output == "--state" else ["--no-state"]
    args = ["--base-url", server.url, "--ids-file", str(ids), *state, output, str(spelled), "--quiet"]
    _refused(capsys, args, environ, "the --ids-file")
    assert ids.read_text() == text
    assert sandbox.requests == []  # refused before anything was sent


@pytest.mark.parametrize("spelling", ["same", "symlink"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_no_output_is_written_over_the_spec(
    output: str, spelling: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "myspec.yaml"
    shutil.copyfile(CURATED_SPEC, spec)
    before = spec.read_bytes()
    _refused(capsys, ["--spec", str(spec), output, str(SPELLINGS[spelling](spec)), "--quiet"], {}, "the --spec file")
    assert spec.read_bytes() == before


def test_no_output_is_written_over_the_default_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "env-spec.yaml"
    shutil.copyfile(CURATED_SPEC, spec)
    monkeypatch.setenv("M3TER_SPEC_PATH", str(spec))
    before = spec.read_bytes()
    _refused(capsys, ["--markdown", str(spec), "--quiet"], {}, "the spec the check judges by")
    assert spec.read_bytes() == before


@pytest.mark.parametrize("output", [o for o in OUTPUTS if o != "--write-baseline"])
def test_only_write_baseline_may_rewrite_the_baseline(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accepted = tmp_path / "accepted.json"
    accepted.write_text('{"findings": []}')
    args = ["--baseline", str(accepted), output, str(_symlink(accepted)), "--quiet"]
    _refused(capsys, args, {}, "the --baseline file")
    assert accepted.read_text() == '{"findings": []}'


def test_a_config_run_never_writes_over_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text("[orgs.demo]\nembedded = true\n")
    spec = tmp_path / "myspec.yaml"
    shutil.copyfile(CURATED_SPEC, spec)
    before = spec.read_bytes()
    args = ["--config", str(config), "--spec", str(spec), "--suggest-overlay", str(spec), "--quiet"]
    _refused(capsys, args, {}, "the --spec file")
    assert spec.read_bytes() == before


@pytest.mark.parametrize(("option", "variable"), [("--org-id", "M3TER_ORG_ID"), ("--base-url", "M3TER_BASE_URL")])
def test_an_empty_option_is_refused_not_replaced_by_the_environment(
    option: str,
    variable: str,
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {**environ, "M3TER_BASE_URL": server.url}
    args = ["--bill-id", sandbox.seeded.bills["monthly"], "--no-state", option, "", "--report-json"]
    assert main([*args, str(tmp_path / "r.json"), "--quiet"], environ=env) == 2
    assert f"{option} is empty: give a value, or leave it out to use {variable}" in capsys.readouterr().err
    assert sandbox.requests == []
    assert json.loads((tmp_path / "r.json").read_text())["problems"][0]["kind"] == "config"
