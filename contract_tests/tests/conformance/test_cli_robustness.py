"""The command under bad conditions: a bad token answer, server text that looks like rich markup, a locked or
foreign state file, unwritable reports and bad inputs, the rate ceiling, Ctrl-C and the guard's origin."""

from __future__ import annotations

import bisect
import errno
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from m3ter_contract.conformance import outputs, state
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.transport import GuardedTransport, ReadOnlyViolation, RequestPacer
from m3ter_contract.sandbox import Sandbox, SandboxServer

from .support import cli_args as _args
from .support import json_report as _report


def test_a_token_endpoint_answering_non_json_is_an_auth_problem_not_findings(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.faults.non_json_body(None, operation="GenerateToken")
    assert main(_args(server, sandbox, tmp_path, "--no-state"), environ=environ) == 2
    document = _report(tmp_path)
    assert document["findings"] == []
    assert [p["kind"] for p in document["problems"]] == ["auth"]
    assert "not a BearerAccessTokenResponse" in capsys.readouterr().err


def test_a_non_json_entity_body_is_still_a_finding(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    sandbox.faults.non_json_body(None, operation="GetBill")
    assert main(_args(server, sandbox, tmp_path, "--no-state"), environ=environ) == 1
    # the HTML page is labelled text/html, which is a second finding
    assert {f["rule"] for f in _report(tmp_path)["findings"]} == {"response.json", "response.media-type"}


def test_server_text_that_looks_like_markup_is_printed_as_is(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.faults.server_errors(None, status=500, message="[/] boom [bold]x", operation="GetBill")
    assert main(_args(server, sandbox, tmp_path, "--no-state", quiet=False), environ=environ) == 2
    out = capsys.readouterr()
    assert "[/] boom [bold]x" in out.out.replace("\n", "")
    assert main(_args(server, sandbox, tmp_path, "--no-state"), environ=environ) == 2
    assert "[/] boom [bold]x" in capsys.readouterr().err.replace("\n", "")


def test_an_enum_value_that_looks_like_markup_reaches_the_table(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lambda body: {**body, "status": "[/]"})
    assert main(_args(server, sandbox, tmp_path, "--no-state", quiet=False), environ=environ) == 1
    out = capsys.readouterr().out
    assert '"[/]" is not a value' in out.replace("\n", "")
    first = out.splitlines()[0]
    assert first.startswith(f"checking {server.url} · org {sandbox.org_id} · 1 bill(s), 1 statement job(s)")


def _lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_state_file_locked_during_the_run_still_writes_the_reports(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.1)
    path = tmp_path / "state.sqlite"
    holders: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def lock_once(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            if not holders:  # the state was read at the start: another process locks it mid-run
                holders.append(_lock(path))
        return body

    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lock_once)
    try:
        assert main(_args(server, sandbox, tmp_path, "--state", str(path)), environ=environ) == 2
    finally:
        for holder in holders:
            holder.close()
    assert "is locked by another process" in capsys.readouterr().err
    document = _report(tmp_path)  # written before the state, then again with the state's problem
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    assert ["is locked by another process" in problem["message"] for problem in document["problems"]] == [True]


def test_a_state_file_locked_during_a_run_without_reports_still_exits_2(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No report to write again: the state's failure must still reach the verdict and the exit code.
    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.1)
    path = tmp_path / "state.sqlite"
    holders: list[sqlite3.Connection] = []
    lock = threading.Lock()

    def lock_once(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            if not holders:
                holders.append(_lock(path))
        return body

    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lock_once)
    args = _args(server, sandbox, tmp_path, "--state", str(path))
    at = args.index("--report-json")
    del args[at : at + 2]
    try:
        assert main(args, environ=environ) == 2
    finally:
        for holder in holders:
            holder.close()
    captured = capsys.readouterr()
    assert "is locked by another process" in captured.err
    assert "INCOMPLETE" in captured.out
    assert not list(tmp_path.glob("*.json"))


def test_a_state_file_locked_from_the_start_is_a_problem(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.1)
    path = tmp_path / "state.sqlite"
    state.State(path, server.url, sandbox.org_id).close()
    holder = _lock(path)
    try:
        assert main(_args(server, sandbox, tmp_path, "--state", str(path)), environ=environ) == 2
    finally:
        holder.close()
    assert "--no-state" in capsys.readouterr().err


def test_a_foreign_state_file_is_refused_and_a_damaged_row_skipped(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE observations (a TEXT, b TEXT)")
    db.close()
    assert main(_args(server, sandbox, tmp_path, "--state", str(foreign)), environ=environ) == 2
    assert "did not write" in capsys.readouterr().err
    not_a_database = tmp_path / "junk.sqlite"
    not_a_database.write_bytes(b"this is not a database" * 100)
    assert main(_args(server, sandbox, tmp_path, "--state", str(not_a_database)), environ=environ) == 2
    assert "--state PATH" in capsys.readouterr().err

    damaged = tmp_path / "damaged.sqlite"
    state.State(damaged, server.url, sandbox.org_id).close()
    with sqlite3.connect(damaged) as db:
        scope = f"{server.url}|{sandbox.org_id}"
        db.execute(
            "INSERT INTO observations VALUES (?, 'bill', ?, '{not json', 1, 0)",
            (scope, sandbox.seeded.bills["monthly"]),
        )
        db.execute("INSERT INTO observations VALUES (?, 'bill', 'x', '[1]', 1, 0)", (scope,))
    db.close()
    assert main(_args(server, sandbox, tmp_path, "--state", str(damaged)), environ=environ) == 0
    assert any("skipped 2 damaged row(s)" in note for note in _report(tmp_path)["notes"])


@pytest.mark.parametrize("which", ["--report-json", "--junit-xml", "--markdown"])
def test_an_unwritable_report_path_is_a_problem(
    which: str,
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    args = _args(server, sandbox, tmp_path, "--no-state", which, str(blocker / "out.txt"))
    assert main(args, environ=environ) == 2
    assert f"cannot write {which}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "option", "message"),
    [
        ("bad.yaml", b"a: [unclosed", "--spec", "not a YAML/JSON document"),
        ("list.yaml", b"- a\n- b\n", "--spec", "not an OpenAPI document"),
        ("ids.txt", b"bill \xff\xfe\n", "--ids-file", "not UTF-8"),
        ("deep.json", b'{"bills": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "--ids-file", "nested too deeply"),
    ],
)
def test_bad_input_files_exit_2_with_what_to_fix(
    name: str, content: bytes, option: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    env = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"}
    args = ["--base-url", "http://127.0.0.1:9", "--bill-id", "b", option, str(path), "--no-state", "--quiet"]
    assert main(args, environ=env) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "variable", "value", "says"),
    [
        ("--org-id", "M3TER_ORG_ID", "o\udcff", "is not valid UTF-8 text (an undecodable byte {where}): {again}"),
        (
            "--base-url",
            "M3TER_BASE_URL",
            "http://\udcff/",
            "is not valid UTF-8 text (an undecodable byte {where}): {again}",
        ),
        ("--org-id", "M3TER_ORG_ID", "o\nx", "holds a control character (a stray newline?): {again}"),
    ],
)
def test_an_unusable_setting_is_named_where_it_came_from(
    option: str, variable: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An undecodable byte reaches Python as a lone surrogate, from argv as from the environment."""
    env = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "s"}
    args = ["--base-url", "http://127.0.0.1:9", "--bill-id", "b", "--no-state", "--quiet"]
    assert main([*args, option, value], environ=env) == 2
    err = capsys.readouterr().err
    assert f"{option} {says.format(where='on the command line', again='pass it again')}" in err
    assert variable not in err
    on_the_command_line = args if option == "--org-id" else args[2:]
    assert main(on_the_command_line, environ={**env, variable: value}) == 2
    err = capsys.readouterr().err
    assert f"{variable} {says.format(where='in the environment', again='set it again')}" in err


def test_a_rate_above_the_organization_limit_needs_the_override(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_args(server, sandbox, tmp_path, "--no-state", "--rate", "60"), environ=environ) == 2
    assert "50 requests/s per organization" in capsys.readouterr().err
    args = _args(server, sandbox, tmp_path, "--no-state", "--rate", "60", "--i-know-the-rate-limit")
    assert main(args, environ=environ) == 0


def test_no_state_and_a_state_path_are_refused_together(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state_file = tmp_path / "state.sqlite"
    assert main(_args(server, sandbox, tmp_path, "--no-state", "--state", str(state_file)), environ=environ) == 2
    assert "--state does not go with --no-state: pass one of them" in capsys.readouterr().err
    assert sandbox.requests == []
    assert not state_file.exists()
    assert _report(tmp_path)["problems"][0]["message"] == "--state does not go with --no-state: pass one of them"


def _max_per_second(times: list[float]) -> int:
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


async def test_the_rate_is_a_ceiling_over_any_second() -> None:
    now = [0.0]
    granted: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RequestPacer(30.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(90):
        await limiter.acquire()
        granted.append(now[0])
    assert _max_per_second(granted) <= 30
    assert granted[-1] >= 89 / 30 - 1e-9


def test_embedded_state_says_it_is_not_shared_between_runs(tmp_path: Path) -> None:
    path, out = tmp_path / "embedded.sqlite", tmp_path / "report.json"
    for _ in range(2):  # a fresh sandbox each run: never judged against the previous one
        assert main(["--quiet", "--state", str(path), "--report-json", str(out)], environ={}) == 0
    notes = json.loads(out.read_text(encoding="utf-8"))["notes"]
    assert any("rebuilt on every run" in note for note in notes)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "http://elsewhere.example/organizations/o/bills/b"),
        ("GET", "https://h/organizations/o/bills/b"),
        ("POST", "http://elsewhere.example/oauth/token"),
        ("POST", "http://h/other/oauth/token"),
    ],
)
async def test_the_guard_talks_to_the_base_url_only(method: str, url: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    guard = GuardedTransport(
        httpx.MockTransport(handler), RequestPacer(1000), token_url="http://h/oauth/token", base_url="http://h"
    )
    with pytest.raises(ReadOnlyViolation):
        await guard.handle_async_request(httpx.Request(method, url))
    assert sent == []
    await guard.handle_async_request(httpx.Request("GET", "http://h/organizations/o/bills/b"))
    assert len(sent) == 1


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("which", ["--report-json", "--junit-xml", "--markdown", "--state"])
def test_a_path_nothing_can_be_created_at_is_refused_before_anything_is_sent(
    which: str,
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/proc takes no new file, whatever the permission bits say (and root passes every os.access check)."""
    assert main(_args(server, sandbox, tmp_path, which, "/proc/nope/out.txt"), environ=environ) == 2
    out = capsys.readouterr()
    assert out.out == ""  # no verdict
    assert f"cannot write {which} /proc/nope/out.txt: cannot create the directory /proc/nope" in out.err
    assert sandbox.requests == []


def _disk_full_for(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing ``path`` fails as on a full disk."""
    write = outputs.write_atomically

    def full(target: Path, render: Any) -> None:
        if target == path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(target, render)

    monkeypatch.setattr(outputs, "write_atomically", full)


@pytest.mark.parametrize("quiet", [True, False])
def test_a_report_that_fails_at_the_end_makes_the_verdict_say_exit_2(
    quiet: bool,
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The path passed the check before the run, and the disk filled up meanwhile."""
    markdown = tmp_path / "out.md"
    full = f"cannot write --markdown {markdown}: No space left on device; pass a writable path"
    _disk_full_for(markdown, monkeypatch)
    args = _args(server, sandbox, tmp_path, "--no-state", "--markdown", str(markdown), quiet=quiet)
    assert main(args, environ=environ) == 2
    assert _report(tmp_path)["problems"] == [{"kind": "config", "message": full, "entity_id": None, "endpoint": None}]
    out = capsys.readouterr()
    verdict = out.out.strip().splitlines()[-1]
    assert verdict.startswith("INCOMPLETE: 0 error(s), 0 warning(s), 1 problem(s);")
    assert verdict.endswith("(exit 2)")
    assert full in " ".join((out.err if quiet else out.out).split())  # a line may be wrapped
