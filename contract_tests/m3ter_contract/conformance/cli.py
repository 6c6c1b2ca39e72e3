"""``m3ter-conformance``: does the live API (or the embedded sandbox) still keep our spec and m3ter's rules?

    m3ter-conformance                                   # the embedded sandbox on 127.0.0.1 (exit 0)
    M3TER_API_KEY=... M3TER_API_SECRET=... M3TER_ORG_ID=... \\
      m3ter-conformance --base-url https://api.m3ter.com --bill-id B1 --statement-job-id J1 \\
        --observe 3 --interval 10 --report-json report.json --junit-xml junit.xml --markdown summary.md

Exit codes: 0 no error findings, 1 error findings, 2 usage / configuration / connection / authentication.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from m3ter_billing._settings import ENV_API_KEY, ENV_API_SECRET, ENV_BASE_URL, ENV_ORG_ID
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..rules import Finding, Spec, SpecError
from . import report
from .runner import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_RATE, Options, RunResult, Target, run
from .state import DEFAULT_STATE, State, StateError

EXIT_OK, EXIT_FINDINGS, EXIT_PROBLEM = 0, 1, 2
M3TER_ORG_RATE = 50.0


class UsageProblem(Exception):
    """A configuration the check cannot run with; the message says what to fix."""


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="m3ter-conformance",
        description="Check that the m3ter API keeps the curated spec and m3ter's documented rules (read-only).",
        epilog="Credentials come from M3TER_API_KEY, M3TER_API_SECRET and M3TER_ORG_ID. "
        "Exit codes: 0 no errors, 1 error findings, 2 usage/configuration/connection/authentication.",
    )
    target = parser.add_argument_group("target")
    target.add_argument("--base-url", help=f"the API to check (or {ENV_BASE_URL}); none: the embedded sandbox")
    target.add_argument("--org-id", help=f"the organization (default: {ENV_ORG_ID})")
    target.add_argument("--bill-id", action="append", default=[], metavar="ID", help="a bill to read (repeatable)")
    target.add_argument(
        "--statement-job-id", action="append", default=[], metavar="ID", help="a statement job to read (repeatable)"
    )
    target.add_argument(
        "--ids-file",
        type=Path,
        help='ids from a file: JSON {"bills": [...], "statement_jobs": [...]}, or lines "bill ID" / "statement_job ID"',
    )
    target.add_argument("--spec", type=Path, help="the OpenAPI spec (default: spec/m3ter-billing.yaml)")
    how = parser.add_argument_group("reading")
    how.add_argument("--observe", type=_positive_int, default=1, metavar="N", help="read each entity N times")
    how.add_argument("--interval", type=_non_negative_float, default=1.0, metavar="S", help="seconds between reads")
    how.add_argument("--watch", action="store_true", help="follow statement jobs until they are terminal")
    how.add_argument("--watch-interval", type=_positive_float, default=2.0, metavar="S")
    how.add_argument("--watch-timeout", type=_positive_float, default=300.0, metavar="S")
    how.add_argument(
        "--rate",
        type=_positive_float,
        default=DEFAULT_RATE,
        metavar="R",
        help=f"requests per second at most (default {DEFAULT_RATE:g}; m3ter allows {M3TER_ORG_RATE:g} per org)",
    )
    how.add_argument("--concurrency", type=_positive_int, default=DEFAULT_CONCURRENCY, metavar="N")
    how.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES, metavar="N")
    out = parser.add_argument_group("state and reports")
    out.add_argument(
        "--state",
        type=Path,
        help=f"SQLite file remembering what earlier runs saw (default {DEFAULT_STATE}; embedded: none)",
    )
    out.add_argument("--no-state", action="store_true", help="remember nothing between runs")
    out.add_argument("--report-json", type=Path, metavar="PATH")
    out.add_argument("--junit-xml", type=Path, metavar="PATH")
    out.add_argument("--markdown", type=Path, metavar="PATH", help="Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    out.add_argument("--quiet", action="store_true", help="no progress and no summary table")
    embedded = parser.add_argument_group("embedded sandbox (no --base-url)")
    embedded.add_argument("--seed", type=int, default=0)
    embedded.add_argument("--extra-bills", type=int, default=0, metavar="N", help="add N generated bills")
    embedded.add_argument("--extra-statement-jobs", type=int, default=0, metavar="N", help="add N statement jobs")
    return parser


def read_ids_file(path: Path) -> tuple[list[str], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read --ids-file {path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageProblem(f"--ids-file {path} is not valid JSON: {exc}") from None
        bills, jobs = data.get("bills", []), data.get("statement_jobs", [])
        if not (isinstance(bills, list) and isinstance(jobs, list)) or not all(
            isinstance(i, str) for i in [*bills, *jobs]
        ):
            raise UsageProblem(f'--ids-file {path}: expected {{"bills": [ids], "statement_jobs": [ids]}}')
        return bills, jobs
    bills, jobs = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) != 2 or parts[0] not in ("bill", "statement_job"):
            raise UsageProblem(f'--ids-file {path}:{number}: expected "bill ID" or "statement_job ID"')
        (bills if parts[0] == "bill" else jobs).append(parts[1])
    return bills, jobs


def _options(args: argparse.Namespace) -> Options:
    if args.max_retries < 0:
        raise UsageProblem("--max-retries must not be negative")
    return Options(
        observe=args.observe,
        interval=args.interval,
        watch=args.watch,
        watch_interval=args.watch_interval,
        watch_timeout=args.watch_timeout,
        rate=args.rate,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
    )


def live_target(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> Target:
    base_url = args.base_url or environ.get(ENV_BASE_URL, "")
    org_id = args.org_id or environ.get(ENV_ORG_ID, "")
    api_key, api_secret = environ.get(ENV_API_KEY, ""), environ.get(ENV_API_SECRET, "")
    missing = [
        name
        for name, value in ((ENV_ORG_ID, org_id), (ENV_API_KEY, api_key), (ENV_API_SECRET, api_secret))
        if not value
    ]
    if missing:
        raise UsageProblem(f"set {', '.join(missing)} to check {base_url} (credentials come from the environment)")
    if not base_url.startswith(("http://", "https://")):
        raise UsageProblem(f"--base-url must be an http(s) URL, got {base_url!r}")
    bills, jobs = list(args.bill_id), list(args.statement_job_id)
    if args.ids_file:
        more_bills, more_jobs = read_ids_file(args.ids_file)
        bills += more_bills
        jobs += more_jobs
    if not bills and not jobs:
        raise UsageProblem("nothing to check: give --bill-id / --statement-job-id (repeatable) or --ids-file")
    return Target(base_url.rstrip("/"), org_id, api_key, api_secret, tuple(bills), tuple(jobs))


def _state_path(args: argparse.Namespace, embedded: bool) -> Path | str | None:
    if args.no_state:
        return None
    if args.state is not None:
        return Path(args.state)
    return None if embedded else DEFAULT_STATE


async def check(
    target: Target, options: Options, spec: Spec, *, state: State | None, console: Console | None
) -> RunResult:
    remembered = state.remembered() if state is not None else None
    if console is None or not console.is_terminal:
        result = await run(target, options, spec, remembered=remembered)
    else:
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
                        bar.console.print(f"[red]error[/] {f.rule} {f.entity_id} {f.path}: {f.message}")
                bar.update(task, completed=done, total=planned, errors=counts["error"], warnings=counts["warning"])

            result = await run(target, options, spec, remembered=remembered, progress=progress)
    if state is not None:
        state.save(result.last.values())
    return result


def write_reports(result: RunResult, args: argparse.Namespace) -> None:
    for path, text in (
        (args.report_json, report.json_text(result) if args.report_json else ""),
        (args.junit_xml, report.junit_xml(result) if args.junit_xml else ""),
        (args.markdown, report.markdown(result) if args.markdown else ""),
    ):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None, *, environ: dict[str, str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here
    env = os.environ if environ is None else environ
    console = Console(stderr=True)
    out = Console()
    try:
        spec = Spec.load(args.spec)
        options = _options(args)
        embedded = not (args.base_url or env.get(ENV_BASE_URL))
        with ExitStack() as stack:
            if embedded:
                from .embedded import start_embedded

                if args.bill_id or args.statement_job_id or args.ids_file:
                    raise UsageProblem("entity ids need --base-url: the embedded sandbox checks its own entities")
                target = stack.enter_context(
                    start_embedded(seed=args.seed, extra_bills=args.extra_bills, extra_jobs=args.extra_statement_jobs)
                )
            else:
                target = live_target(args, env)
            path = _state_path(args, embedded)
            state = State(path, target.base_url, target.org_id) if path is not None else None
            if state is not None:
                stack.callback(state.close)
            result = asyncio.run(check(target, options, spec, state=state, console=None if args.quiet else console))
    except (UsageProblem, SpecError, StateError) as exc:
        console.print(f"[bold red]m3ter-conformance:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_PROBLEM
    write_reports(result, args)
    if not args.quiet:
        report.print_summary(result, out)
    elif result.problems:
        for problem in result.problems:
            console.print(f"[bold red]{problem.kind}:[/] {problem.message}", highlight=False, soft_wrap=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
