"""The ``m3ter-conformance`` command: one run (:mod:`.cli`), every organization of a config file
(``--config PATH``, :mod:`.multirun`), or ``merge`` (:mod:`.merge`).

    m3ter-conformance [options]                                   # one target (see .cli)
    m3ter-conformance --config .ci/m3ter-orgs.toml [--org NAME]   # the organizations of a file, at once
    m3ter-conformance --config .ci/m3ter-orgs.toml --list-orgs [--json]
    m3ter-conformance --list-rules [--json]                       # every rule and its evidence, checks nothing
    m3ter-conformance merge [--junit-xml PATH] [--report-json PATH] [--markdown PATH] [--expect NAME]... REPORT.json...

A command line argparse refuses still writes the reports it asks for (exit 2), with the problem in them:
the combined reports with ``--config``, a single run's without (:mod:`.failed_run`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from . import cli, failed_run


def build_parser(*, lenient: bool = False) -> argparse.ArgumentParser:
    """The single run's options, plus the config file's (``lenient``: as :func:`.cli.build_parser`)."""
    parser = cli.build_parser(lenient=lenient)
    parser.epilog = (parser.epilog or "") + (
        " With --config the exit code is the worst of the organizations'. "
        "`m3ter-conformance merge --help`: combine the JSON reports of several --config runs."
    )
    group = parser.add_argument_group("organizations (a config file)")
    group.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="check every [orgs.NAME] of this TOML file at once, each with its own credentials, rate and state",
    )
    group.add_argument(
        "--org", action="append", metavar="NAME", help="with --config: check only this organization (repeatable)"
    )
    group.add_argument("--list-orgs", action="store_true", help="with --config: list the organizations, check nothing")
    group.add_argument("--json", action="store_true", help="with --list-orgs or --list-rules: as JSON")
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="list every rule (name, severity, --strict-inferred severity, evidence kind and source), check nothing",
    )
    if lenient and isinstance(parser, failed_run.RecordingParser):
        failed_run.relax(parser)
    return parser


def refused(message: str, arguments: Sequence[str], environ: Mapping[str, str], console: Console) -> None:
    """A command line argparse refused: the reports it asks for (combined with ``--config``) say why."""
    requested = failed_run.report_paths(build_parser(lenient=True), arguments)
    problem = cli.usage_problem(message)
    if requested.config is None:
        cli.report_failure(problem, requested, environ, console)
    else:
        from . import multirun

        multirun.report_failure([problem], requested, console)


WIDE_LIST = 110
"""Terminal columns from which ``--list-rules`` shows each rule's source beside it."""


def list_rules(*, as_json: bool, console: Console) -> int:
    """``--list-rules``: every rule from :func:`~m3ter_contract.rules.registry.rule_table`, as a table or JSON."""
    from ..rules.registry import rule_table

    table = rule_table()
    if as_json:
        sys.stdout.write(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
        return 0
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = [
        (
            row["name"],
            row["severity"],
            row["strict_severity"],
            "+".join(dict.fromkeys([row["kind"], *(part["kind"] for part in row["also"])])),
            row["ref"],
        )
        for row in table
    ]
    shown = Table(title="m3ter conformance rules", box=box.SIMPLE_HEAVY)
    for index, column in enumerate(("rule", "severity", "strict", "kind")):
        shown.add_column(column, no_wrap=True, min_width=max(len(row[index]) for row in rows))
    wide = console.width >= WIDE_LIST  # narrower: the source would be squeezed to nothing
    if wide:
        shown.add_column("source", ratio=1, overflow="fold")
    for row in rows:
        shown.add_row(*map(Text, row if wide else row[:4]))
    console.print(shown)
    console.print(Text(f"{len(table)} rules; quotes and reasoning: --list-rules --json, or RULES.md"))
    return 0


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["merge"]:
        from . import merge

        return merge.main(arguments[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
        if args.list_rules and (args.config is not None or args.org or args.list_orgs):
            parser.error("--list-rules lists the rules of every run: no --config, --org or --list-orgs")
        if args.config is None and (args.org or args.list_orgs or (args.json and not args.list_rules)):
            parser.error("--org, --list-orgs and --json go with --config PATH (--json also with --list-rules)")
        if args.json and not (args.list_orgs or args.list_rules):
            parser.error("--json goes with --list-orgs or --list-rules (the reports of a run: --report-json PATH)")
    except SystemExit as stop:  # usage errors exit 2 here, after their reports are written
        message = getattr(parser, "last_error", None)
        if stop.code not in (0, None) and message is not None:
            refused(message, arguments, os.environ if environ is None else environ, Console(stderr=True))
        raise
    if args.list_rules:
        return list_rules(as_json=args.json, console=Console())
    if args.config is None:
        return cli.main(arguments, environ=environ)
    from . import multirun

    return multirun.main(args, environ)


if __name__ == "__main__":
    sys.exit(main())
