"""Where the reports go: a path naming one of the process's own descriptors (``/dev/stdout`` and its
aliases, or a link to one) is written through it, after what was printed before and before what follows,
even when the output is redirected to a regular file (which must not be replaced). Whether a path can be
written is found out before the run by doing what writing does, and undoing it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import pytest
from m3ter_contract.conformance.outputs import Output, unwritable, write_stating_outcome

SCRIPT = """
import sys
from pathlib import Path
from m3ter_contract.conformance.outputs import write_atomically
print("before", flush=True)
write_atomically(Path(sys.argv[1]), lambda handle: handle.write("REPORT\\n"))
print("after")
"""


@pytest.mark.parametrize("target", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "link"])
def test_a_report_to_redirected_stdout_goes_where_the_output_stands(tmp_path: Path, target: str) -> None:
    if target == "link":
        (tmp_path / "report.md").symlink_to("/dev/stdout")
        target = str(tmp_path / "report.md")
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        subprocess.run([sys.executable, "-c", SCRIPT, target], stdout=out, check=True, timeout=60)
    assert log.read_text() == "before\nREPORT\nafter\n"


def test_a_report_to_stderr_keeps_stdout_apart(tmp_path: Path) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        subprocess.run(
            [sys.executable, "-c", SCRIPT, "/dev/stderr"], stdout=stdout, stderr=stderr, check=True, timeout=60
        )
    assert (out.read_text(), err.read_text()) == ("before\nafter\n", "REPORT\n")


def test_the_writability_check_leaves_nothing_behind(tmp_path: Path) -> None:
    existing = tmp_path / "report.json"
    existing.write_text("kept")
    before = existing.stat()
    assert unwritable(existing) is None
    assert unwritable(tmp_path / "new" / "deeper" / "report.json") is None
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no probe file, no directory created
    assert existing.read_text() == "kept"
    assert (existing.stat().st_mtime_ns, existing.stat().st_ino) == (before.st_mtime_ns, before.st_ino)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_the_writability_check_creates_what_writing_creates() -> None:
    """Under /proc nothing can be created, whatever the permission bits say (root may write anywhere)."""
    assert unwritable(Path("/proc/nope/report.json")) == (
        "cannot create the directory /proc/nope: No such file or directory"
    )
    assert unwritable(Path("/proc/report.json")) == "cannot create a file in /proc: No such file or directory"


def test_reports_are_rewritten_until_each_written_one_states_every_failure(tmp_path: Path) -> None:
    """A failure after the first pass (the state) is written into the reports; a rewrite that fails in turn is
    a failure the remaining reports state, and a report that failed is never tried again."""
    passes: list[list[str]] = []

    def render(failures: Sequence[str]) -> list[Output]:
        passes.append(list(failures))

        def text(name: str) -> Callable[[TextIO], object]:
            def write(handle: TextIO) -> object:
                if name == "b" and failures:  # b renders its first pass only
                    raise RuntimeError("b broke")
                return handle.write(" | ".join(failures) or "pass")

            return write

        return [(f"--{name}", tmp_path / name, text(name)) for name in ("a", "b")] + [("--other", None, text("c"))]

    failures = write_stating_outcome(render, ["--a", "--b"], lambda: ["state locked"])
    assert failures == ["state locked", "could not render --b: RuntimeError: b broke (a bug; please report it)"]
    assert (tmp_path / "a").read_text() == " | ".join(failures)
    assert (tmp_path / "b").read_text() == "pass"  # its rewrite failed: the failure is said by a and stderr
    assert len(passes) == 3


def test_nothing_is_written_again_when_nothing_failed(tmp_path: Path) -> None:
    passes: list[Sequence[str]] = []

    def render(failures: Sequence[str]) -> list[Output]:
        passes.append(failures)
        return [("--a", tmp_path / "a", lambda handle: handle.write("pass"))]

    assert write_stating_outcome(render, ["--a"]) == []
    assert passes == [[]]
