"""Every exit 2 still writes the reports asked for, with the problem in them (CI shows what they say)."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance import cli, command, report
from m3ter_contract.conformance import state as state_module
from m3ter_contract.conformance.cli import main
from m3ter_contract.rules import RULES, Spec
from m3ter_contract.sandbox import Sandbox, SandboxServer

from .conftest import normalise

NAMES = ("report.json", "junit.xml", "summary.md")


def _outputs(tmp_path: Path) -> list[str]:
    return [
        "--report-json",
        str(tmp_path / "report.json"),
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        "--markdown",
        str(tmp_path / "summary.md"),
    ]


def _read(tmp_path: Path, base_url: str | None = None) -> dict[str, str]:
    texts = {name: (tmp_path / name).read_text(encoding="utf-8") for name in NAMES}
    if base_url is not None:
        texts = {name: normalise(text, base_url) for name, text in texts.items()}
        # the URL as Markdown text (its ':' escaped where GitHub would read a link or an emoji)
        host, port = re.escape(base_url.rsplit(":", 1)[0]).replace(":", r"\\?:"), base_url.rsplit(":", 1)[1]
        texts = {name: re.sub(f"({host}\\\\?:){port}", r"\1PORT", text) for name, text in texts.items()}
    return texts


def _assert_problem_in_every_report(texts: dict[str, str], kind: str, words: str) -> None:
    document = json.loads(texts["report.json"])
    assert document["result"] == "incomplete"
    assert document["exit_code"] == 2
    assert [p["kind"] for p in document["problems"]] == [kind]
    assert words in document["problems"][0]["message"]
    junit = texts["junit.xml"]
    run_error = r'<testcase classname="m3ter-conformance.run"[^>]*>\s*<error message="[^"]*'
    assert re.search(run_error + re.escape(words), junit)
    assert f'skipped="{len(RULES)}"' in junit  # no response judged: no rule passed
    markdown = texts["summary.md"]
    assert "### Problems (exit code 2)" in markdown
    assert f"- **{kind}**: " in markdown
    assert words in re.sub(r"\\(.)", r"\1", markdown)  # escaped as Markdown text: the words as it renders them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_bad_option_value_writes_every_report(
    tmp_path: Path, snapshot: Callable[[str, str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--rate", "abc", *_outputs(tmp_path)], environ={})
    assert stop.value.code == 2
    assert "argument --rate: must be a number, got 'abc'" in capsys.readouterr().err  # argparse's own message
    texts = _read(tmp_path)
    _assert_problem_in_every_report(texts, "usage", "argument --rate: must be a number")
    for name, text in texts.items():
        snapshot(f"bad-option.{name}", text)


def test_refused_credentials_write_every_report(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
) -> None:
    wrong = {**environ, "M3TER_API_SECRET": "not-the-secret"}
    args = ["--base-url", server.url, "--bill-id", sandbox.seeded.bills["monthly"], "--no-state", "--quiet"]
    assert main([*args, *_outputs(tmp_path)], environ=wrong) == 2
    texts = _read(tmp_path, server.url)
    _assert_problem_in_every_report(texts, "auth", "the server refused the credentials")
    assert "not-the-secret" not in "".join(texts.values())
    for name, text in texts.items():
        snapshot(f"auth-refused.{name}", text)


def _transport_words(text: str) -> str:
    """The connection error as the network backend spells it (httpx or aiohttp), as a placeholder."""
    placeholder = "connection failed: TRANSPORT-ERROR; check --base-url"
    return re.sub(r"connection failed: .*?; check --base-url", placeholder, text)


def test_a_closed_port_writes_every_report(
    environ: dict[str, str], tmp_path: Path, snapshot: Callable[[str, str], None]
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    args = ["--base-url", url, "--bill-id", "b1", "--no-state", "--quiet", "--max-retries", "0"]
    assert main([*args, *_outputs(tmp_path)], environ=environ) == 2
    texts = {name: _transport_words(text) for name, text in _read(tmp_path, url).items()}
    _assert_problem_in_every_report(texts, "connection", "could not reach http://127.0.0.1:PORT")
    for name, text in texts.items():
        snapshot(f"server-down.{name}", text)


@pytest.mark.parametrize(
    ("args", "env", "kind", "words"),
    [
        (["--base-url", "http://127.0.0.1:9", "--bill-id", "b"], {}, "config", "set M3TER_ORG_ID"),
        (
            ["--base-url", "http://127.0.0.1:9", "--ids-file", "/nonexistent/ids.txt"],
            {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"},
            "config",
            "cannot read --ids-file /nonexistent/ids.txt",
        ),
        (["--spec", "/nonexistent/spec.yaml"], {}, "config", "cannot read the spec /nonexistent/spec.yaml"),
        (["--observe", "0"], {}, "usage", "argument --observe: must be between 1 and 1000"),
        (["--no-such-option", "x"], {}, "usage", "unrecognized arguments: --no-such-option x"),
        (["--rate"], {}, "usage", "argument --rate: expected one argument"),
    ],
)
def test_every_configuration_and_usage_error_writes_the_reports(
    args: list[str], env: dict[str, str], kind: str, words: str, tmp_path: Path
) -> None:
    # The report options first: a trailing option without its value must not hide them.
    argv = [*_outputs(tmp_path), *args, "--no-state", "--quiet"]
    if kind == "usage":
        with pytest.raises(SystemExit) as stop:
            main(argv, environ=env)
        assert stop.value.code == 2
    else:
        assert main(argv, environ=env) == 2
    _assert_problem_in_every_report(_read(tmp_path), kind, words)


def test_abbreviated_and_equals_spellings_are_found_after_a_usage_error(tmp_path: Path) -> None:
    junit, markdown = tmp_path / "j.xml", tmp_path / "m.md"
    with pytest.raises(SystemExit):
        main([f"--junit={junit}", "--mark", str(markdown), "--concurrency", "many"], environ={})
    assert "argument --concurrency" in junit.read_text(encoding="utf-8")
    assert "argument --concurrency" in markdown.read_text(encoding="utf-8")


def test_an_internal_failure_before_the_run_writes_the_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(path: Path | None = None) -> Spec:
        raise RuntimeError("a bug in loading")

    monkeypatch.setattr(Spec, "load", broken)
    assert main([*_outputs(tmp_path), "--quiet"], environ={}) == 2
    assert "internal error" in capsys.readouterr().err
    _assert_problem_in_every_report(_read(tmp_path), "internal", "RuntimeError: a bug in loading")


def test_an_internal_failure_after_the_run_keeps_the_findings_and_adds_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(result: object, console: object) -> None:
        raise RuntimeError("a bug in the summary")

    monkeypatch.setattr(report, "print_summary", broken)
    assert main([*_outputs(tmp_path), "--no-state"], environ={}) == 2
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert document["summary"]["observations"] >= 15  # the embedded run happened and is reported
    assert [p["kind"] for p in document["problems"]] == ["internal"]
    assert "a bug in the summary" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_a_report_never_overwrites_an_input_or_a_path_named_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("bill B1\n", encoding="utf-8")
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"not touched")
    twice = tmp_path / "twice.out"
    env = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"}
    argv = [
        "--base-url",
        "http://127.0.0.1:9",
        "--ids-file",
        str(ids),
        "--state",
        str(state),
        "--rate",
        "500",  # refused against a live API: exit 2 before the run
        "--markdown",
        str(ids),
        "--junit-xml",
        str(state),
        "--report-json",
        str(twice),
        "--write-baseline",
        str(twice),
    ]
    assert main(argv, environ=env) == 2
    err = capsys.readouterr().err
    assert ids.read_text(encoding="utf-8") == "bill B1\n"
    assert state.read_bytes() == b"not touched"
    assert not twice.exists()
    assert f"--markdown {ids} not written" in err
    assert f"--junit-xml {state} not written" in err
    assert f"--report-json {twice} not written" in err


def test_an_unusable_report_path_is_skipped_and_the_others_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "a-directory"
    directory.mkdir()
    junit = tmp_path / "junit.xml"
    with pytest.raises(SystemExit):
        main(["--report-json", str(directory), "--junit-xml", str(junit), "--observe", "x"], environ={})
    assert "it is a directory" in capsys.readouterr().err
    assert "argument --observe" in junit.read_text(encoding="utf-8")


def test_a_run_that_did_not_start_never_writes_a_baseline(tmp_path: Path) -> None:
    accepted = tmp_path / "baseline.json"
    with pytest.raises(SystemExit):
        main(["--write-baseline", str(accepted), "--rate", "-1", *_outputs(tmp_path)], environ={})
    assert not accepted.exists()
    assert (tmp_path / "report.json").exists()


def test_help_and_version_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--help", "--version"):
        with pytest.raises(SystemExit) as stop:
            main([flag, *_outputs(tmp_path)], environ={})
        assert stop.value.code == 0
    assert not any(tmp_path.iterdir())
    assert cli.EXIT_PROBLEM == 2


# ---- a failure after the reports were written: they are written again, stating it --------------------------


def _locked_on_save(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process takes an exclusive lock on the state file just before the run saves it."""
    monkeypatch.setattr(state_module, "BUSY_TIMEOUT", 0.05)
    save = state_module.State.save

    def locked(self: state_module.State, observations: Any) -> int:
        other = sqlite3.connect(self.path, timeout=0)
        other.execute("BEGIN EXCLUSIVE")
        try:
            return save(self, observations)
        finally:
            other.close()

    monkeypatch.setattr(state_module.State, "save", locked)


def _says_incomplete(tmp_path: Path, *needles: str) -> None:
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    for needle in needles:
        assert any(needle in problem["message"] for problem in document["problems"])
        assert needle in " ".join((tmp_path / "summary.md").read_text(encoding="utf-8").split())
        assert needle in (tmp_path / "junit.xml").read_text(encoding="utf-8")


def test_a_state_that_cannot_be_saved_after_the_reports_is_in_every_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _locked_on_save(monkeypatch)
    state = tmp_path / "st" / "s.sqlite"
    assert main([*_outputs(tmp_path), "--state", str(state), "--quiet"], environ={}) == 2
    assert "is locked" in capsys.readouterr().err
    _says_incomplete(tmp_path, "is locked", "this run's observations were not remembered")


def test_a_report_that_cannot_be_written_is_in_the_reports_that_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    check = cli.check
    lost = tmp_path / "dd"

    async def then_break(*args: Any, **kwargs: Any) -> Any:
        result = await check(*args, **kwargs)
        lost.write_text("a file where the report's directory was")
        return result

    monkeypatch.setattr(cli, "check", then_break)
    argv = [*_outputs(tmp_path), "--write-baseline", str(lost / "baseline.json"), "--no-state", "--quiet"]
    assert main(argv, environ={}) == 2
    assert f"cannot write --write-baseline {lost / 'baseline.json'}" in capsys.readouterr().err
    _says_incomplete(tmp_path, "cannot write --write-baseline")


def test_a_config_run_whose_state_cannot_be_saved_says_so_in_its_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _locked_on_save(monkeypatch)
    config = tmp_path / "orgs.toml"
    config.write_text("[orgs.demo]\nembedded = true\n")
    argv = ["--config", str(config), *_outputs(tmp_path), "--state", str(tmp_path / "s.sqlite"), "--quiet"]
    assert command.main(argv, environ={}) == 2
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert document["exit_code"] == 2
    assert any("is locked" in problem["message"] for problem in document["problems"])
    assert "is locked" in " ".join((tmp_path / "summary.md").read_text(encoding="utf-8").split())
    assert "is locked" in (tmp_path / "junit.xml").read_text(encoding="utf-8")
