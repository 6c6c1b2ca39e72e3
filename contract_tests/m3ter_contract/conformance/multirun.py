"""``m3ter-conformance --config PATH``: every organization of the file in one process, at the same time.

Each organization gets its own credentials (from the variables its table names), client, rate limit (its
``rate``, paced on its own), state scope (base URL and organization id, in the one ``--state`` file) and
baseline. An organization that cannot be checked (a variable not set, an unreadable ids file, refused
credentials, a server that is down) is a problem (exit 2) of that organization only; the others run, and
the combined report (:mod:`.combined`) shows every one. The exit code is the worst of the organizations'.

As a single run: a run that cannot start (a mistake in the file, an unknown ``--org``, an unusable
``--state`` or ``--spec``, a single-run option) still writes the combined reports asked for, with the
problem as the run's own (:func:`report_failure`); a log gets a progress line at most every 10 s with the
counts of all organizations (a terminal, the single run's bar); ``--quiet`` prints the first problems and
findings, each organization's verdict and the verdict over all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from m3ter_billing.settings import ENV_API_KEY, ENV_API_SECRET, ENV_BASE_URL, ENV_ORG_ID
from rich.console import Console
from rich.text import Text

from ..rules import Observation, Spec, SpecError
from ..rules.registry import EntityKey
from . import baseline, combined, failed_run, interrupted, overlay
from .cli import (
    EMBEDDED_STATE_NOTE,
    EXIT_PROBLEM,
    UsageProblem,
    _options,
    _say,
    _state_path,
    _text_setting,
    _writable,
    check_paths,
    live_target,
    spec_input,
    target_line,
)
from .combined import OrgResult
from .orgs import ConfigError, OrgConfig, load, matrix, select
from .outputs import Output, write_outputs, write_stating_outcome
from .progress import LogProgress, OrgsProgress, Traffic, terminal_bar
from .redact import clean
from .runner import FindingKey, Options, Problem, Runner, RunResult, Target
from .state import State, StateError

NOT_WITH_CONFIG = {
    "base_url": "base_url",
    "org_id": "org_id_env",
    "bill_id": "ids_file",
    "statement_job_id": "ids_file",
    "ids_file": "ids_file",
    "baseline": "baseline",
    "external_invoice_date": "external_invoice_date",
    "seed": "seed",
    "extra_bills": None,
    "extra_statement_jobs": None,
}
"""Options of a single run that ``--config`` takes per organization (the key to use instead), or not at all."""


@dataclass(slots=True)
class OrgRun:
    """An organization ready to be checked."""

    name: str
    target: Target
    options: Options
    remembered: Mapping[EntityKey, Observation] | None = None
    baseline: frozenset[FindingKey] = frozenset()
    transport: httpx.AsyncBaseTransport | None = None
    """Replaces the network (tests: a sandbox's ASGI app)."""
    state: State | None = None
    notes: list[str] = field(default_factory=list)


def refused(org: OrgConfig, message: str, *, org_id: str = "") -> OrgResult:
    """The result of an organization that could not be checked at all: one ``config`` problem."""
    result = RunResult(
        base_url="embedded sandbox" if org.embedded else org.base_url,
        org_id=org_id,
        embedded=org.embedded,
        entities={"bill": 0, "statement_job": 0},
        problems=[Problem("config", f"[orgs.{org.name}]: {clean(message)}")],
    )
    return OrgResult(org.name, result)


async def run_orgs(
    items: Sequence[OrgRun | OrgResult],
    spec: Spec,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    progress: OrgsProgress | None = None,
    runners: dict[str, Runner] | None = None,
) -> list[OrgResult]:
    """Check every :class:`OrgRun` at the same time (one task each); results in the order given. A failure of
    the check itself while running one organization is an ``internal`` problem of that organization.
    ``progress`` gets each organization's reads; ``runners`` (when given) each organization's runner."""

    async def one(item: OrgRun | OrgResult) -> OrgResult:
        if isinstance(item, OrgResult):
            return item
        try:
            runner = Runner(
                item.target,
                item.options,
                spec,
                transport=item.transport,
                remembered=item.remembered,
                progress=progress.on_read(item.name) if progress is not None else None,
                sleep=sleep,
                clock=clock,
            )
            if runners is not None:
                runners[item.name] = runner
            result = await runner.run()
        except Exception as exc:
            result = _nothing_read(item)
            result.problems.append(
                Problem(
                    "internal",
                    f"m3ter-conformance could not check this organization: {type(exc).__name__}: {clean(exc)} "
                    "(a bug of the check, not a finding about the API; please report it)",
                )
            )
        return _org_result(item, result)

    return list(await asyncio.gather(*(one(item) for item in items)))


def _nothing_read(item: OrgRun) -> RunResult:
    return RunResult(item.target.base_url, item.target.org_id, item.target.embedded, item.target.counts())


def _org_result(item: OrgRun, result: RunResult) -> OrgResult:
    """An organization's result with its baseline and notes (the baseline findings no longer seen)."""
    result.baseline = item.baseline
    result.notes.extend(item.notes)
    gone = baseline.unused(result)
    if gone:
        result.notes.append(
            f"{gone} baseline finding(s) no longer seen: fixed, or not read this run; rewrite the baseline "
            "with --write-baseline to ratchet"
        )
    return OrgResult(item.name, result)


def interrupted_results(items: Sequence[OrgRun | OrgResult], runners: Mapping[str, Runner]) -> list[OrgResult]:
    """What every organization had observed when the run was interrupted: an organization whose check had
    finished as it finished, one still running (or not started) with what its runner read and the
    ``interrupted`` problem (never a pass)."""
    results = []
    for item in items:
        if isinstance(item, OrgResult):
            results.append(item)
            continue
        runner = runners.get(item.name)
        if runner is not None and runner.result is not None:
            # Finished: run_orgs has made it an organization's result already (baseline, notes); asyncio.run
            # delivers Ctrl-C at an await, never between the end of runner.run() and that.
            finished = OrgResult(item.name, runner.result)
        else:
            result = runner.partial() if runner is not None else _nothing_read(item)
            result.problems.append(interrupted.org_problem())
            result.notes.append(interrupted.NOT_JUDGED)
            finished = _org_result(item, result)
        if item.state is not None:  # what the run adds after asyncio.run returns, which it did not
            finished.result.notes.extend(item.state.notes)
        results.append(finished)
    return results


def _traffic(runners: Mapping[str, Runner]) -> Traffic:
    """Requests sent and 429 answers so far, over every organization."""
    guards = [runner.guard for runner in runners.values()]
    return Traffic(sum(sum(g.sent.values()) for g in guards), sum(g.statuses[429] for g in guards))


async def check(
    items: Sequence[OrgRun | OrgResult],
    spec: Spec,
    console: Console | None,
    runners: dict[str, Runner] | None = None,
) -> list[OrgResult]:
    """Run the organizations at once: on a terminal with the single run's bar, in a log with a progress line
    at most every 10 s (the counts of all organizations, then each one's reads), without a console
    (``--quiet``) silently. ``runners`` (when given) gets each organization's runner as it starts."""
    runs = [item for item in items if isinstance(item, OrgRun)]
    planned = {item.name: sum(item.target.counts().values()) * item.options.observe for item in runs}
    runners = {} if runners is None else runners
    if console is None or not runs:
        return await run_orgs(items, spec, runners=runners)
    if console.is_terminal:
        with terminal_bar(console) as on_read:
            return await run_orgs(items, spec, progress=OrgsProgress(on_read, planned), runners=runners)

    def write(line: str) -> None:
        console.print(Text(line), highlight=False, soft_wrap=True)

    totals: Counter[str] = Counter()
    for item in runs:
        totals.update(item.target.counts())
    log = LogProgress(write, {kind: totals[kind] for kind in ("bill", "statement_job")})
    log.finished = lambda: sum((Counter(runner.finished) for runner in runners.values()), Counter[str]())
    log.traffic = lambda: _traffic(runners)
    per_org = OrgsProgress(log, planned)
    heartbeat = asyncio.create_task(log.heartbeat())
    try:
        return await run_orgs(items, spec, progress=per_org, runners=runners)
    finally:
        heartbeat.cancel()
        with suppress(asyncio.CancelledError):
            await heartbeat


def _credentials(org: OrgConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The organization's settings under the client's names, from the variables its table names."""
    missing = [name for name in org.credential_names() if not environ.get(name)]
    if missing:
        raise UsageProblem(
            f"set {', '.join(missing)}: the table names {'it' if len(missing) == 1 else 'them'} as the "
            "variable(s) holding this organization's credentials"
        )
    values = {}
    for client_name, name in zip((ENV_ORG_ID, ENV_API_KEY, ENV_API_SECRET), org.credential_names(), strict=True):
        _text_setting(name, environ[name])
        values[client_name] = environ[name]
    return {ENV_BASE_URL: org.base_url, **values}


def prepare(
    org: OrgConfig, args: argparse.Namespace, environ: Mapping[str, str], stack: ExitStack
) -> OrgRun | OrgResult:
    """The organization's target, options and baseline; a :class:`OrgResult` with the problem when it has none."""
    org_id = "" if org.embedded else environ.get(org.org_id_env, "")
    where = f"[orgs.{org.name}] of the --config file"
    try:
        rate = org.rate if org.rate is not None else args.rate
        options = _options(argparse.Namespace(**{**vars(args), "rate": rate}), embedded=org.embedded)
        accepted = baseline.load(org.baseline) if org.baseline is not None else frozenset()
        if org.embedded:
            from .embedded import start_embedded

            target = stack.enter_context(start_embedded(seed=org.seed))
        else:
            plain = argparse.Namespace(
                base_url=org.base_url, org_id=None, bill_id=[], statement_job_id=[], ids_file=org.ids_file
            )
            target = live_target(plain, _credentials(org, environ))
            target = replace(target, credential_names=org.credential_names(), base_url_from=f"base_url in {where}")
    except (UsageProblem, baseline.BaselineError) as exc:
        return refused(org, str(exc), org_id=org_id)
    if org.external_invoice_date:
        target = replace(target, external_invoice_date=org.external_invoice_date)
    return OrgRun(org.name, target, options, baseline=accepted)


def _refuse_single_run_options(args: argparse.Namespace, count: int) -> None:
    for dest, key in NOT_WITH_CONFIG.items():
        value = getattr(args, dest, None)
        if value:
            option = "--" + dest.replace("_", "-")
            where = f"set `{key}` in the organization's table" if key else "it does not apply to a --config run"
            raise UsageProblem(f"{option} does not go with --config: {where}")
    if args.write_baseline is not None and count != 1:
        raise UsageProblem(
            f"--write-baseline writes one organization's findings, and this run checks {count}: add --org NAME"
        )


def _inputs(args: argparse.Namespace, chosen: Sequence[OrgConfig]) -> list[tuple[Path, str]]:
    """What the run reads, which no output may overwrite: the config file, the files it names, the spec."""
    inputs = [(args.config, "the --config file"), spec_input(args)]
    for org in chosen:
        inputs += [(path, f"a file [orgs.{org.name}] names") for path in (org.ids_file, org.baseline) if path]
    return inputs


def _same_org(runs: Sequence[OrgRun]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for item in runs:
        key = (item.target.base_url, item.target.org_id)
        if key in seen:
            raise UsageProblem(
                f"[orgs.{seen[key]}] and [orgs.{item.name}] both check organization {clean(key[1])} at "
                f"{clean(key[0])}: they would share its rate limit and its state; keep one"
            )
        seen[key] = item.name


def list_orgs(args: argparse.Namespace, out: Console) -> int:
    orgs = select(load(args.config), args.org or [], source=str(args.config))
    if args.json:
        print(json.dumps(matrix(orgs)))
        return 0
    for org in orgs:
        entry = org.matrix_entry()
        parts = [
            f"embedded sandbox (seed {org.seed})" if org.embedded else org.base_url,
            *([f"ids {entry['ids_file']}"] if entry["ids_file"] else []),
            f"{org.rate:g}/s" if org.rate is not None else f"{args.rate:g}/s (--rate)",
            *([] if org.embedded else [f"credentials from {', '.join(org.credential_names())}"]),
            f"environment {org.environment}",
        ]
        out.print(Text(f"{org.name}: {' · '.join(parts)}"), highlight=False, soft_wrap=True)
    return 0


def report_outputs(
    paths: Mapping[str, Path | None], results: Sequence[OrgResult], problems: Sequence[Problem] = ()
) -> list[Output]:
    """The combined reports asked for (``paths``: ``--report-json``, ``--junit-xml``, ``--markdown`` -> path or
    None); ``problems`` are the run's own."""
    return [
        ("--report-json", paths.get("--report-json"), lambda handle: combined.write_json(results, handle, problems)),
        ("--junit-xml", paths.get("--junit-xml"), lambda handle: handle.write(combined.junit_xml(results, problems))),
        ("--markdown", paths.get("--markdown"), lambda handle: handle.write(combined.markdown(results, problems))),
    ]


def requested_reports(args: argparse.Namespace) -> dict[str, Path | None]:
    """The report paths of a parsed command line, by option."""
    return {option: getattr(args, dest) for dest, option in failed_run.REPORTS}


def report_failure(
    problems: Sequence[Problem], requested: failed_run.Requested, console: Console, label: str = "m3ter-conformance:"
) -> None:
    """Exit 2 before the run (or of ``merge``): every requested combined report at a usable path holds the
    ``problems`` as the run's own; stderr says which reports were not written. Never over the config file
    or a file it names (when it loads)."""
    for line in _report_lines(problems, requested):
        _say(console, label, line)


def _report_lines(
    problems: Sequence[Problem], requested: failed_run.Requested, results: Sequence[OrgResult] = ()
) -> list[str]:
    """Write the combined reports of ``results`` with the run's ``problems`` to every usable requested path
    (never the config file or a file it names, when it loads); the lines about reports not written."""
    if requested.config is not None:
        with suppress(ConfigError):
            for org in load(requested.config):
                requested.inputs += [path for path in (org.ids_file, org.baseline) if path is not None]
    paths, skipped = failed_run.usable(requested, _writable)
    return [*write_outputs(report_outputs(dict(paths), results, problems)), *skipped]


def print_quiet(results: Sequence[OrgResult], console: Console, out: Console, problems: Sequence[Problem] = ()) -> None:
    """``--quiet``: the first problems (stderr), the first findings and the verdicts (stdout), as a single run."""
    pairs = ((console, combined.quiet_problems(results, problems)), (out, combined.quiet_findings(results, problems)))
    for stream, lines in pairs:
        for line in lines:
            stream.print(line, highlight=False, soft_wrap=True)


def _write(args: argparse.Namespace, results: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> list[str]:
    return write_outputs(_outputs(args, results, problems))


def _outputs(args: argparse.Namespace, results: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> list[Output]:
    """The outputs asked for of a run over ``results``; ``problems`` are the run's own."""
    outputs = report_outputs(requested_reports(args), results, problems)
    if args.write_baseline is not None and len(results) == 1:
        outputs.append(
            ("--write-baseline", args.write_baseline, lambda handle: handle.write(baseline.dump(results[0].result)))
        )
    if args.suggest_overlay is not None and results:  # one overlay: every organization is judged by one spec
        runs = [item.result for item in results]
        outputs.append(
            (
                "--suggest-overlay",
                args.suggest_overlay,
                lambda handle: handle.write(overlay.combined_text(runs, args.suggest_overlay)),
            )
        )
    return outputs


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run ``--config`` (or list it with ``--list-orgs``): the exit code."""
    env = os.environ if environ is None else environ
    console, out = Console(stderr=True), Console()
    session = _Session()
    try:
        if args.list_orgs:
            return list_orgs(args, out)
        return _main(args, env, console, out, session)
    except (ConfigError, UsageProblem, SpecError, StateError, baseline.BaselineError) as exc:
        _say(console, "m3ter-conformance:", str(exc))
        # a file's mistakes are listed one a line: one problem each
        problems = [Problem("config", line) for line in str(exc).splitlines() if line]
        report_failure(problems, failed_run.from_namespace(args), console)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        return interrupted.handle(
            lambda line: _say(console, "m3ter-conformance:", line), _write_interrupted(args, session)
        )
    except Exception as exc:  # never a traceback and exit 1 (which means "the API broke a rule")
        message, problem = failed_run.internal_failure(exc)
        _say(console, "m3ter-conformance: internal error:", message)
        if session.results is None:
            report_failure([problem], failed_run.from_namespace(args), console)
        else:
            for failure in _write(args, session.results, [problem]):
                _say(console, "m3ter-conformance:", failure)
        return EXIT_PROBLEM


class _Session:
    """What the run has produced so far: an internal failure after it still reports the organizations, an
    interrupted run what each organization's runner observed."""

    results: list[OrgResult] | None = None
    items: list[OrgRun | OrgResult] | None = None
    runners: dict[str, Runner]

    def __init__(self) -> None:
        self.runners = {}


def _write_interrupted(args: argparse.Namespace, session: _Session) -> Callable[[Problem], list[str]]:
    """The writer :func:`.interrupted.handle` calls: the combined reports of what was observed, at usable paths
    (never over the config file or a file it names); nothing read yet: the reports of a run that did not
    start, with the problem."""

    def write(problem: Problem) -> list[str]:
        requested = failed_run.from_namespace(args)
        later = {"--write-baseline": args.write_baseline, "--suggest-overlay": args.suggest_overlay}
        if session.results is not None:
            results = session.results
        elif session.items is not None:
            results = interrupted_results(session.items, session.runners)
        else:
            return [*_report_lines([problem], requested), *interrupted.not_written(later)]
        return [*_report_lines([problem], requested, results), *interrupted.not_written(later)]

    return write


def _main(args: argparse.Namespace, env: Mapping[str, str], console: Console, out: Console, session: _Session) -> int:
    source = str(args.config)
    chosen = select(load(args.config), args.org or [], source=source)
    if not chosen:
        raise ConfigError(f"{source} lists no organization: add an [orgs.NAME] table")
    _refuse_single_run_options(args, len(chosen))
    spec = Spec.load(args.spec)
    paths = {_state_path(args, org.embedded) for org in chosen} - {None}
    check_paths(args, next(iter(paths), None), _inputs(args, chosen))
    by_name = {org.name: org for org in chosen}
    with ExitStack() as stack:
        items = session.items = [prepare(org, args, env, stack) for org in chosen]
        runs = [item for item in items if isinstance(item, OrgRun)]
        _same_org(runs)
        for item in runs:
            embedded = by_name[item.name].embedded
            path = _state_path(args, embedded)
            if path is not None:
                item.state = State(path, item.target.base_url, item.target.org_id)
                stack.callback(item.state.close)
                item.remembered = item.state.remembered()
                if embedded:
                    item.notes.append(EMBEDDED_STATE_NOTE)

        async def announced() -> list[OrgResult]:
            # Printed from the running event loop, so a Ctrl-C after these lines never lands in its set-up.
            if not args.quiet:
                for item in runs:
                    line = f"[{item.name}] {target_line(item.target, item.options)}"
                    out.print(Text(line), highlight=False, soft_wrap=True)
            return await check(items, spec, None if args.quiet else console, session.runners)

        results = asyncio.run(announced())
        session.results = results
        for prepared, org_result in zip(items, results, strict=True):
            if isinstance(prepared, OrgRun) and prepared.state is not None:
                org_result.result.notes.extend(prepared.state.notes)

        def save() -> list[str]:
            failures = []
            for prepared, org_result in zip(items, results, strict=True):
                if isinstance(prepared, OrgRun) and prepared.state is not None:
                    try:
                        prepared.state.save(org_result.result.last.values())
                    except StateError as exc:
                        failures.append(f"[orgs.{prepared.name}] {exc} (this run's observations were not remembered)")
            return failures

        # A report or the state not written makes the exit code 2: problems of the run, so the verdict says
        # so, and so do the reports (written again with them).
        failures = write_stating_outcome(
            lambda failed: _outputs(args, results, [Problem("config", failure) for failure in failed]),
            [option for _, option in failed_run.REPORTS],
            save,
        )
    problems = [Problem("config", failure) for failure in failures]
    if not args.quiet:
        combined.print_summary(results, out, problems)
    else:
        print_quiet(results, console, out, problems)
    return combined.exit_code(results, problems)


__all__ = [
    "OrgRun",
    "check",
    "main",
    "prepare",
    "print_quiet",
    "refused",
    "report_failure",
    "report_outputs",
    "requested_reports",
    "run_orgs",
]
