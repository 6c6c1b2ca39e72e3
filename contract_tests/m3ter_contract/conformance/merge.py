"""``m3ter-conformance merge``: one report from the JSON reports of several ``--config`` runs.

    m3ter-conformance merge --junit-xml all.xml --report-json all.json --markdown summary.md shard-*.json

CI runs one job per organization (``--config PATH --org NAME --report-json PATH``); this combines their JSON
reports into the JUnit, JSON and Markdown one run over all the organizations would have written. Refused
(exit 2): a file that is not such a report, reports of another report version or rule set, and one
organization in two reports with different content (the same section twice is kept once). Otherwise the
exit code is the worst of the organizations' (0 pass, 1 error findings, 2 problems).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from . import combined
from .cli import EXIT_PROBLEM, UsageProblem, _say, _writable
from .combined import OrgResult, ReportError
from .multirun import report_outputs, write_outputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--quiet", action="store_true", help="no summary tables")
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


def merge(paths: Sequence[Path]) -> list[OrgResult]:
    """The organizations of every report, in the order given; each organization once."""
    merged: dict[str, tuple[Path, dict[str, Any], OrgResult]] = {}
    for path in paths:
        for org in combined.from_json(_read(path), str(path)):
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
    return [org for _, _, org in merged.values()]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console, out = Console(stderr=True), Console()
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
        results = merge(args.reports)
    except (ReportError, UsageProblem) as exc:
        _say(console, "m3ter-conformance merge:", str(exc))
        return EXIT_PROBLEM
    failures = write_outputs(report_outputs(args, results))
    if not args.quiet:
        combined.print_summary(results, out)
    for failure in failures:
        _say(console, "m3ter-conformance merge:", failure)
    return EXIT_PROBLEM if failures else combined.exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
