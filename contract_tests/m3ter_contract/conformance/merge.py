"""``m3ter-conformance merge``: one report from the JSON reports of several ``--config`` runs.

    m3ter-conformance merge --junit-xml all.xml --report-json all.json --markdown summary.md shard-*.json

CI runs one job per organization (``--config PATH --org NAME --report-json PATH``); this combines their JSON
reports into the JUnit, JSON and Markdown one run over all the organizations would have written. Refused
(exit 2): a file that is not such a report, reports of another report version or rule set, and one
organization in two reports with different content (the same section twice is kept once). Otherwise the
exit code is the worst of the organizations' (0 pass, 1 error findings, 2 problems); a shard that could not
start (its report holds only the run's problems) makes the merged report incomplete with its problems.

A refusal still writes the reports asked for, with the problem as the run's own (as every exit 2 of a run,
:mod:`.failed_run`), to every output path that is usable and not one of the reports to merge.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from . import combined, failed_run
from .cli import EXIT_PROBLEM, UsageProblem, _say, _writable
from .combined import OrgResult, ReportError
from .multirun import print_quiet, report_failure, report_outputs, requested_reports
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
        "report cannot be read or two reports disagree about one organization.",
    )
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json", help="--report-json of a --config run")
    parser.add_argument("--report-json", type=Path, metavar="PATH")
    parser.add_argument("--junit-xml", type=Path, metavar="PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--quiet", action="store_true", help="only the first problems and findings, and the verdicts")
    if lenient:
        failed_run.relax(parser)
    return parser


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not UTF-8 text: pass the --report-json of a --config run") from None
    except ValueError as exc:
        raise ReportError(f"{path} is not JSON ({exc}): pass the --report-json of a --config run") from None


def merge(paths: Sequence[Path]) -> tuple[list[OrgResult], list[Problem]]:
    """The organizations of every report, in the order given, each organization once; and the run problems
    of the reports (of shards that could not start), each once."""
    merged: dict[str, tuple[Path, dict[str, Any], OrgResult]] = {}
    problems: list[Problem] = []
    for path in paths:
        document = _read(path)
        orgs = combined.from_json(document, str(path))
        problems += [p for p in combined.run_problems(document, str(path)) if p not in problems]
        for org in orgs:
            section = combined.section(org)
            if org.name in merged:
                first, earlier, _ = merged[org.name]
                if earlier != section:
                    raise ReportError(
                        f"organization {org.name} is in {first} and in {path} with different results: merge the "
                        "reports of one run (each organization once)"
                    )
                continue
            merged[org.name] = (path, section, org)
    return [org for _, _, org in merged.values()], problems


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
        results, problems = merge(args.reports)
    except (ReportError, UsageProblem) as exc:
        _say(console, LABEL, str(exc))
        requested = failed_run.from_namespace(args)
        report_failure([Problem("config", str(exc))], requested, console, LABEL)
        return EXIT_PROBLEM
    failures = write_outputs(report_outputs(requested_reports(args), results, problems))
    if not args.quiet:
        combined.print_summary(results, out, problems)
    else:
        print_quiet(results, console, out, problems)
    for failure in failures:
        _say(console, LABEL, failure)
    return EXIT_PROBLEM if failures else combined.exit_code(results, problems)


if __name__ == "__main__":
    sys.exit(main())
