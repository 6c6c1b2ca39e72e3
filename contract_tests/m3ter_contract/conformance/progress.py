"""Progress for a log: when stderr is not a terminal (CI, a pipe), one plain line at most every 10 seconds.

On a terminal the CLI shows rich's live progress bar instead; a log gets neither a bar nor silence:

    progress 0:20 · bills 40/200 · statement jobs 10/200 · reads 50/400 · 3 error(s), 1 warning(s) ·
      61 requests, 2 answered 429        (one line in the log)

Entities count as done when they are finished (every read made, or given up with a problem). The clock and
the sleep are injected, so tests drive time by hand. A ``--config`` run over several organizations prints
the same line with the counts of all of them, then each organization's reads (:class:`OrgsProgress`):

    progress 0:10 · bills 3/4 · ... · 52 requests, 0 answered 429 · reads per org: eu 8/8, us 4/8
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..rules import Finding
from .redact import shown

OnRead = Callable[[int, int, list[Finding]], None]
"""The runner's progress callback: (reads done, reads planned, the findings that read added)."""

EVERY = 10.0
"""Seconds between two progress lines, at least."""

_KINDS = (("bill", "bills"), ("statement_job", "statement jobs"))


@dataclass(frozen=True, slots=True)
class Traffic:
    """What went over the wire so far: requests sent (token, reads, downloads, retries) and 429 answers."""

    requests: int = 0
    throttled: int = 0


@dataclass(slots=True)
class LogProgress:
    """The runner's ``progress`` callback for a log. ``write`` takes one line; ``totals`` are the entities per
    kind; ``finished`` and ``traffic`` are read when a line is due (the runner's own counters)."""

    write: Callable[[str], None]
    totals: Mapping[str, int]
    finished: Callable[[], Mapping[str, int]] = dict
    traffic: Callable[[], Traffic] = Traffic
    detail: Callable[[], str] | None = None
    """One more part at the end of the line (each organization's reads)."""
    clock: Callable[[], float] = time.monotonic
    every: float = EVERY
    reads: int = 0
    planned: int = 0
    severities: Counter[str] = field(default_factory=Counter)
    started: float = field(init=False)
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.last = self.clock()

    def __call__(self, done: int, planned: int, fresh: list[Finding]) -> None:
        """After each read (the runner's ``Progress`` signature): count, and print when a line is due."""
        self.reads, self.planned = done, planned
        self.severities.update(str(f.severity) for f in fresh)
        self.tick()

    def due_in(self) -> float:
        """Seconds until the next line may be printed (0 when it may be printed now)."""
        return max(0.0, self.last + self.every - self.clock())

    def tick(self) -> bool:
        """Print a line when ``every`` seconds have passed since the last one (or the start); True if printed."""
        if self.due_in() > 0:
            return False
        self.last = self.clock()
        self.write(self.line())
        return True

    def line(self) -> str:
        elapsed = int(self.clock() - self.started)
        minutes, seconds = divmod(elapsed, 60)
        finished = self.finished()
        entities = [
            f"{label} {finished.get(kind, 0)}/{self.totals[kind]}" for kind, label in _KINDS if self.totals.get(kind)
        ]
        traffic = self.traffic()
        parts = [
            f"progress {minutes}:{seconds:02d}",
            *entities,
            f"reads {self.reads}/{max(self.planned, self.reads)}",
            f"{self.severities['error']} error(s), {self.severities['warning']} warning(s)",
            f"{traffic.requests} requests, {traffic.throttled} answered 429",
        ]
        if self.detail is not None:
            parts.append(self.detail())
        return " · ".join(parts)

    async def heartbeat(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Tick for as long as the run lasts (cancel it at the end): a line even while every read waits
        (``--interval``, ``--watch-interval``, a 429 pause)."""
        while True:
            await sleep(max(self.due_in(), 0.001))
            self.tick()


class OrgsProgress:
    """Several organizations' runs at once, reported as one: each organization's reads (its runner's
    callback, :meth:`on_read`) are added up for ``sink`` (a :class:`LogProgress`, a terminal bar); a
    :class:`LogProgress` sink also gets every organization's reads at the end of its line."""

    def __init__(self, sink: OnRead, planned: Mapping[str, int]) -> None:
        self.sink = sink
        self.reads = {name: (0, count) for name, count in planned.items()}
        if isinstance(sink, LogProgress):
            sink.planned = sum(planned.values())
            sink.detail = self.detail

    def on_read(self, name: str) -> OnRead:
        """The callback of organization ``name``'s runner."""

        def progress(done: int, planned: int, fresh: list[Finding]) -> None:
            self.reads[name] = (done, planned)
            self.sink(sum(d for d, _ in self.reads.values()), sum(max(d, p) for d, p in self.reads.values()), fresh)

        return progress

    def detail(self) -> str:
        return "reads per org: " + ", ".join(f"{name} {d}/{max(d, p)}" for name, (d, p) in self.reads.items())


@contextmanager
def terminal_bar(console: Console) -> Iterator[OnRead]:
    """Rich's live bar on a terminal (gone when the run ends): reads done, errors and warnings so far; each
    error printed above it as it is found. Yields the runner's progress callback."""
    columns = (
        TextColumn("[bold]checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("reads · [red]{task.fields[errors]} errors[/] · [yellow]{task.fields[warnings]} warnings"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("check", total=None, errors=0, warnings=0)
        counts = {"error": 0, "warning": 0}

        def progress(done: int, planned: int, fresh: list[Finding]) -> None:
            for f in fresh:
                counts[str(f.severity)] += 1
                if f.severity == "error":
                    line = Text("error", style="red")
                    line.append(f" {f.rule} {shown(f.entity_id)} {shown(f.path)}: {shown(f.message)}")
                    bar.console.print(line, highlight=False)
            bar.update(task, completed=done, total=planned, errors=counts["error"], warnings=counts["warning"])

        yield progress


__all__ = ["EVERY", "LogProgress", "OnRead", "OrgsProgress", "Traffic", "terminal_bar"]
