"""``m3ter-conformance --config PATH``: every organization of the file in one process, at the same time.

Each organization gets its own credentials (from the variables its table names), client, rate limit (its
``rate``, paced on its own), state scope (base URL and organization id, in the one ``--state`` file) and
baseline. An organization that cannot be checked (a variable not set, an unreadable ids file, refused
credentials, a server that is down) is a problem (exit 2) of that organization only; the others run, and
the combined report (:mod:`.combined`) shows every one. The exit code is the worst of the organizations'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import httpx
from m3ter_billing.settings import ENV_API_KEY, ENV_API_SECRET, ENV_BASE_URL, ENV_ORG_ID
from rich.console import Console
from rich.text import Text

from ..rules import Observation, Spec, SpecError
from ..rules.registry import EntityKey
from . import baseline, combined
from .cli import (
    EMBEDDED_STATE_NOTE,
    EXIT_INTERRUPTED,
    EXIT_PROBLEM,
    UsageProblem,
    _options,
    _say,
    _state_path,
    _text_setting,
    check_paths,
    live_target,
    target_line,
)
from .combined import OrgResult
from .orgs import ConfigError, OrgConfig, load, matrix, select
from .redact import clean
from .runner import FindingKey, Options, Problem, RunResult, Target, run
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
) -> list[OrgResult]:
    """Check every :class:`OrgRun` at the same time (one task each); results in the order given. A failure of
    the check itself while running one organization is an ``internal`` problem of that organization."""

    async def one(item: OrgRun | OrgResult) -> OrgResult:
        if isinstance(item, OrgResult):
            return item
        try:
            result = await run(
                item.target,
                item.options,
                spec,
                transport=item.transport,
                remembered=item.remembered,
                sleep=sleep,
                clock=clock,
            )
        except Exception as exc:
            result = RunResult(item.target.base_url, item.target.org_id, item.target.embedded, item.target.counts())
            result.problems.append(
                Problem(
                    "internal",
                    f"m3ter-conformance could not check this organization: {type(exc).__name__}: {clean(exc)} "
                    "(a bug of the check, not a finding about the API; please report it)",
                )
            )
        result.baseline = item.baseline
        result.notes.extend(item.notes)
        gone = baseline.unused(result)
        if gone:
            result.notes.append(
                f"{gone} baseline finding(s) no longer seen: fixed, or not read this run; rewrite the baseline "
                "with --write-baseline to ratchet"
            )
        return OrgResult(item.name, result)

    return list(await asyncio.gather(*(one(item) for item in items)))


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


def _auth_hint(org: OrgConfig, result: RunResult) -> None:
    if not org.embedded and any(p.kind == "auth" for p in result.problems):
        names = ", ".join(org.credential_names())
        result.notes.append(f"[orgs.{org.name}] reads its credentials from {names}")


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


Output = tuple[str, Path | None, Callable[[TextIO], object]]
"""(option, path or None when not asked for, how to write it)."""


def report_outputs(args: argparse.Namespace, results: Sequence[OrgResult]) -> list[Output]:
    """The combined reports asked for (``--report-json``, ``--junit-xml``, ``--markdown``)."""
    return [
        ("--report-json", args.report_json, lambda handle: combined.write_json(results, handle)),
        ("--junit-xml", args.junit_xml, lambda handle: handle.write(combined.junit_xml(results))),
        ("--markdown", args.markdown, lambda handle: handle.write(combined.markdown(results))),
    ]


def _write(args: argparse.Namespace, results: Sequence[OrgResult]) -> list[str]:
    outputs = report_outputs(args, results)
    if args.write_baseline is not None and len(results) == 1:
        outputs.append(
            ("--write-baseline", args.write_baseline, lambda handle: handle.write(baseline.dump(results[0].result)))
        )
    return write_outputs(outputs)


def write_outputs(outputs: Sequence[Output]) -> list[str]:
    """Write each output asked for, each on its own; what could not be written, with what to fix."""
    failed: list[str] = []
    for option, path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                write(handle)
        except OSError as exc:
            failed.append(f"cannot write {option} {path}: {exc.strerror or exc}; pass a writable path")
        except Exception as exc:  # a bug of the check: the other reports are still written
            failed.append(f"could not render {option}: {type(exc).__name__}: {clean(exc)} (a bug; please report it)")
    return failed


def main(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    """Run ``--config`` (or list it with ``--list-orgs``): the exit code."""
    env = os.environ if environ is None else environ
    console, out = Console(stderr=True), Console()
    try:
        if args.list_orgs:
            return list_orgs(args, out)
        return _main(args, env, console, out)
    except (ConfigError, UsageProblem, SpecError, StateError, baseline.BaselineError) as exc:
        _say(console, "m3ter-conformance:", str(exc))
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        _say(console, "m3ter-conformance:", "interrupted; no report written and nothing remembered")
        return EXIT_INTERRUPTED
    except Exception as exc:  # never a traceback and exit 1 (which means "the API broke a rule")
        _say(
            console,
            "m3ter-conformance: internal error:",
            f"{type(exc).__name__}: {exc}; the check could not complete (a bug; please report it)",
        )
        return EXIT_PROBLEM


def _main(args: argparse.Namespace, env: Mapping[str, str], console: Console, out: Console) -> int:
    source = str(args.config)
    chosen = select(load(args.config), args.org or [], source=source)
    if not chosen:
        raise ConfigError(f"{source} lists no organization: add an [orgs.NAME] table")
    _refuse_single_run_options(args, len(chosen))
    spec = Spec.load(args.spec)
    paths = {_state_path(args, org.embedded) for org in chosen} - {None}
    check_paths(args, next(iter(paths), None))
    by_name = {org.name: org for org in chosen}
    with ExitStack() as stack:
        items = [prepare(org, args, env, stack) for org in chosen]
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
        if not args.quiet:
            for item in runs:
                line = f"[{item.name}] {target_line(item.target, item.options)}"
                out.print(Text(line), highlight=False, soft_wrap=True)
        results = asyncio.run(run_orgs(items, spec))
        for org_result in results:
            _auth_hint(by_name[org_result.name], org_result.result)
        for prepared, org_result in zip(items, results, strict=True):
            if isinstance(prepared, OrgRun) and prepared.state is not None:
                org_result.result.notes.extend(prepared.state.notes)
        failures = _write(args, results)
        for prepared, org_result in zip(items, results, strict=True):
            if isinstance(prepared, OrgRun) and prepared.state is not None:
                try:
                    prepared.state.save(org_result.result.last.values())
                except StateError as exc:
                    failures.append(f"[orgs.{prepared.name}] {exc} (this run's observations were not remembered)")
    if not args.quiet:
        combined.print_summary(results, out)
    else:
        for org_result in results:
            for problem in org_result.result.problems:
                _say(console, f"{org_result.name} {problem.kind}:", problem.message)
    for failure in failures:
        _say(console, "m3ter-conformance:", failure)
    return EXIT_PROBLEM if failures else combined.exit_code(results)


__all__ = ["OrgRun", "Output", "main", "prepare", "refused", "report_outputs", "run_orgs", "write_outputs"]
