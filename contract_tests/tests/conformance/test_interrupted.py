"""Ctrl-C: an interrupted run (single or ``--config``) writes every report asked for with what it observed,
marked ``interrupted`` (incomplete, never a pass, never a finding), and exits 130; a second Ctrl-C while
they are written leaves no file half written. In-process tests raise ``KeyboardInterrupt`` from a read of
the runner (as the default SIGINT handler would); one test sends SIGINT to a real process."""

from __future__ import annotations

import gc
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance import interrupted, merge, multirun, report
from m3ter_contract.conformance.command import main
from m3ter_contract.conformance.outputs import write_atomically, write_outputs
from m3ter_contract.conformance.runner import Runner
from m3ter_contract.rules import RULES

# Imported before any test: nothing is compiled while the loop of an interrupted run is collected.
PRELOADED = (merge, multirun)
READS = ["--observe", "2", "--interval", "0", "--concurrency", "1", "--quiet"]


def _outputs(tmp_path: Path, stem: str = "r") -> list[str]:
    return [
        *("--report-json", str(tmp_path / f"{stem}.json")),
        *("--junit-xml", str(tmp_path / f"{stem}.xml")),
        *("--markdown", str(tmp_path / f"{stem}.md")),
    ]


@pytest.fixture(autouse=True)
def _collect() -> Iterator[None]:
    """A KeyboardInterrupt raised inside a task (not asyncio's own cancellation on SIGINT) leaves the run's
    main task holding it; collect it here, at a known point, and not in the middle of a later test."""
    yield
    gc.collect()


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, reads: int, *, runner: int | None = None) -> list[Runner]:
    """Raise KeyboardInterrupt (as Ctrl-C does) right after the ``reads``-th read step of the runners (of the
    ``runner``-th runner to start, when given); the runners in the order they started."""
    started: list[Runner] = []
    done: dict[int, int] = {}
    step, run = Runner._step, Runner.run

    async def counted_run(self: Runner) -> Any:
        started.append(self)
        return await run(self)

    async def counted_step(self: Runner, *args: Any) -> Any:
        delay = await step(self, *args)
        which = started.index(self)
        if runner is None or which == runner:
            done[which] = done.get(which, 0) + 1
            if sum(done.values()) >= reads:
                if runner is not None:  # the other runners first finish their checks
                    while not all(other.result is not None for other in started if other is not self):
                        await _yield()
                raise KeyboardInterrupt
        return delay

    monkeypatch.setattr(Runner, "run", counted_run)
    monkeypatch.setattr(Runner, "_step", counted_step)
    return started


async def _yield() -> None:
    import asyncio

    await asyncio.sleep(0)


def _no_temporary_files(directory: Path) -> None:
    assert [path.name for path in directory.iterdir() if path.name.endswith(".tmp")] == []


def test_an_interrupted_run_reports_what_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, 3)
    extra = ["--write-baseline", str(tmp_path / "b.json"), "--suggest-overlay", str(tmp_path / "o.yaml")]
    assert main([*READS, *_outputs(tmp_path), *extra], environ={}) == 130
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)  # never a pass
    assert document["summary"]["observations"] == 3  # what was read until Ctrl-C
    assert [p["kind"] for p in document["problems"]] == ["interrupted"]
    assert document["problems"][0]["message"] == interrupted.RUN
    assert interrupted.NOT_JUDGED in document["notes"]
    assert all(finding["rule"] != "interrupted" for finding in document["findings"])  # not a finding
    junit = (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert 'classname="m3ter-conformance.run"' in junit
    assert "interrupted (Ctrl-C)" in junit
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "**interrupted**" in markdown
    assert markdown.startswith("## ⚠️")
    assert not (tmp_path / "b.json").exists()  # a baseline of part of a run would drop accepted findings
    assert not (tmp_path / "o.yaml").exists()
    err = capsys.readouterr().err
    assert "interrupted (Ctrl-C): writing the reports" in err
    assert f"--write-baseline {tmp_path / 'b.json'} not written: the run was interrupted" in err
    _no_temporary_files(tmp_path)


def test_an_interrupt_before_the_first_read_says_the_run_did_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("m3ter_contract.conformance.cli.Spec.load", stop)
    assert main([*READS, *_outputs(tmp_path)], environ={}) == 130
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [p["kind"] for p in document["problems"]] == ["interrupted"]
    assert (document["summary"]["entities"], document["result"]) == ({}, "incomplete")
    assert f'skipped="{len(RULES)}"' in (tmp_path / "r.xml").read_text(encoding="utf-8")


def test_a_second_ctrl_c_while_writing_leaves_no_report_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupt_after(monkeypatch, 1)
    (tmp_path / "r.xml").write_text("the previous run's JUnit\n")

    def second_ctrl_c(result: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "junit_xml", second_ctrl_c)
    assert main([*READS, *_outputs(tmp_path)], environ={}) == 130
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["problems"][0]["kind"] == "interrupted"
    assert (tmp_path / "r.xml").read_text() == "the previous run's JUnit\n"  # as it was
    assert not (tmp_path / "r.md").exists()  # writing stopped
    assert "interrupted again" in capsys.readouterr().err
    _no_temporary_files(tmp_path)


def test_a_report_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("old\n")
    path.chmod(0o640)

    def half_then_ctrl_c(handle: Any) -> None:
        handle.write("new and half")
        handle.flush()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half_then_ctrl_c)
    assert path.read_text() == "old\n"
    _no_temporary_files(tmp_path)
    assert write_outputs([("--markdown", path, lambda handle: handle.write("new\n"))]) == []
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("new\n", 0o640)  # its mode kept
    link = tmp_path / "link.md"
    link.symlink_to(path)
    write_atomically(link, lambda handle: handle.write("through the link\n"))
    assert link.is_symlink()
    assert path.read_text() == "through the link\n"
    failed = write_outputs([("--markdown", tmp_path / "r.md", lambda handle: 1 / 0)])
    assert failed == ["could not render --markdown: ZeroDivisionError: division by zero (a bug; please report it)"]
    assert not (tmp_path / "r.md").exists()
    _no_temporary_files(tmp_path)


def test_an_interrupted_config_run_reports_every_org_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text("[orgs.eu]\nembedded = true\n\n[orgs.us]\nembedded = true\nseed = 7\n")
    started = _interrupt_after(monkeypatch, 2, runner=1)  # us, once eu has finished
    state = ["--state", str(tmp_path / "state.sqlite")]  # a state: its notes are added to each org's
    assert main(["--config", str(config), *READS, *state, *_outputs(tmp_path)], environ={}) == 130
    assert len(started) == 2
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    for org in document["orgs"]:  # a finished org's notes are not added twice
        assert org["notes"], org["name"]
        assert len(org["notes"]) == len(set(org["notes"])), org["notes"]
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    assert [p["kind"] for p in document["problems"]] == ["interrupted"]
    eu, us = document["orgs"]
    assert (eu["name"], eu["result"], eu["problems"]) == ("eu", "pass", [])  # it had finished
    assert (us["name"], us["result"]) == ("us", "incomplete")
    assert [p["kind"] for p in us["problems"]] == ["interrupted"]
    assert us["summary"]["observations"] == 2
    assert eu["summary"]["observations"] > us["summary"]["observations"]
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "### Problems of the run (exit code 2)" in markdown
    assert "| `us` | ⚠️ incomplete |" in markdown
    assert "interrupted (Ctrl-C)" in capsys.readouterr().err


def test_interrupted_while_preparing_the_orgs_writes_the_combined_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text("[orgs.eu]\nembedded = true\n")

    def stop(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("m3ter_contract.conformance.multirun.Spec.load", stop)
    assert main(["--config", str(config), *READS, "--no-state", *_outputs(tmp_path)], environ={}) == 130
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (document["kind"], document["orgs"]) == ("combined", [])
    assert [p["kind"] for p in document["problems"]] == ["interrupted"]


# ---- a real process, a real SIGINT ---------------------------------------------------------------------

ENTRY = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "  # even if SIGINT is ignored
    "from m3ter_contract.conformance.command import main; sys.exit(main())"
)
DEADLINE = 120.0
"""Seconds the process may take to start and to stop: a bound on a loaded machine, never a speed assumption."""


def _lines(stream: Any, deadline: float) -> Iterator[str]:
    """The lines of a pipe until ``deadline`` (monotonic), without blocking past it."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        buffer = b""
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_to_a_real_run_writes_its_reports_and_exits_130(tmp_path: Path) -> None:
    # Each entity read once, then a wait of an hour before the second read: the run is surely running when
    # the signal comes (after the first line, printed once the embedded sandbox listens on 127.0.0.1).
    args = ["--observe", "2", "--interval", "3600", "--no-state", *_outputs(tmp_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = next(_lines(process.stdout, time.monotonic() + DEADLINE), "")
        assert first.startswith("checking embedded sandbox at http://127.0.0.1:"), first
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err.decode()
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    assert "interrupted" in [p["kind"] for p in document["problems"]]
    assert "interrupted (Ctrl-C)" in (tmp_path / "r.xml").read_text(encoding="utf-8")
    assert "**interrupted**" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert b"Traceback" not in err
    _no_temporary_files(tmp_path)


def test_a_run_stops_when_a_library_swallows_its_cancellation(monkeypatch: pytest.MonkeyPatch) -> None:
    """``asyncio.wait_for`` on Python 3.11 swallows a cancellation when what it waits for completes at the same
    moment (the client's token lock does this): a cancelled run still stops, and does not read on."""
    import asyncio

    from m3ter_contract.conformance.embedded import start_embedded
    from m3ter_contract.conformance.runner import Options
    from m3ter_contract.rules import Spec

    entered = asyncio.Event()
    calls: list[str] = []
    step = Runner._step

    async def swallowing(self: Runner, client: Any, downloads: Any, follow: Any) -> Any:
        calls.append(follow.entity_id)
        if len(calls) > 1:
            return await step(self, client, downloads, follow)
        entered.set()
        try:
            await asyncio.Event().wait()  # never set: only the cancellation ends it
        except asyncio.CancelledError:
            return None  # swallowed, as wait_for does
        return None

    monkeypatch.setattr(Runner, "_step", swallowing)

    async def scenario(runner: Runner) -> asyncio.Task[Any]:
        task = asyncio.create_task(runner.run())
        await entered.wait()
        task.cancel()
        await asyncio.wait({task}, timeout=DEADLINE)
        return task

    with start_embedded() as target:
        runner = Runner(target, Options(concurrency=1, interval=0), Spec.load())
        task = asyncio.run(scenario(runner))
    assert task.cancelled()
    assert calls == calls[:1]  # no read after the cancellation
    assert runner.partial().problems == []  # the cancellation is no problem of the API nor of the check


def test_what_an_interrupted_run_says(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    snapshot: Callable[[str, str], None],
) -> None:
    _interrupt_after(monkeypatch, 3)
    monkeypatch.chdir(tmp_path)
    assert main([*READS, "--markdown", "r.md", "--write-baseline", "b.json"], environ={}) == 130
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    text = "--- stderr\n" + capsys.readouterr().err + "--- markdown\n" + markdown
    text = re.sub(r"http://127\.0\.0\.1:[0-9]+", "http://127.0.0.1:PORT", text)
    snapshot("interrupted.txt", re.sub(r"· [0-9.]+ s$", "· 0.0 s", text, flags=re.M))
