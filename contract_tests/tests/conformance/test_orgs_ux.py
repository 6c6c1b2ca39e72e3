"""``--config`` runs and ``merge`` behave like a single run in CI: every exit 2 writes the requested combined
reports with the problem in them, a log gets progress lines with the counts of all organizations, and
``--quiet`` prints the first problems and findings and the verdicts. Servers on 127.0.0.1 only."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from m3ter_contract.conformance import multirun, report
from m3ter_contract.conformance.command import main
from m3ter_contract.conformance.progress import LogProgress, OrgsProgress, Traffic
from m3ter_contract.rules import RULES, Finding, Severity
from m3ter_contract.sandbox import Sandbox, SandboxServer

from .conftest import normalise
from .test_cli import _break
from .test_orgs import READING, _config, _environ, _outputs, _sandbox

NAMES = ("all.json", "all.xml", "all.md")


@pytest.fixture
def servers() -> Iterator[dict[str, SandboxServer[Sandbox]]]:
    """Two organizations (test_orgs' eu and us), each a sandbox on 127.0.0.1."""
    with SandboxServer(_sandbox(1, "eu")) as eu, SandboxServer(_sandbox(2, "us")) as us:
        yield {"eu": eu, "us": us}


def _reports(tmp_path: Path) -> dict[str, str]:
    return {name: (tmp_path / name).read_text(encoding="utf-8") for name in NAMES}


def _assert_run_problem(texts: dict[str, str], kind: str, words: str) -> None:
    """The combined reports of a run that did not start: no organization, the run's own problem in each."""
    document = json.loads(texts["all.json"])
    assert (document["kind"], document["result"], document["exit_code"]) == ("combined", "incomplete", 2)
    assert document["orgs"] == []
    assert kind in [p["kind"] for p in document["problems"]]
    assert any(words in p["message"] for p in document["problems"]), document["problems"]
    assert document["summary"]["problems"] == len(document["problems"])
    junit = texts["all.xml"]
    assert '<testsuite name="m3ter-conformance (run)"' in junit
    assert re.search(r'<testcase classname="m3ter-conformance.run"[^>]*>\s*<error message="', junit)
    assert words in junit
    assert f'skipped="{len(RULES)}"' in junit  # nothing read: no rule passed
    markdown = texts["all.md"]
    assert "### Problems of the run (exit code 2)" in markdown
    assert f"- **{kind}**: " in markdown
    assert report.markdown_text(words) in markdown  # as Markdown text: escaped, so nothing of it renders


def test_a_bad_option_value_with_config_writes_the_combined_reports(
    tmp_path: Path, snapshot: Callable[[str, str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text('[orgs.eu]\nids_file = "ids.json"\n')
    with pytest.raises(SystemExit) as stop:
        main(["--config", str(config), "--rate", "abc", *_outputs(tmp_path)], environ={})
    assert stop.value.code == 2
    assert "argument --rate: must be a number, got 'abc'" in capsys.readouterr().err
    texts = _reports(tmp_path)
    _assert_run_problem(texts, "usage", "argument --rate: must be a number")
    for name, text in texts.items():
        snapshot(f"orgs-bad-option.{name.split('.')[1]}", text)


def test_the_entry_point_writes_a_single_runs_reports_for_a_refused_command_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--rate", "abc", "--report-json", str(tmp_path / "r.json")], environ={})
    document = json.loads((tmp_path / "r.json").read_text())
    assert "kind" not in document  # a single run's report: no --config
    assert [p["kind"] for p in document["problems"]] == ["usage"]
    with pytest.raises(SystemExit):  # --org without --config: refused, and said in the report
        main(["--org", "eu", "--report-json", str(tmp_path / "r.json")], environ={})
    assert "--org, --list-orgs and --json go with --config" in (tmp_path / "r.json").read_text()


@pytest.mark.parametrize(
    ("case", "kind", "words"),
    [
        ("file", "config", "unknown key 'api_secret'"),
        ("file", "config", "rate must be a finite number at least 0.1"),  # every mistake of the file, one problem each
        ("unknown-org", "config", "no [orgs.asia]"),
        ("single-run-option", "config", "--bill-id does not go with --config"),
        ("state-is-a-directory", "config", "cannot write --state"),
        ("spec", "config", "missing.yaml"),
    ],
)
def test_every_exit_2_before_a_config_run_writes_the_combined_reports(
    tmp_path: Path, case: str, kind: str, words: str
) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text('[orgs.eu]\nids_file = "ids.json"\n')
    extra: list[str] = []
    if case == "file":
        config.write_text('[orgs.eu]\nids_file = "x"\napi_secret = "s3cr3t"\n\n[orgs.us]\nids_file = "x"\nrate = 0\n')
    elif case == "unknown-org":
        extra = ["--org", "asia"]
    elif case == "single-run-option":
        extra = ["--bill-id", "b1"]
    elif case == "state-is-a-directory":
        (tmp_path / "state").mkdir()
        extra = ["--state", str(tmp_path / "state")]
    elif case == "spec":
        extra = ["--spec", str(tmp_path / "missing.yaml")]
    assert main(["--config", str(config), *extra, *_outputs(tmp_path)], environ={}) == 2
    texts = _reports(tmp_path)
    _assert_run_problem(texts, kind, words)
    assert "s3cr3t" not in "".join(texts.values())


def test_a_report_never_overwrites_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text("[orgs.eu\n")
    assert main(["--config", str(config), "--markdown", str(config)], environ={}) == 2
    assert config.read_text() == "[orgs.eu\n"
    assert "--markdown " + str(config) + " not written: it is an input" in capsys.readouterr().err


def test_a_report_never_overwrites_a_file_the_config_names(tmp_path: Path) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text('[orgs.eu]\nembedded = true\n\n[orgs.us]\nids_file = "ids.json"\n')
    (tmp_path / "ids.json").write_text("{}")
    for target in (config, tmp_path / "ids.json"):
        assert main(["--config", str(config), "--no-state", "--markdown", str(target)], environ={}) == 2
    assert config.read_text().startswith("[orgs.eu]")
    assert (tmp_path / "ids.json").read_text() == "{}"


def test_merge_refusing_its_input_writes_its_outputs_with_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.json").write_text("not json")
    assert main(["merge", *_outputs(tmp_path), str(tmp_path / "text.json")]) == 2
    _assert_run_problem(_reports(tmp_path), "shard", "is not JSON")
    # an output that is one of the inputs is never written; the others are
    shard = tmp_path / "shard.json"
    shard.write_text("not json either")
    args = ["merge", "--report-json", str(shard), "--markdown", str(tmp_path / "m.md"), str(shard)]
    assert main(args) == 2
    assert shard.read_text() == "not json either"
    assert "is one of the reports to merge" in (tmp_path / "m.md").read_text()
    assert f"--report-json {shard} not written: it is an input" in capsys.readouterr().err
    # a command line argparse refuses (no report to merge) still writes what it asks for
    with pytest.raises(SystemExit) as stop:
        main(["merge", "--markdown", str(tmp_path / "usage.md")])
    assert stop.value.code == 2
    assert "the following arguments are required: REPORT.json" in (tmp_path / "usage.md").read_text()


def test_merge_carries_the_problem_of_a_shard_that_did_not_start(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path
) -> None:
    config, env = _config(tmp_path, servers), _environ(servers)
    common = ["--config", str(config), *READING, "--no-state"]
    assert main([*common, "--org", "eu", *_outputs(tmp_path, "eu")], environ=env) == 0
    assert main([*common, "--org", "asia", *_outputs(tmp_path, "asia")], environ=env) == 2
    shards = [str(tmp_path / "eu.json"), str(tmp_path / "asia.json")]
    assert main(["merge", "--quiet", *_outputs(tmp_path, "merged"), *shards]) == 2
    document = json.loads((tmp_path / "merged.json").read_text())
    assert [org["name"] for org in document["orgs"]] == ["eu"]
    assert [p["kind"] for p in document["problems"]] == ["config"]
    assert "no [orgs.asia]" in document["problems"][0]["message"]
    assert (document["result"], document["summary"]["problems"]) == ("incomplete", 1)


def test_quiet_with_config_prints_the_first_problems_findings_and_the_verdicts(
    servers: dict[str, SandboxServer[Sandbox]],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _break(servers["eu"].sandbox)
    env = _environ(servers)
    env["US_API_SECRET_ENV"] = "not-the-us-secret"
    assert main(["--config", str(_config(tmp_path, servers)), *READING, "--no-state"], environ=env) == 2
    printed = capsys.readouterr()
    text = "--- stdout\n" + printed.out + "--- stderr\n" + printed.err
    for server in servers.values():
        text = normalise(text, server.url)
    text = re.sub(r"reads in [0-9.]+s", "reads in N.Ns", text)
    snapshot("orgs-quiet.txt", text)
    lines = printed.out.splitlines()
    assert lines[-1].startswith("INCOMPLETE: 1 error(s), 2 warning(s), 1 problem(s) over 2 organization(s)")
    assert lines[-3].startswith("eu: FAIL: 1 error(s)")
    assert lines[-2].startswith("us: INCOMPLETE: 0 error(s)")
    assert lines[0].startswith("[eu] error schema.enum ")  # errors first, labelled with the organization
    assert printed.err.startswith("[us] problem [auth]: the server refused the credentials (403): check US_API_KEY_ENV")
    assert "progress " not in printed.err


def test_a_piped_config_run_prints_progress_lines_over_every_org(
    servers: dict[str, SandboxServer[Sandbox]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every read is "10 s later" for the log: its lines appear without waiting.
    monkeypatch.setattr(multirun, "LogProgress", functools.partial(LogProgress, every=0.0))
    args = ["--config", str(_config(tmp_path, servers)), "--observe", "2", "--interval", "0", "--no-state"]
    assert main(args, environ=_environ(servers)) == 0
    err = capsys.readouterr().err  # captured: not a terminal
    progress = [line for line in err.splitlines() if line.startswith("progress ")]
    assert progress, err
    shape = (
        r"progress \d+:\d\d · bills [0-4]/4 · statement jobs [0-4]/4 · reads \d+/16 · 0 error\(s\), \d+ warning\(s\) · "
        r"\d+ requests, 0 answered 429 · reads per org: eu [0-8]/8, us [0-8]/8$"
    )
    assert all(re.match(shape, line) for line in progress), progress
    assert any("reads 16/16" in line and "eu 8/8, us 8/8" in line for line in progress), progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_orgs_progress_adds_up_the_organizations_and_lists_each() -> None:
    clock, lines = FakeClock(), list[str]()
    log = LogProgress(lines.append, {"bill": 4, "statement_job": 2}, clock=clock, traffic=lambda: Traffic(9, 1))
    per_org = OrgsProgress(log, {"eu": 6, "us": 3})
    eu, us = per_org.on_read("eu"), per_org.on_read("us")
    warning = Finding("b1", "GET /bills/{id}", "schema.enum", Severity("warning"), "$.x", "m")
    eu(2, 6, [])
    us(1, 3, [warning])
    assert lines == []  # not 10 s yet
    clock.now += 10
    us(2, 4, [])  # --watch: a runner learns it plans more reads
    assert lines == [
        "progress 0:10 · bills 0/4 · statement jobs 0/2 · reads 4/10 · 0 error(s), 1 warning(s) · "
        "9 requests, 1 answered 429 · reads per org: eu 2/6, us 2/4"
    ]
