"""The console command end to end: exit codes, messages, and the reports pinned by snapshots."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance.cli import build_parser, main
from m3ter_contract.sandbox import Sandbox, SandboxServer
from m3ter_contract.spec_facts import CURATED_SPEC, load

from .conftest import normalise


def _args(server: SandboxServer[Sandbox], sandbox: Sandbox, tmp_path: Path, *extra: str) -> list[str]:
    seeded = sandbox.seeded
    return [
        "--base-url",
        server.url,
        "--bill-id",
        seeded.bills["monthly"],
        "--bill-id",
        seeded.bills["weekly"],
        "--statement-job-id",
        seeded.jobs["pending"],
        "--statement-job-id",
        seeded.jobs["complete_csv"],
        "--observe",
        "2",
        "--interval",
        "0",
        "--no-state",
        "--quiet",
        "--report-json",
        str(tmp_path / "report.json"),
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        "--markdown",
        str(tmp_path / "summary.md"),
        *extra,
    ]


# Drift the spec can never have learned (a spec that adds what the check suggests stays green).
UNLISTED_TYPE = "NOT_IN_THE_SPEC_CHARGE"
UNLISTED_FIELD = "notInTheSpecTotal"


def _break(sandbox: Sandbox) -> None:
    seeded = sandbox.seeded
    schemas = load(CURATED_SPEC)["components"]["schemas"]
    assert UNLISTED_TYPE not in schemas["LineItemType"]["enum"]
    assert UNLISTED_FIELD not in schemas["BillResponse"]["properties"]

    def bill(body: dict[str, Any]) -> dict[str, Any]:
        body[UNLISTED_FIELD] = 12.5
        body["lineItems"][0]["lineItemType"] = UNLISTED_TYPE
        return body

    def job(body: dict[str, Any]) -> dict[str, Any]:
        body["presignedJsonStatementUrl"] = "https://bucket.example/s.json?X-Amz-Signature=abcdef0123456789"
        return body

    sandbox.mutate_responses(seeded.bills["monthly"], bill)
    sandbox.mutate_responses(seeded.jobs["pending"], job)


def _reports(tmp_path: Path, server: SandboxServer[Sandbox]) -> dict[str, str]:
    return {
        name: normalise((tmp_path / name).read_text(encoding="utf-8"), server.url)
        for name in ("report.json", "junit.xml", "summary.md")
    }


def test_findings_exit_1_and_the_reports_match_their_snapshots(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
) -> None:
    _break(sandbox)
    assert main(_args(server, sandbox, tmp_path), environ=environ) == 1
    reports = _reports(tmp_path, server)
    for name, text in reports.items():
        snapshot(f"findings.{name}", text)
    document = json.loads(reports["report.json"])
    rules = {(f["rule"], f["severity"], f["path"]) for f in document["findings"]}
    assert rules == {
        ("drift.unknown-field", "warning", f"$.{UNLISTED_FIELD}"),
        ("schema.enum", "error", "$.lineItems[*].lineItemType"),
        ("statement-job.no-url-while-pending", "warning", "$.presignedJsonStatementUrl"),  # inferred
    }
    for finding in document["findings"]:
        assert set(finding) >= {"entity_id", "endpoint", "rule", "severity", "path", "message"}
    everything = "".join(reports.values())
    assert environ["M3TER_API_SECRET"] not in everything
    assert "abcdef0123456789" not in everything  # a URL signature never reaches a report


def test_clean_run_exits_0_with_a_pass_report(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
) -> None:
    assert main(_args(server, sandbox, tmp_path), environ=environ) == 0
    reports = _reports(tmp_path, server)
    snapshot("clean.summary.md", reports["summary.md"])
    snapshot("clean.report.json", reports["report.json"])
    requests = {"GET": 8, "GET statement": 2, "POST /oauth/token": 1}  # the COMPLETE job's JSON and CSV statements
    assert json.loads(reports["report.json"])["summary"]["requests"] == requests


def test_unknown_entity_exits_2_and_says_which_option_to_fix(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(_args(server, sandbox, tmp_path, "--bill-id", "no-such-bill"), environ=environ)
    assert code == 2
    reports = _reports(tmp_path, server)
    snapshot("not-found.report.json", reports["report.json"])
    assert "check --bill-id" in capsys.readouterr().err


def test_refused_credentials_exit_2(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = {**environ, "M3TER_API_SECRET": "not-the-secret"}
    assert main(_args(server, sandbox, tmp_path), environ=wrong) == 2
    err = capsys.readouterr().err
    assert "check M3TER_API_KEY and M3TER_API_SECRET" in err
    assert "not-the-secret" not in err
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [p["kind"] for p in report["problems"]] == ["auth"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_exits_2(environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    args = ["--base-url", url, "--bill-id", "b1", "--no-state", "--quiet", "--max-retries", "0"]
    assert main(args, environ=environ) == 2
    assert f"could not reach {url}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--base-url", "http://127.0.0.1:9", "--bill-id", "b"],
            {},
            "set M3TER_ORG_ID, M3TER_API_KEY, M3TER_API_SECRET",
        ),
        (
            ["--base-url", "http://127.0.0.1:9"],
            {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"},
            "nothing to check",
        ),
        (
            ["--base-url", "ftp://x", "--bill-id", "b"],
            {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"},
            "http(s) URL",
        ),
        (["--bill-id", "b"], {}, "entity ids need --base-url"),
        (
            ["--ids-file", "/nonexistent/ids.txt", "--base-url", "http://127.0.0.1:9"],
            {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"},
            "cannot read --ids-file",
        ),
    ],
)
def test_configuration_problems_exit_2_with_what_to_fix(
    args: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--no-state", "--quiet"], environ=env) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad", [["--rate", "0"], ["--rate", "1e-300"], ["--rate", "0.09"], ["--observe", "0"], ["--no-such-option"]]
)
def test_usage_errors_exit_2(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(bad, environ={})
    assert exit_info.value.code == 2


def test_ids_file_in_both_forms(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    seeded = sandbox.seeded
    lines = tmp_path / "ids.txt"
    lines.write_text(f"# comment\nbill {seeded.bills['daily']}\nstatement_job {seeded.jobs['failed']}\n")
    as_json = tmp_path / "ids.json"
    as_json.write_text(json.dumps({"bills": [seeded.bills["daily"]], "statement_jobs": [seeded.jobs["failed"]]}))
    with_bom = tmp_path / "bom.json"  # as Windows editors save UTF-8
    with_bom.write_bytes(b"\xef\xbb\xbf" + as_json.read_bytes())
    for path in (lines, as_json, with_bom):
        out = tmp_path / f"{path.name}.report.json"
        args = ["--base-url", server.url, "--ids-file", str(path), "--no-state", "--quiet", "--report-json", str(out)]
        assert main(args, environ=environ) == 0
        assert json.loads(out.read_text())["summary"]["entities"] == {"bill": 1, "statement_job": 1}


def test_the_help_holds_for_a_checkout_and_an_installed_wheel(capsys: pytest.CaptureFixture[str]) -> None:
    """An installed harness judges by its packaged spec and has no scripts/: the help says where each applies."""
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: $M3TER_SPEC_PATH, else the curated spec: spec/m3ter-billing.yaml in a checkout" in text
    assert "spec/m3ter-billing.yaml in a checkout of the project, the copy packaged with the harness" in text
    assert "(in a checkout of the project: scripts/apply_overlay.py, which the installed harness" in text


def test_embedded_sandbox_passes(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main(["--quiet", "--report-json", str(out)], environ={}) == 0
    document = json.loads(out.read_text())
    assert document["target"]["embedded"] is True
    assert document["target"]["base_url"].startswith("http://127.0.0.1:")
    assert document["summary"]["observations"] >= 15
    assert document["findings"] == []


def test_every_reading_option_with_a_default_shows_it_in_the_help() -> None:
    parser = build_parser()
    reading = next(group for group in parser._action_groups if group.title == "reading")
    numbers = [a for a in reading._group_actions if isinstance(a.default, int | float) and a.nargs != 0]
    assert {a.dest for a in numbers} >= {"observe", "interval", "watch_interval", "watch_timeout"}
    text = " ".join(parser.format_help().split())
    for action in numbers:
        described = (action.help or "") % vars(action)
        shown = " ".join(f"{action.option_strings[0]} {action.metavar} {described}".split())
        assert f"default {action.default:g}" in shown, action.dest
        assert shown in text
