"""``m3ter-conformance``: does the live API (or the embedded sandbox) still keep our spec and m3ter's rules?

    m3ter-conformance                                   # the embedded sandbox on 127.0.0.1 (exit 0)
    M3TER_API_KEY=... M3TER_API_SECRET=... M3TER_ORG_ID=... \\
      m3ter-conformance --base-url https://api.m3ter.com --bill-id B1 --statement-job-id J1 \\
        --observe 3 --interval 10 --report-json report.json --junit-xml junit.xml --markdown summary.md

Exit codes: 0 no error findings (baseline findings aside), 1 error findings, 2 the check could not judge
everything (usage / configuration / connection / authentication, an entity that could not be read, an
internal failure, a report or the state that could not be written; the reports asked for are still written,
with the problem: :mod:`.failed_run`), 130 interrupted (the reports asked for are written with what was read
until then, marked interrupted: :mod:`.interrupted`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from m3ter_billing import ConfigurationError
from m3ter_billing.settings import ENV_API_KEY, ENV_API_SECRET, ENV_BASE_URL, ENV_ORG_ID, Settings
from rich.console import Console
from rich.text import Text

from ..about import VersionAction, spec_fingerprint
from ..rules import EXTERNAL_INVOICE_DATE_SETTINGS, Spec, SpecError
from ..rules.spec import SPEC_ENV, default_spec_path
from . import baseline, failed_run, interrupted, outputs, overlay, report
from .orgs import MAX_RATE, SLOWEST_RATE
from .progress import LogProgress, Traffic, terminal_bar
from .redact import clean, shown
from .runner import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE,
    FindingKey,
    Options,
    Problem,
    Progress,
    Runner,
    RunResult,
    Target,
)
from .state import DEFAULT_STATE, State, StateError

EXIT_OK, EXIT_FINDINGS, EXIT_PROBLEM = 0, 1, 2
EXIT_INTERRUPTED = interrupted.EXIT_INTERRUPTED
M3TER_ORG_RATE = 50.0
EMBEDDED_STATE_NOTE = (
    "the embedded sandbox is rebuilt on every run, so --state remembers nothing from one embedded run to the next"
)


class UsageProblem(Exception):
    """A configuration the check cannot run with; the message says what to fix."""


def _float(low: float, high: float, *, low_inclusive: bool = True) -> Callable[[str], float]:
    """A finite number in [low, high] (or (low, high]): NaN and infinities never reach the run."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        below = value < low if low_inclusive else value <= low
        if not math.isfinite(value) or below or value > high:
            bound = "at least" if low_inclusive else "more than"
            raise argparse.ArgumentTypeError(
                f"must be a finite number {bound} {low:g} and at most {high:g}, got {text}"
            )
        return value

    return parse


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value

    return parse


DAY = 86_400.0
_positive_float = _float(0.0, 1e6, low_inclusive=False)
_positive_int = _int(1, 10_000)


def _overlay_path(text: str) -> Path:
    try:
        overlay.overlay_format(Path(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


_Parser = failed_run.RecordingParser


def build_parser(*, lenient: bool = False) -> argparse.ArgumentParser:
    """The command line. ``lenient``: the same options with no conversion, no choices, nothing required, no
    help and no version, raising on error: to find the report paths of a command line argparse refused."""
    parser = _Parser(
        prog="m3ter-conformance",
        add_help=not lenient,
        description="Check that the m3ter API keeps the curated spec and m3ter's documented rules (read-only).",
        epilog="Credentials come from M3TER_API_KEY, M3TER_API_SECRET and M3TER_ORG_ID. "
        "Exit codes: 0 no errors, 1 error findings, 2 usage/configuration/connection/authentication (the "
        "requested reports still say why), 130 interrupted (the reports hold what was read, marked interrupted). "
        "Not a terminal: a progress line at most every 10 s.",
    )
    if not lenient:
        parser.add_argument("--version", action=VersionAction, extra=_spec_version)
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
    target.add_argument(
        "--spec",
        type=Path,
        help="the OpenAPI 3.0/3.1 spec to judge responses by, e.g. m3ter's published document (default: "
        f"${SPEC_ENV}, else the curated spec: spec/m3ter-billing.yaml in a checkout of the project, the copy "
        "packaged with the harness once installed; --version names it)",
    )
    target.add_argument(
        "--strict-inferred",
        action="store_true",
        help="report the findings of inferred rules (not stated by m3ter or a standard) as errors, not warnings",
    )
    target.add_argument(
        "--external-invoice-date",
        choices=EXTERNAL_INVOICE_DATE_SETTINGS,
        help="the organization's External invoice date setting: makes bill.external-invoice-date strict "
        "(default: inferred from the bills of the run; embedded: the sandbox's own setting)",
    )
    how = parser.add_argument_group("reading")
    how.add_argument(
        "--observe",
        type=_int(1, 1_000),
        default=1,
        metavar="N",
        help="read each entity N times (1 to 1000, default %(default)s)",
    )
    how.add_argument(
        "--interval",
        type=_float(0.0, DAY),
        default=1.0,
        metavar="S",
        help="seconds between reads (0 to 86400, default %(default)g)",
    )
    how.add_argument("--watch", action="store_true", help="follow statement jobs until they are terminal")
    how.add_argument(
        "--watch-interval",
        type=_float(0.0, 3_600.0, low_inclusive=False),
        default=2.0,
        metavar="S",
        help="seconds between watch reads (above 0, at most 3600; default %(default)g)",
    )
    how.add_argument(
        "--watch-timeout",
        type=_float(0.0, 7 * DAY, low_inclusive=False),
        default=300.0,
        metavar="S",
        help="seconds to watch a job at most (above 0, at most a week; default %(default)g)",
    )
    how.add_argument(
        "--rate",
        type=_float(SLOWEST_RATE, MAX_RATE),
        default=DEFAULT_RATE,
        metavar="R",
        help=f"requests per second at most (default {DEFAULT_RATE:g}; m3ter allows {M3TER_ORG_RATE:g} per org)",
    )
    how.add_argument(
        "--i-know-the-rate-limit",
        action="store_true",
        help=f"allow --rate above m3ter's {M3TER_ORG_RATE:g} requests/s per organization against a live API",
    )
    how.add_argument(
        "--concurrency",
        type=_int(1, 256),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"workers reading at once (1 to 256, default {DEFAULT_CONCURRENCY})",
    )
    how.add_argument(
        "--max-retries",
        type=_int(0, 20),
        default=DEFAULT_MAX_RETRIES,
        metavar="N",
        help=f"retries per request on 429/5xx/connection errors (0 to 20, default {DEFAULT_MAX_RETRIES})",
    )
    how.add_argument(
        "--no-statement-downloads",
        action="store_true",
        help="do not download and judge the statements behind a COMPLETE job's presigned URLs",
    )
    how.add_argument(
        "--allow-private-statement-hosts",
        action="store_true",
        help="download statements from loopback, link-local or private addresses too (refused by default: a "
        "statement URL comes from the server and must not point the check at your own network)",
    )
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
    out.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="accepted findings (entity, rule, path): reported as known, never failing",
    )
    out.add_argument("--write-baseline", type=Path, metavar="PATH", help="write this run's findings as a baseline file")
    out.add_argument(
        "--suggest-overlay",
        type=_overlay_path,
        metavar="PATH",
        help="write the drift seen (unknown fields with inferred types, unknown enum values) as an OpenAPI "
        "Overlay 1.0 document for the spec (.yaml, .yml or .json); apply it with an Overlay tool (in a checkout "
        "of the project: scripts/apply_overlay.py, which the installed harness does not include)",
    )
    out.add_argument(
        "--quiet",
        action="store_true",
        help=f"print only the first {report.QUIET_SHOWN} problems and findings (and how many more) and the verdict",
    )
    embedded = parser.add_argument_group("embedded sandbox (no --base-url)")
    embedded.add_argument(
        "--seed",
        type=_int(0, 2**63 - 1),
        default=0,
        help="seed of the sandbox's ids and bill content (0 to 2^63-1, default %(default)s)",
    )
    embedded.add_argument(
        "--extra-bills",
        type=_int(0, 100_000),
        default=0,
        metavar="N",
        help="add N generated bills (at most 100000, default %(default)s)",
    )
    embedded.add_argument(
        "--extra-statement-jobs",
        type=_int(0, 100_000),
        default=0,
        metavar="N",
        help="add N statement jobs (at most 100000, default %(default)s)",
    )
    if lenient:
        failed_run.relax(parser)
    return parser


def _spec_version() -> list[str]:
    """``--version``'s part about the spec a run judges by default (its file name and hash)."""
    try:
        return [f"spec {spec_fingerprint(default_spec_path())}"]
    except SpecError as exc:
        return [f"spec not found ({exc})"]


def read_ids_file(path: Path) -> tuple[list[str], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors write one) is dropped
    except OSError as exc:
        raise UsageProblem(f"cannot read --ids-file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(
            f"--ids-file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8 JSON or lines"
        ) from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageProblem(f"--ids-file {path} is not valid JSON: {exc}") from None
        except RecursionError:
            raise UsageProblem(f"--ids-file {path} is nested too deeply to read as JSON") from None
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


def _options(args: argparse.Namespace, *, embedded: bool) -> Options:
    if not embedded and args.rate > M3TER_ORG_RATE and not args.i_know_the_rate_limit:
        raise UsageProblem(
            f"--rate {args.rate:g} is above m3ter's limit of {M3TER_ORG_RATE:g} requests/s per organization, which "
            "every client of the organization shares (excess requests get 429 and slow everyone down): lower "
            "--rate, or pass --i-know-the-rate-limit if the organization's limit was raised"
        )
    return Options(
        observe=args.observe,
        interval=args.interval,
        watch=args.watch,
        watch_interval=args.watch_interval,
        watch_timeout=args.watch_timeout,
        rate=args.rate,
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        strict_inferred=args.strict_inferred,
        statement_downloads=not args.no_statement_downloads,
        allow_private_statement_hosts=args.allow_private_statement_hosts,
    )


def _text_setting(name: str, value: str) -> None:
    """Settings are text: refuse what no HTTP request can carry, naming where it came from (an option or an
    environment variable), never the value."""
    where, again = (
        ("on the command line", "pass it again") if name.startswith("--") else ("in the environment", "set it again")
    )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageProblem(f"{name} is not valid UTF-8 text (an undecodable byte {where}): {again}") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise UsageProblem(f"{name} holds a control character (a stray newline?): {again}")


_FALLS_BACK = {"base_url": ENV_BASE_URL, "org_id": ENV_ORG_ID}
"""Options an empty value would silently replace by an environment variable (or the embedded sandbox)."""


def refuse_empty(args: argparse.Namespace) -> None:
    """An option given an empty value (``--org-id ''``, a variable of a script that was not set) is a mistake,
    never a request for its default: refused, not replaced by the environment or the embedded sandbox."""
    for dest, variable in _FALLS_BACK.items():
        if getattr(args, dest, None) == "":
            raise UsageProblem(f"{_option(dest)} is empty: give a value, or leave it out to use {variable}")


def live_target(args: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    base_url = args.base_url or environ.get(ENV_BASE_URL, "")
    org_id = args.org_id or environ.get(ENV_ORG_ID, "")
    api_key, api_secret = environ.get(ENV_API_KEY, ""), environ.get(ENV_API_SECRET, "")
    missing = [
        name
        for name, value in ((ENV_ORG_ID, org_id), (ENV_API_KEY, api_key), (ENV_API_SECRET, api_secret))
        if not value
    ]
    if missing:
        raise UsageProblem(
            f"set {', '.join(missing)} to check {clean(base_url)} (credentials come from the environment)"
        )
    if not base_url.startswith(("http://", "https://")):
        raise UsageProblem(f"--base-url must be an http(s) URL, got {clean(base_url)!r}")
    settings = {
        "--base-url" if args.base_url else ENV_BASE_URL: base_url,
        "--org-id" if args.org_id else ENV_ORG_ID: org_id,
        ENV_API_KEY: api_key,
        ENV_API_SECRET: api_secret,
    }
    for name, value in settings.items():
        _text_setting(name, value)
    try:  # the client's own checks, before anything is sent: a URL with user-info, a query; an impossible org id
        Settings.resolve(base_url=base_url, org_id=org_id, api_key=api_key, api_secret=api_secret)
    except ConfigurationError as exc:
        raise UsageProblem(f"{clean(exc)}: check --base-url / {ENV_BASE_URL} and --org-id / {ENV_ORG_ID}") from None
    bills, jobs = list(args.bill_id), list(args.statement_job_id)
    if args.ids_file:
        more_bills, more_jobs = read_ids_file(args.ids_file)
        bills += more_bills
        jobs += more_jobs
    if not bills and not jobs:
        raise UsageProblem("nothing to check: give --bill-id / --statement-job-id (repeatable) or --ids-file")
    return Target(base_url.rstrip("/"), org_id, api_key, api_secret, tuple(bills), tuple(jobs))


def _state_path(args: argparse.Namespace, embedded: bool) -> Path | str | None:
    if args.no_state and args.state is not None:
        raise UsageProblem("--state does not go with --no-state: pass one of them")
    if args.no_state:
        return None
    if args.state is not None:
        return Path(args.state)
    return None if embedded else DEFAULT_STATE


_OUTPUTS = ("report_json", "junit_xml", "markdown", "write_baseline", "suggest_overlay")


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _writable(option: str, path: Path) -> None:
    """Refuse, before the run, a path no report could be written to (the message says which option)."""
    if path.is_dir():
        raise UsageProblem(f"cannot write {option} {path}: it is a directory; pass a writable path")
    parent = path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageProblem(f"cannot write {option} {path}: {existing} is not a directory; pass a writable path")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageProblem(f"cannot write {option} {path}: {existing} is not writable; pass a writable path")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageProblem(f"cannot write {option} {path}: the file is not writable; pass a writable path")
    why = outputs.unwritable(path)  # what the bits above cannot tell: root, /proc, a read-only file system
    if why is not None:
        raise UsageProblem(f"cannot write {option} {path}: {why}; pass a writable path")


def run_inputs(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """The files a single run reads, which no output may overwrite: (path, what it is)."""
    ids = [(args.ids_file, "the --ids-file")] if args.ids_file is not None else []
    return [*ids, spec_input(args)]


def spec_input(args: argparse.Namespace) -> tuple[Path, str]:
    """The spec the run judges by (``--spec``, else the default one), as an input no output may overwrite."""
    if args.spec is not None:
        return args.spec, "the --spec file"
    return default_spec_path(), f"the spec the check judges by (${SPEC_ENV} or the curated spec)"


def check_paths(
    args: argparse.Namespace, state_path: Path | str | None, inputs: Sequence[tuple[Path, str]] | None = None
) -> None:
    """Every output path (the reports, ``--write-baseline``, ``--suggest-overlay``, the state) writable, no two
    the same file, and none over an input (``inputs``, default: :func:`run_inputs`; and ``--baseline``, which
    only ``--write-baseline`` may rewrite), however a path is spelled (another spelling, a symbolic or hard
    link: :func:`.outputs.file_key`)."""
    protected = {outputs.file_key(path): what for path, what in (run_inputs(args) if inputs is None else inputs)}
    accepted = outputs.file_key(args.baseline) if getattr(args, "baseline", None) is not None else None
    seen: dict[Hashable, str] = {}
    named = [(_option(dest), getattr(args, dest)) for dest in _OUTPUTS]
    if isinstance(state_path, Path):
        named.append(("--state", state_path))
    for option, path in named:
        if path is None:
            continue
        key = outputs.file_key(path)
        if key in protected:
            raise UsageProblem(f"{option} {path} is {protected[key]}: pass another path")
        if key == accepted and option != "--write-baseline":
            raise UsageProblem(f"{option} {path} is the --baseline file: pass another path")
        _writable(option, path)
        if key in seen:
            raise UsageProblem(
                f"{seen[key]} and {option} are the same file ({path}): one would overwrite the other; "
                "pass different paths"
            )
        seen[key] = option


async def check(
    target: Target,
    options: Options,
    spec: Spec,
    *,
    state: State | None,
    console: Console | None,
    started: Callable[[Runner], None] | None = None,
) -> RunResult:
    """Run the check: with a progress bar on a terminal, a progress line at most every 10 s in a log (stderr
    not a terminal), nothing without a console (``--quiet``). The state is read here, saved by the caller.
    ``started`` gets the runner before it reads (what it observed is reported if the run is interrupted)."""
    remembered = state.remembered() if state is not None else None

    def runner(progress: Progress | None = None) -> Runner:
        made = Runner(target, options, spec, remembered=remembered, progress=progress)
        if started is not None:
            started(made)
        return made

    if console is None:
        result = await runner().run()
    elif not console.is_terminal:
        result = await _logged(target, options, console, runner)
    else:
        with terminal_bar(console) as progress:
            result = await runner(progress).run()
    if state is not None:
        result.notes.extend(state.notes)
    return result


async def _logged(target: Target, options: Options, console: Console, make: Callable[[Progress], Runner]) -> RunResult:
    """The run with :class:`~.progress.LogProgress` lines on ``console`` (a log, not a terminal)."""

    def write(line: str) -> None:
        console.print(Text(line), highlight=False, soft_wrap=True)

    log = LogProgress(write, target.counts())
    log.planned = sum(log.totals.values()) * options.observe  # until the first read says more (--watch)
    runner = make(log)
    log.finished = lambda: runner.finished
    log.traffic = lambda: Traffic(sum(runner.guard.sent.values()), runner.guard.statuses[429])
    heartbeat = asyncio.create_task(log.heartbeat())
    try:
        return await runner.run()
    finally:
        heartbeat.cancel()
        with suppress(asyncio.CancelledError):
            await heartbeat


def _writers() -> dict[str, Callable[[RunResult, TextIO, Path], None]]:
    return {
        "--report-json": lambda result, handle, _: report.write_json(result, handle),
        "--junit-xml": _text(report.junit_xml),
        "--markdown": _text(report.markdown),
        "--write-baseline": _text(baseline.dump),
        "--suggest-overlay": lambda result, handle, path: handle.write(overlay.text(result, path)),
    }


def write_reports(result: RunResult, args: argparse.Namespace) -> list[str]:
    """Write the reports asked for, each on its own; the ones that could not be written, with what to fix."""
    paths = {option: getattr(args, option[2:].replace("-", "_")) for option in _writers()}
    return write_outputs(result, {option: path for option, path in paths.items() if path is not None})


def write_final(result: RunResult, args: argparse.Namespace, state: State | None) -> list[str]:
    """Write the outputs asked for, then save the state. A report or the state not written makes the exit code
    2: its failure becomes a problem of ``result`` (first, so ``--quiet`` never hides it behind "and N more"),
    and the reports already written are written again with it, so none says "pass" (see
    :func:`.outputs.write_stating_outcome`); every failure."""
    paths = {option: path for option in _writers() if (path := getattr(args, option[2:].replace("-", "_")))}
    before = list(result.problems)

    def stating(failures: Sequence[str]) -> None:
        result.problems = [*(Problem("config", failure) for failure in failures), *before]

    def render(failures: Sequence[str]) -> list[outputs.Output]:
        stating(failures)
        return _outputs(result, paths)

    def save() -> list[str]:
        if state is None:
            return []
        try:
            state.save(result.last.values())
        except StateError as exc:
            return [f"{exc} (this run's observations were not remembered)"]
        return []

    failures = outputs.write_stating_outcome(render, [option for _, option in failed_run.REPORTS], save)
    stating(failures)  # also when no report was left to write again: the verdict and the exit code say so
    return failures


def _outputs(result: RunResult, paths: Mapping[str, Path]) -> list[outputs.Output]:
    """What writes ``result`` to each ``option -> path``."""
    writers = _writers()

    def writer(option: str, path: Path) -> Callable[[TextIO], None]:
        return lambda handle: writers[option](result, handle, path)

    return [(option, path, writer(option, path)) for option, path in paths.items()]


def write_outputs(result: RunResult, paths: Mapping[str, Path]) -> list[str]:
    """Write ``result`` to each ``option -> path``; the ones that could not be written, with what to fix."""
    return outputs.write_outputs(_outputs(result, paths))


def _text(render: Callable[[RunResult], str]) -> Callable[[RunResult, TextIO, Path], None]:
    def write(result: RunResult, handle: TextIO, path: Path) -> None:
        handle.write(render(result))

    return write


def report_failure(
    problem: Problem, requested: failed_run.Requested, environ: Mapping[str, str], console: Console
) -> None:
    """Exit 2 before the run: every requested report (at a usable path) says why; stderr says which were not."""
    paths, skipped = failed_run.usable(requested, _writable)
    result = failed_run.failed_result(problem, requested, environ)
    for line in [*write_outputs(result, paths), *skipped]:
        _say(console, "m3ter-conformance:", line)


def usage_problem(message: str) -> Problem:
    """The problem of a command line argparse refused (``message`` is argparse's)."""
    return Problem("usage", f"{message} (m3ter-conformance --help lists the options)")


def target_line(target: Target, options: Options) -> str:
    """The one line naming what is checked, printed before the run."""
    where = f"embedded sandbox at {target.base_url}" if target.embedded else shown(target.base_url)
    counts = target.counts()
    bills, jobs = counts["bill"], counts["statement_job"]
    reads = f"observe {options.observe}x" + (f" every {options.interval:g}s" if options.observe > 1 else "")
    watch = (
        f"watch jobs every {options.watch_interval:g}s up to {options.watch_timeout:g}s"
        if options.watch
        else "no watch"
    )
    return (
        f"checking {where} · org {shown(target.org_id)} · {bills} bill(s), {jobs} statement job(s) · {reads} · "
        f"{watch} · at most {options.rate:g} requests/s"
    )


def _say(console: Console, label: str, message: str) -> None:
    """An error: the label styled, the message as plain text (server text is never markup). A message of
    several lines (a config file's mistakes, one a line) keeps them, each indented under the first, so none
    can pass for a line of the check's own (a verdict)."""
    first, *rest = message.split("\n")
    line = Text(label, style="bold red")
    line.append(f" {shown(first)}")
    for more in rest:
        line.append(f"\n  {shown(more)}")
    console.print(line, highlight=False, soft_wrap=True)


class _Session:
    """What one invocation has produced so far: an internal failure after the run still reports its findings,
    an interrupted run what its runner observed."""

    result: RunResult | None = None
    runner: Runner | None = None
    accepted: frozenset[FindingKey] = frozenset()
    state: State | None = None

    def started(self, runner: Runner) -> None:
        self.runner = runner


def _interrupted_result(
    session: _Session, problem: Problem, requested: failed_run.Requested, env: Mapping[str, str]
) -> RunResult:
    """What an interrupted run observed (nothing when it had not started reading), with ``problem``."""
    if session.result is None and session.runner is None:
        return failed_run.failed_result(problem, requested, env)
    if session.result is not None:
        result = session.result
    else:
        assert session.runner is not None
        result = session.runner.partial()
        result.baseline = session.accepted
        if session.runner.result is None:
            result.notes.append(interrupted.NOT_JUDGED)
        if session.state is not None:
            result.notes.extend(session.state.notes)
    result.problems.append(problem)
    return result


def write_interrupted(
    session: _Session, args: argparse.Namespace, env: Mapping[str, str]
) -> Callable[[Problem], list[str]]:
    """The writer :func:`.interrupted.handle` calls: the reports of what was observed, at usable paths."""

    def write(problem: Problem) -> list[str]:
        requested = failed_run.from_namespace(args)
        paths, skipped = failed_run.usable(requested, _writable)
        result = _interrupted_result(session, problem, requested, env)
        later = {
            option: getattr(args, dest)
            for option, dest in (("--write-baseline", "write_baseline"), ("--suggest-overlay", "suggest_overlay"))
        }
        return [*write_outputs(result, paths), *skipped, *interrupted.not_written(later)]

    return write


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    arguments = sys.argv[1:] if argv is None else list(argv)
    env = os.environ if environ is None else environ
    console = Console(stderr=True)
    out = Console()
    try:
        args = parser.parse_args(arguments)  # usage errors exit 2 here, after their reports are written
    except SystemExit as stop:
        message = getattr(parser, "last_error", None)
        if stop.code not in (0, None) and message is not None:
            requested = failed_run.report_paths(build_parser(lenient=True), arguments)
            report_failure(usage_problem(message), requested, env, console)
        raise
    session = _Session()
    try:
        return _main(args, env, console, out, session)
    except KeyboardInterrupt:
        return interrupted.handle(
            lambda line: _say(console, "m3ter-conformance:", line), write_interrupted(session, args, env)
        )
    except Exception as exc:  # never a traceback and exit 1 (which means "the API broke a rule")
        message, problem = failed_run.internal_failure(exc)
        _say(console, "m3ter-conformance: internal error:", message)
        if session.result is None:
            report_failure(problem, failed_run.from_namespace(args), env, console)
        else:
            session.result.problems.append(problem)
            for failure in write_reports(session.result, args):
                _say(console, "m3ter-conformance:", failure)
        return EXIT_PROBLEM


def _main(args: argparse.Namespace, env: Mapping[str, str], console: Console, out: Console, session: _Session) -> int:
    state: State | None = None
    try:
        refuse_empty(args)
        spec = Spec.load(args.spec)
        embedded = not (args.base_url or env.get(ENV_BASE_URL))
        options = _options(args, embedded=embedded)
        check_paths(args, _state_path(args, embedded))
        accepted = baseline.load(args.baseline) if args.baseline is not None else frozenset()
        session.accepted = accepted
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
            if args.external_invoice_date:
                target = replace(target, external_invoice_date=args.external_invoice_date)
            path = _state_path(args, embedded)
            if path is not None:
                # The embedded sandbox is built afresh each run (new timestamps on its wall clock): its state is
                # scoped to this run's URL, so one run never judges another sandbox's entities as the same.
                state = session.state = State(path, target.base_url, target.org_id)
                stack.callback(state.close)
                if embedded:
                    state.notes.append(EMBEDDED_STATE_NOTE)

            async def announced() -> RunResult:
                # The line is printed from the running event loop: a Ctrl-C after it (what a user or a test
                # sees as "the run has started") never lands in the middle of setting the loop up.
                if not args.quiet:
                    out.print(Text(target_line(target, options)), highlight=False, soft_wrap=True)
                return await check(
                    target, options, spec, state=state, console=None if args.quiet else console, started=session.started
                )

            result = asyncio.run(announced())
            session.result = result
            result.baseline = accepted
            gone = baseline.unused(result)
            if gone:
                result.notes.append(
                    f"{gone} baseline finding(s) no longer seen: fixed, or not read this run; rewrite the baseline "
                    "with --write-baseline to ratchet"
                )
            write_final(result, args, state)
    except (UsageProblem, SpecError, StateError, baseline.BaselineError) as exc:
        _say(console, "m3ter-conformance:", str(exc))
        if session.result is None:
            report_failure(Problem("config", str(exc)), failed_run.from_namespace(args), env, console)
        return EXIT_PROBLEM
    if not args.quiet:
        report.print_summary(result, out)
    else:  # the first problems (stderr), the first findings and the verdict (stdout)
        for stream, lines in ((console, report.quiet_problems(result)), (out, report.quiet_findings(result))):
            for line in lines:
                stream.print(line, highlight=False, soft_wrap=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
