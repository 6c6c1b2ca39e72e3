"""The ``m3ter-conformance`` command: one run (:mod:`.cli`), every organization of a config file
(``--config PATH``, :mod:`.multirun`), or ``merge`` (:mod:`.merge`).

    m3ter-conformance [options]                                   # one target (see .cli)
    m3ter-conformance --config .ci/m3ter-orgs.toml [--org NAME]   # the organizations of a file, at once
    m3ter-conformance --config .ci/m3ter-orgs.toml --list-orgs [--json]
    m3ter-conformance merge [--junit-xml PATH] [--report-json PATH] [--markdown PATH] REPORT.json...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cli


def build_parser() -> argparse.ArgumentParser:
    """The single run's options, plus the config file's."""
    parser = cli.build_parser()
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
    group.add_argument("--json", action="store_true", help="with --list-orgs: as JSON (a CI job matrix)")
    return parser


def main(argv: Sequence[str] | None = None, *, environ: dict[str, str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["merge"]:
        from . import merge

        return merge.main(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    if args.config is None:
        if args.org or args.list_orgs or args.json:
            parser.error("--org, --list-orgs and --json go with --config PATH")
        return cli.main(arguments, environ=environ)
    if args.json and not args.list_orgs:
        parser.error("--json goes with --list-orgs (the reports of a run: --report-json PATH)")
    from . import multirun

    return multirun.main(args, environ)


if __name__ == "__main__":
    sys.exit(main())
