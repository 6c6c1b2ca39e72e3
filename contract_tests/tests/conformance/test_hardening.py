"""The check never crashes and never lies: internal failures are per-entity problems (exit 2), ids that
cannot form a URL are per-id problems, a 429-forever API ends a run within the pool, the guard lets out
exactly the statement URLs the API returned, secrets stay out of the state file, and a baseline turns
accepted findings into known ones."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from m3ter_contract.conformance import baseline, report
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.conformance.transport import STATEMENT, GuardedTransport, ReadOnlyViolation, RequestPacer
from m3ter_contract.rules import Judge
from m3ter_contract.sandbox import Sandbox, SandboxServer
from markdown_it import MarkdownIt

from .support import cli_args as _args
from .support import json_report as _report

FAST = Options(observe=1, rate=100_000, concurrency=4)


# ---- never crash -------------------------------------------------------------------------------------------


async def test_an_internal_failure_judging_one_entity_is_a_problem_and_the_others_are_judged(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = sandbox.seeded.bills["daily"]
    observe = Judge.observe

    def failing(self: Judge, obs: Any, *rest: Any) -> Any:
        if obs.entity_id == broken:
            raise ZeroDivisionError("a bug in a rule")
        return observe(self, obs, *rest)

    monkeypatch.setattr(Judge, "observe", failing)
    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lambda body: {**body, "status": "UNDER_REVIEW"})
    result = await check_sandbox(sandbox, FAST)
    assert [(p.kind, p.entity_id) for p in result.problems] == [("internal", broken)]
    assert "ZeroDivisionError" in result.problems[0].message
    assert {f.rule for f in result.findings} == {"schema.enum"}  # the other entities were still judged
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("bad_id", "why"),
    [("x" * 70_000, "characters long"), ("..", "non-empty id"), ("a\nb", "control characters")],
)
async def test_an_id_that_cannot_form_a_url_is_a_problem_for_that_id_only(
    bad_id: str, why: str, sandbox: Sandbox
) -> None:
    good = sandbox.seeded.bills["monthly"]
    result = await check_sandbox(sandbox, FAST, bill_ids=[bad_id, good], statement_job_ids=[])
    assert [(p.kind, p.entity_id) for p in result.problems] == [("bad-id", bad_id)]
    assert why in result.problems[0].message
    assert result.observations == 1  # the good bill was read


async def test_a_429_forever_run_ends_within_the_pool(sandbox: Sandbox) -> None:
    sandbox.faults.rate_limited(None, retry_after=0, operation="GetBill")
    ids = [f"bill-{n}" for n in range(500)]
    options = Options(observe=1, rate=100_000, concurrency=4, max_retries=1)
    result = await check_sandbox(sandbox, options, bill_ids=ids, statement_job_ids=[])
    assert result.requests["GET"] <= 4 * 2  # at most one read per worker, each with its retries: not 500 x 2
    assert {p.kind for p in result.problems} == {"rate-limit"}
    assert any("not read" in p.message for p in result.problems)
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": ' + b"[" * 900 + b"]" * 900 + b"}",
        b'{"version": 1e999999, "billTotal": -1e400}',
        b'{"\\u0000\\u001b[31m": 1, "\\ud800": "x"}',
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
        b'{"a": NaN, "a": Infinity}',
    ],
)
async def test_hostile_bodies_are_judged_not_crashed_on(body: bytes, sandbox: Sandbox) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.rewrite_body(lambda _: body, entity_id=bill)
    result = await check_sandbox(sandbox, FAST, bill_ids=[bill], statement_job_ids=[])
    assert result.problems == []
    assert result.findings  # every one of them breaks some rule
    assert result.exit_code == 1


# ---- the guard ---------------------------------------------------------------------------------------------


async def test_the_guard_lets_out_exactly_the_statement_urls_the_api_returned() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, content=b"{}")

    guard = GuardedTransport(
        httpx.MockTransport(handler), RequestPacer(1000), token_url="http://h/oauth/token", base_url="http://h"
    )
    returned = "https://bucket.s3.amazonaws.com/s.json?X-Amz-Signature=abc"
    guard.allow(returned)
    statement = {STATEMENT: True}
    refused = [
        httpx.Request("GET", "https://bucket.s3.amazonaws.com/s.json?X-Amz-Signature=abd", extensions=statement),
        httpx.Request("GET", "https://bucket.s3.amazonaws.com/other.json", extensions=statement),
        httpx.Request("GET", "http://169.254.169.254/latest/meta-data/", extensions=statement),
        httpx.Request("POST", returned, extensions=statement),
        httpx.Request("GET", returned, headers={"authorization": "Bearer x"}, extensions=statement),
        httpx.Request("GET", returned),  # not marked as a statement download: an API GET off the base URL
    ]
    for request in refused:
        with pytest.raises(ReadOnlyViolation):
            await guard.handle_async_request(request)
    assert sent == []
    await guard.handle_async_request(httpx.Request("GET", returned, extensions=statement))
    assert sent == [returned]


# ---- secrets -----------------------------------------------------------------------------------------------


def test_signed_urls_in_unknown_fields_never_reach_the_state_file(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    signed = {
        "futureStatementUrl": "https://b.s3.amazonaws.com/x.pdf?X-Amz-Security-Token=tok123456&X-Amz-Signature=sig987654",
        "nested": {"link": "https://cdn.example/x?sv=2024&sig=azuresig123456&se=2030"},
        "proxy": "https://user:hunter2pass@proxy.example/x",
        "odd": "https://x.example/y?x-custom-auth-token=zzz-secret-999",
    }
    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lambda body: {**body, **signed})
    state_path = tmp_path / "state.sqlite"
    assert main(_args(server, sandbox, tmp_path, "--state", str(state_path)), environ=environ) == 0
    with sqlite3.connect(state_path) as db:
        stored = "".join(row[0] for row in db.execute("SELECT body FROM observations"))
    db.close()
    assert "futureStatementUrl" in stored
    for secret in ("tok123456", "sig987654", "azuresig123456", "hunter2pass", "zzz-secret-999"):
        assert secret not in stored
    assert "X-Amz-Signature=" not in stored.replace("X-Amz-Signature=[REDACTED]", "")


def test_known_secrets_in_any_value_or_name_never_reach_the_state_file_or_the_baseline(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    """A body echoes the API secret (no dot, no '=': not secret-shaped), the bearer token of the run in a
    member name and a signed URL as a member name. Neither the state file nor the baseline holds any of them;
    the baseline names each finding as the JSON report does, and a later run (with a token of its own) finds
    every finding of the baseline known."""
    secret, signature = environ["M3TER_API_SECRET"], "SIGNATUREabcdef0123456789"
    tokens: list[str] = []

    def echo(body: dict[str, Any]) -> dict[str, Any]:
        token = list(sandbox.state.tokens)[-1]  # the one this run was issued (the read carries it)
        tokens.append(token)
        names = {f"cache_{token}": 1, f"https://h.example/x?sig={signature}": 2, f"echo_{secret}": 3}
        return {**body, **names, "apiSecretEcho": secret, "authorizationEcho": f"Bearer {token}"}

    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], echo)
    state_path, written = tmp_path / "state.sqlite", tmp_path / "baseline.json"
    args = _args(server, sandbox, tmp_path, "--state", str(state_path), "--write-baseline", str(written))
    assert main(args, environ=environ) == 0
    with contextlib.closing(sqlite3.connect(state_path)) as db:
        stored = "".join(row[0] for row in db.execute("SELECT body FROM observations"))
    files = {"state": stored, "baseline": written.read_text(encoding="utf-8")}
    assert tokens
    for leaked in (secret, signature, *tokens):
        assert [name for name, text in files.items() if leaked in text] == [], leaked[:8]
    assert '"apiSecretEcho":"[REDACTED]"' in stored
    assert '"authorizationEcho":"Bearer [REDACTED]"' in stored
    entries = json.loads(files["baseline"])["findings"]
    reported = _report(tmp_path)["findings"]
    assert [(e["entity_id"], e["rule"], e["path"]) for e in entries] == [
        (f["entity_id"], f["rule"], f["path"]) for f in reported
    ]
    assert sorted(e["path"] for e in entries if e["rule"] == "drift.unknown-field") == [
        "$.apiSecretEcho",
        "$.authorizationEcho",
        "$.cache_[REDACTED]",
        "$.echo_[REDACTED]",
        "$.https://h.example/x?sig=[REDACTED]",
    ]

    args = _args(server, sandbox, tmp_path, "--no-state", "--baseline", str(written))
    assert main(args, environ=environ) == 0
    document = _report(tmp_path)
    assert len(set(tokens)) == 2  # the second run was issued a token of its own
    assert document["summary"]["known"] == len(document["findings"]) == len(entries)
    assert not any("no longer seen" in note for note in document["notes"])


# ---- inputs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        ["--watch-timeout", "nan"],
        ["--watch-interval", "nan"],
        ["--interval", "inf"],
        ["--rate", "-inf"],
        ["--watch-timeout", "1e300"],
        ["--concurrency", "100000"],
        ["--max-retries", "-1"],
        ["--extra-bills", "-5"],
    ],
)
def test_option_values_are_finite_and_in_range(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*bad, "--quiet"], environ={})
    assert exit_info.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_a_report_on_the_state_file_is_refused_before_the_run(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state_path = tmp_path / "state.sqlite"
    args = [*_args(server, sandbox, tmp_path, "--state", str(state_path)), "--junit-xml", str(state_path)]
    assert main(args, environ=environ) == 2
    assert "--junit-xml and --state are the same file" in capsys.readouterr().err.replace("\n", " ")
    assert not state_path.exists()
    assert sandbox.requests == []  # refused before anything was sent


def test_two_reports_on_one_path_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = str(tmp_path / "out")
    assert main(["--report-json", same, "--markdown", same, "--quiet"], environ={}) == 2
    assert "same file" in capsys.readouterr().err


def test_a_base_url_with_credentials_is_refused_and_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"}
    args = ["--base-url", "https://admin:pa55word@api.example.com", "--bill-id", "b", "--no-state"]
    assert main(args, environ=env) == 2
    captured = capsys.readouterr()
    assert "pa55word" not in captured.out + captured.err
    assert "user name or password" in captured.err


@pytest.mark.parametrize(("name", "value"), [("M3TER_API_SECRET", "s\udcff"), ("M3TER_API_KEY", "k\nx")])
def test_credentials_that_no_request_can_carry_are_refused(
    name: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s", name: value}
    assert main(["--base-url", "http://127.0.0.1:9", "--bill-id", "b", "--no-state", "--quiet"], environ=env) == 2
    err = capsys.readouterr().err
    assert name in err
    assert value not in err


# ---- baseline ----------------------------------------------------------------------------------------------


def test_a_baseline_makes_accepted_findings_known_and_the_run_pass(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.mutate_responses(bill, lambda body: {**body, "status": "UNDER_REVIEW"})
    written = tmp_path / "baseline.json"
    assert main(_args(server, sandbox, tmp_path, "--no-state", "--write-baseline", str(written)), environ=environ) == 1
    assert baseline.load(written) == {(bill, "schema.enum", "$.status")}

    assert main(_args(server, sandbox, tmp_path, "--no-state", "--baseline", str(written)), environ=environ) == 0
    document = _report(tmp_path)
    assert document["result"] == "pass"
    assert document["summary"]["known"] == 1
    assert [f["known"] for f in document["findings"]] == [True]

    # a new finding beyond the baseline still fails the run
    sandbox.mutate_responses(bill, lambda body: {**body, "billingFrequency": "FORTNIGHTLY"})
    assert main(_args(server, sandbox, tmp_path, "--no-state", "--baseline", str(written)), environ=environ) == 1

    # and a baseline entry no longer seen is a note, for ratcheting
    sandbox.clear_faults()
    assert main(_args(server, sandbox, tmp_path, "--no-state", "--baseline", str(written)), environ=environ) == 0
    assert any("no longer seen" in note for note in _report(tmp_path)["notes"])


@pytest.mark.parametrize("content", ["not json", '{"findings": []}', '{"baseline_version": 1, "findings": [{}]}'])
def test_a_bad_baseline_is_refused_before_the_run(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(content)
    assert main(["--baseline", str(path), "--quiet"], environ={}) == 2
    assert "--write-baseline" in capsys.readouterr().err


# ---- server text in every output format --------------------------------------------------------------------


HOSTILE_NAMES = (
    "x` **ALL CHECKS PASSED** [docs](https://evil.example/phish) ![](https://evil.example/pixel.png) `y",
    "``` <img src=x> &amp; a@evil.example www.evil.example ~~gone~~ $x$ :tada: @octocat \\| _em_ *em*",
)


async def test_server_text_never_renders_as_markdown(sandbox: Sandbox, snapshot: Callable[[str, str], None]) -> None:
    """Field names and an enum value the server chose reach the findings table (a cell of code, a message)
    and the suggested spec changes: escaped as text, or inside a code span no backtick run of theirs can end,
    nothing of them renders (no bold, link, image, HTML, autolink, strikethrough) in the Markdown summary,
    which CI writes to $GITHUB_STEP_SUMMARY."""
    bill = sandbox.seeded.bills["monthly"]
    status = "x` **PASSED** [a](https://evil.example) `y"
    sandbox.mutate_responses(bill, lambda body: {**body, **dict.fromkeys(HOSTILE_NAMES, 1), "status": status})
    result = await check_sandbox(sandbox, FAST, bill_ids=[bill], statement_job_ids=[])
    text = report.markdown(result)
    snapshot("hostile-names.summary.md", "\n".join(line for line in text.splitlines() if line.startswith(("| ", "- "))))
    findings = text[text.index("### Findings") : text.index("<sub>")]  # the header's bold is ours
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(findings)
    assert not re.search(r"<(strong|em|a|img|del)\b", html), html
    shown = re.findall(r"<li><code>(.*?)</code> \(<code>([a-z.-]+)</code>\)</li>", html)
    # each suggestion is one code span, shown exactly as the JSON report writes it
    assert sorted((unescape(code), rule) for code, rule in shown) == sorted(
        (f.suggestion, f.rule) for f in result.findings if f.suggestion
    )


def test_field_names_with_control_characters_keep_every_output_well_formed(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = "bad\x01\x1b[31mkey|x\r\n<b>`"
    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lambda body: {**body, name: 1})
    junit, markdown = tmp_path / "junit.xml", tmp_path / "summary.md"
    args = [a for a in _args(server, sandbox, tmp_path, "--no-state") if a != "--quiet"]
    assert main([*args, "--junit-xml", str(junit), "--markdown", str(markdown)], environ=environ) == 0
    ET.parse(junit)  # noqa: S314 - our own report: well-formed XML 1.0
    assert "\\x01\\x1b[31mkey" in junit.read_text(encoding="utf-8")
    lines = markdown.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.startswith("| ") and "drift.unknown-field" in line]
    assert len(rows) == 1
    assert len(re.findall(r"(?<!\\)\|", rows[0])) == 7
    assert "&lt;b&gt;" in rows[0]  # HTML outside code spans is escaped
    out = capsys.readouterr().out
    assert "\x01" not in out
    assert "\x1b[31m" not in out
    assert "\\x01\\x1b[31mkey" in out.replace("\n", "")
