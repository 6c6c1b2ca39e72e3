"""Progress in a log (stderr not a terminal): a line at most every 10 s, with counts; time is injected."""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path

import pytest
from m3ter_contract.conformance import cli
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.progress import EVERY, LogProgress, Traffic
from m3ter_contract.rules import Finding, Severity
from m3ter_contract.sandbox import Sandbox, SandboxServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _finding(severity: str) -> Finding:
    return Finding("b1", "GET /bills/{id}", "schema.enum", Severity(severity), "$.x", "message")


def _log(clock: FakeClock, lines: list[str]) -> LogProgress:
    finished = {"bill": 0, "statement_job": 0}
    log = LogProgress(lines.append, {"bill": 200, "statement_job": 100}, clock=clock)
    log.finished = lambda: finished
    log.traffic = lambda: Traffic(requests=41, throttled=2)
    return log


def test_a_line_at_most_every_ten_seconds_with_the_counts() -> None:
    clock, lines = FakeClock(), list[str]()
    log = _log(clock, lines)
    for elapsed, fresh in ((1.0, [_finding("error")]), (5.0, [_finding("warning")]), (9.99, [])):
        clock.now = 1_000.0 + elapsed
        log(3, 300, fresh)
    assert lines == []  # nothing before 10 s
    clock.now = 1_010.0
    log(40, 300, [])
    assert lines == [
        "progress 0:10 · bills 0/200 · statement jobs 0/100 · reads 40/300 · 1 error(s), 1 warning(s) · "
        "41 requests, 2 answered 429"
    ]
    clock.now = 1_019.0
    log(41, 300, [])
    assert len(lines) == 1  # 9 s after the last line: not yet
    clock.now = 1_075.0
    log(42, 300, [_finding("error")])
    assert len(lines) == 2
    assert lines[1].startswith("progress 1:15 · ")
    assert "2 error(s), 1 warning(s)" in lines[1]
    assert EVERY == 10.0


def test_only_the_kinds_the_run_reads_are_counted() -> None:
    clock, lines = FakeClock(), list[str]()
    log = LogProgress(lines.append, {"bill": 0, "statement_job": 5}, finished=lambda: {"statement_job": 2}, clock=clock)
    clock.now += 10
    assert log.tick()
    assert lines[0].startswith("progress 0:10 · statement jobs 2/5 · reads 0/0 · ")


def test_the_heartbeat_prints_while_every_read_waits() -> None:
    clock, lines, asked = FakeClock(), list[str](), list[float]()
    log = _log(clock, lines)

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        clock.now += seconds
        if len(asked) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(log.heartbeat(sleep))
    assert asked == [10.0, 10.0, 10.0]
    assert [line.split(" · ")[0] for line in lines] == ["progress 0:10", "progress 0:20"]


def test_a_piped_run_prints_progress_lines_and_a_quiet_one_none(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every read is "10 s later" for the log: its lines appear without waiting.
    monkeypatch.setattr(cli, "LogProgress", functools.partial(LogProgress, every=0.0))
    seeded = sandbox.seeded
    args = ["--base-url", server.url, "--bill-id", seeded.bills["monthly"], "--bill-id", seeded.bills["weekly"]]
    args += ["--statement-job-id", seeded.jobs["pending"], "--no-state", "--interval", "0"]
    assert main(args, environ=environ) == 0
    err = capsys.readouterr().err  # captured: not a terminal
    progress = [line for line in err.splitlines() if line.startswith("progress ")]
    assert progress, err
    shape = r"progress \d+:\d\d · bills [0-2]/2 · statement jobs [01]/1 · reads [0-3]/3 · 0 error\(s\), 0 warning\(s\)"
    assert all(re.match(shape + r" · \d+ requests, 0 answered 429$", line) for line in progress), progress
    assert any("reads 3/3" in line for line in progress)
    assert main([*args, "--quiet"], environ=environ) == 0
    assert "progress " not in capsys.readouterr().err  # --quiet: no progress
