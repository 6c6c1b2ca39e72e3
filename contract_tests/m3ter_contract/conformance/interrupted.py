"""Ctrl-C: the one answer of every run of the check (a single run, ``--config``), written once.

An interrupted run still writes the reports it was asked for (``--report-json``, ``--junit-xml``,
``--markdown``) with what it observed until then, and the ``interrupted`` problem saying the run is
incomplete: its verdict is ``incomplete`` (the reports' exit code 2, as any run that could not judge
everything), never ``pass``, and the interruption is never a finding about the API. The process exits 130.
Nothing is remembered (the state is not saved) and neither ``--write-baseline`` nor ``--suggest-overlay`` is
written: they feed later runs, and a part of a run would drop what the rest would have said.

A second Ctrl-C while the reports are written stops the writing: a report is replaced whole or not at all
(:func:`.outputs.write_atomically`), so none is left half written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .runner import Problem

EXIT_INTERRUPTED = 130
KIND = "interrupted"
RUN = (
    "the run was interrupted (Ctrl-C) before it finished: these reports hold only what was read until then and "
    "its verdict is incomplete; run it again"
)
ORG = "interrupted (Ctrl-C) while this organization was being checked: only the reads made until then are judged"
NOT_JUDGED = "interrupted: the rules over the whole run (across entities) were not judged"
NOT_WRITTEN = {
    "--write-baseline": "a baseline of part of a run would drop the accepted findings of the rest",
    "--suggest-overlay": "the drift of part of a run is not what the whole run would suggest",
}
"""The files an interrupted run does not write (they feed later runs), and why."""


def run_problem() -> Problem:
    """The run's own problem: it was interrupted, its reports are incomplete."""
    return Problem(KIND, RUN)


def org_problem() -> Problem:
    """The problem of an organization whose check was still running when the run was interrupted."""
    return Problem(KIND, ORG)


def not_written(paths: Mapping[str, Path | None]) -> list[str]:
    """What stderr says of the ``--write-baseline`` / ``--suggest-overlay`` asked for (``option -> path``)."""
    return [
        f"{option} {path} not written: the run was interrupted ({why})"
        for option, why in NOT_WRITTEN.items()
        if (path := paths.get(option)) is not None
    ]


def handle(say: Callable[[str], None], write: Callable[[Problem], Sequence[str]]) -> int:
    """The answer to a ``KeyboardInterrupt``: say so, ``write(problem)`` the reports (what it returns: the lines
    about reports not written), stop at a second Ctrl-C; the exit code (130)."""
    say("interrupted (Ctrl-C): writing the reports asked for with what was read until then; nothing remembered")
    try:
        lines = write(run_problem())
    except KeyboardInterrupt:
        say("interrupted again: the reports not written yet were left as they were (none is half written)")
        return EXIT_INTERRUPTED
    for line in lines:
        say(line)
    return EXIT_INTERRUPTED


__all__ = ["EXIT_INTERRUPTED", "KIND", "handle", "not_written", "org_problem", "run_problem"]
