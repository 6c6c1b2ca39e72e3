"""``m3ter-conformance merge``: one report from the JSON reports of several ``--config`` runs.

    m3ter-conformance merge --junit-xml all.xml --report-json all.json --markdown summary.md shard-*.json
    m3ter-conformance merge --expect eu --expect us ... shard-*.json   # each organization must be there

CI runs one job per organization (``--config PATH --org NAME --report-json PATH``); this combines their JSON
reports into the JUnit, JSON and Markdown one run over all the organizations would have written. The exit
code is the worst of the organizations' (0 pass, 1 error findings, 2 problems); a shard that could not start
(its report holds only the run's problems) makes the merged report incomplete with its problems.

``--expect NAME`` (repeatable; CI passes every name of ``--list-orgs --json``) names an organization the
reports must hold: one that none holds (its job died before writing a report, or its report was not
uploaded) is a ``shard`` problem ``[no-report]`` naming it, so the merged report is incomplete (exit 2)
instead of passing without it. It says the run is incomplete, never anything about the API.

A damaged shard never costs the others: every report that can be read is merged, and each one that cannot
is a ``shard`` problem of the run naming the file and a short reason (:class:`Damage`; never what the file
holds, which could be anything), so the merged report is incomplete (exit 2) and its Markdown (a CI step
summary) shows what was merged and what was not. So is a report of another version of the tool, and one
that has an organization an earlier report has with other results (the first is kept). The same section in
two reports (a re-run job uploading again) is kept once; the same file given twice (overlapping globs) is
read once: it is the same report, and merging it once is exactly what one run would have written.

Refused as a whole (exit 2, as every exit 2 of a run, :mod:`.failed_run`: the reports asked for are written
with the problem, to every usable output path that is not one of the reports to merge): an output path
that is not writable or is one of the inputs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console

from . import combined, failed_run
from .cli import EXIT_PROBLEM, UsageProblem, _say, _writable
from .combined import OrgResult, ReportError
from .multirun import print_quiet, report_failure, report_outputs, requested_reports
from .orgs import NAME
from .outputs import write_outputs
from .runner import Problem

LABEL = "m3ter-conformance merge:"


def build_parser(*, lenient: bool = False) -> failed_run.RecordingParser:
    """``lenient``: the same options, relaxed (:func:`.failed_run.relax`), to find the output paths of a
    command line argparse refused."""
    parser = failed_run.RecordingParser(
        add_help=not lenient,
        prog="m3ter-conformance merge",
        description="Combine the JSON reports of several m3ter-conformance --config runs (e.g. one CI job per "
        "organization) into one JUnit, JSON and Markdown report.",
        epilog="Exit codes: the worst of the organizations' (0 pass, 1 error findings, 2 problems); 2 when a "
        "report cannot be read or two reports disagree about one organization (every readable report is still "
        "merged, each other one named in the reports).",
    )
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json", help="--report-json of a --config run")
    parser.add_argument("--report-json", type=Path, metavar="PATH")
    parser.add_argument("--junit-xml", type=Path, metavar="PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--quiet", action="store_true", help="only the first problems and findings, and the verdicts")
    parser.add_argument(
        "--expect",
        action="append",
        metavar="NAME",
        help="an organization the reports must hold (repeatable): one none holds makes the merge incomplete (exit 2)",
    )
    if lenient:
        failed_run.relax(parser)
    return parser


class Damage(StrEnum):
    """Why a report (or, ``NO_REPORT``, an ``--expect`` organization) was not merged (the ``shard`` problem
    says it in brackets)."""

    MISSING = "missing"
    NOT_A_FILE = "not-a-file"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    NOT_UTF8 = "not-utf8"
    NOT_JSON = "not-json"
    WRONG_SHAPE = combined.WRONG_SHAPE
    OTHER_VERSION = combined.OTHER_VERSION
    CONFLICT = "conflict"
    NO_REPORT = "no-report"


SHARD = "shard"
"""The kind of the problem of a report that was not merged."""


class Unmerged(Exception):
    """A report that cannot be merged: why (a :class:`Damage`), and what was wrong and what to do."""

    def __init__(self, damage: Damage, detail: str) -> None:
        super().__init__(detail)
        self.damage = damage
        self.detail = detail


def shard_problem(path: Path, damage: Damage, detail: str) -> Problem:
    return Problem(SHARD, f"{path} not merged [{damage}]: {detail}")


_WANTED = "pass the --report-json of a m3ter-conformance --config run"
_RERUN = "see its job's log and re-run it, or download its report again"


def missing_problem(name: str) -> Problem:
    """An ``--expect`` organization that no merged report holds."""
    return Problem(
        SHARD,
        f"organization {name} not merged [{Damage.NO_REPORT}]: no report holds it (its job stopped before writing "
        f"one, or its report was not uploaded); {_RERUN}",
    )


def _read(path: Path) -> Any:
    """The JSON document of ``path``; :class:`Unmerged` with a short reason (never the file's content)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Unmerged(Damage.MISSING, "no such file: check the path (did its job write a report?)") from None
    except IsADirectoryError:
        raise Unmerged(Damage.NOT_A_FILE, "it is a directory: pass the report file inside it") from None
    except OSError as exc:
        raise Unmerged(Damage.UNREADABLE, f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    if not data.strip():
        raise Unmerged(Damage.EMPTY, f"the file is empty: its run stopped before writing it; {_RERUN}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unmerged(Damage.NOT_UTF8, f"not UTF-8 text (byte {exc.start}): {_WANTED}") from None
    try:
        return json.loads(text)
    except (RecursionError, MemoryError):
        raise Unmerged(
            Damage.NOT_JSON, f"it is nested too deeply (or too big) to read as a report: {_WANTED}"
        ) from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise Unmerged(
                Damage.TRUNCATED, f"the JSON ends early (after {len(data)} bytes): it was cut short; {_RERUN}"
            ) from None
        raise Unmerged(
            Damage.NOT_JSON, f"it is not JSON ({exc.msg}, line {exc.lineno} column {exc.colno}): {_WANTED}"
        ) from None


def _parse(path: Path) -> tuple[list[OrgResult], list[Problem]]:
    """A report's organizations and run problems, all or nothing."""
    document = _read(path)
    source = "the file"
    try:
        return combined.from_json(document, source), combined.run_problems(document, source)
    except ReportError as exc:
        raise Unmerged(Damage(exc.reason), str(exc).removeprefix(f"{source}: ")) from None


@dataclass(slots=True)
class Merged:
    """What ``merge`` made of its reports."""

    results: list[OrgResult] = field(default_factory=list)
    """Every organization once, in the order given."""
    problems: list[Problem] = field(default_factory=list)
    """The run problems of the reports (each once), then one ``shard`` problem per report not merged."""
    repeated: list[Path] = field(default_factory=list)
    """Files given more than once (read once)."""


def merge(paths: Sequence[Path]) -> Merged:
    """Every readable report merged; each one that is not is a ``shard`` problem naming it."""
    sections: dict[str, tuple[Path, dict[str, Any], OrgResult]] = {}
    merged = Merged()
    unmerged: list[Problem] = []
    read: set[Path] = set()
    for path in paths:
        resolved = path.resolve()
        if resolved in read:
            merged.repeated.append(path)
            continue
        read.add(resolved)
        try:
            orgs, problems = _parse(path)
            fresh: dict[str, tuple[OrgResult, dict[str, Any]]] = {}
            for org in orgs:
                section = combined.section(org)
                if org.name in fresh:  # twice in this very report
                    if fresh[org.name][1] != section:
                        raise Unmerged(
                            Damage.CONFLICT,
                            f"organization {org.name} is in it twice, with different results: "
                            "merge the reports of one run, each organization once",
                        )
                    continue
                if org.name in sections:
                    first, earlier, _ = sections[org.name]
                    if earlier != section:
                        raise Unmerged(
                            Damage.CONFLICT,
                            f"organization {org.name} is in {first} too, with different results (that one is kept): "
                            "merge the reports of one run, each organization once",
                        )
                    continue
                fresh[org.name] = (org, section)
        except Unmerged as exc:
            unmerged.append(shard_problem(path, exc.damage, exc.detail))
            continue
        merged.problems += [p for p in problems if p not in merged.problems]
        for org, section in fresh.values():
            sections[org.name] = (path, section, org)
    merged.results = [org for _, _, org in sections.values()]
    merged.problems += unmerged
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    console, out = Console(stderr=True), Console()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as stop:  # its reports say why, as a run's
        if stop.code not in (0, None) and parser.last_error is not None:
            requested = failed_run.report_paths(build_parser(lenient=True), arguments)
            message = f"{parser.last_error} (m3ter-conformance merge --help lists the options)"
            report_failure([Problem("usage", message)], requested, console, LABEL)
        raise
    try:
        inputs = {path.resolve() for path in args.reports}
        for option in ("report_json", "junit_xml", "markdown"):
            path = getattr(args, option)
            if path is None:
                continue
            name = "--" + option.replace("_", "-")
            _writable(name, path)
            if path.resolve() in inputs:
                raise UsageProblem(f"{name} {path} is one of the reports to merge: pass another path")
        for expected in args.expect or ():
            if not NAME.fullmatch(expected):
                raise UsageProblem(f"--expect {expected!r}: organization names are letters, digits, - and _")
    except UsageProblem as exc:
        _say(console, LABEL, str(exc))
        requested = failed_run.from_namespace(args)
        report_failure([Problem("config", str(exc))], requested, console, LABEL)
        return EXIT_PROBLEM
    merged = merge(args.reports)
    results, problems = merged.results, merged.problems
    held = {org.name for org in results}
    problems += [missing_problem(name) for name in dict.fromkeys(args.expect or ()) if name not in held]
    failures = write_outputs(report_outputs(requested_reports(args), results, problems))
    for path in merged.repeated:
        _say(console, LABEL, f"{path} is given more than once: merged once")
    if not results:  # nothing merged: the problems alone, as a refusal
        for problem in problems:
            _say(console, LABEL, problem.message)
    elif not args.quiet:
        combined.print_summary(results, out, problems)
    else:
        print_quiet(results, console, out, problems)
    for failure in failures:
        _say(console, LABEL, failure)
    return EXIT_PROBLEM if failures else combined.exit_code(results, problems)


if __name__ == "__main__":
    sys.exit(main())
