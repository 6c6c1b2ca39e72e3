"""The reports of a run that never started: a usage or configuration error, an internal failure.

CI shows what the reports say, so an exit 2 before the first request still writes every report asked for
(``--report-json``, ``--junit-xml``, ``--markdown``) with the problem in it: the JSON's ``problems`` list,
the JUnit run test case as an ``error`` (the rules ``skipped``), the Markdown's "Problems" heading.

When the command line itself is wrong, argparse stops at the first error, before it has read the report
options: :func:`report_paths` reads them again leniently (no value converted or checked, unknown options
ignored; failing that, the exact ``--option PATH`` / ``--option=PATH`` spellings). A report is written only
to a usable path: writable, not one of the inputs or the state, not named twice. ``--write-baseline`` is
never written by a run that did not start: an empty baseline would erase the accepted one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from m3ter_billing.settings import ENV_BASE_URL, ENV_ORG_ID

from ..rules.spec import SpecError, default_spec_path
from .outputs import file_key
from .redact import clean
from .runner import Problem, RunResult
from .state import DEFAULT_STATE

REPORTS = (("report_json", "--report-json"), ("junit_xml", "--junit-xml"), ("markdown", "--markdown"))
"""The reports a run that did not start still writes: (argparse dest, option)."""
_INPUTS = ("state", "baseline", "write_baseline", "suggest_overlay", "ids_file", "spec", "config", "reports")
"""Paths a report must never overwrite (the state, the accepted findings, what the run reads)."""
NOT_STARTED = "the check did not start: nothing was read"


def internal_failure(exc: BaseException) -> tuple[str, Problem]:
    """A bug of the check as what stderr says and the reports' ``internal`` problem (never exit 1: that
    means the API broke a rule), with secrets scrubbed from the exception's text."""
    message = f"{type(exc).__name__}: {clean(exc)}; the check could not complete (a bug; please report it)"
    return message, Problem("internal", f"m3ter-conformance failed: {message}")


@dataclass(slots=True)
class Requested:
    """What a (possibly broken) command line asked for: report paths and the other paths it names."""

    reports: dict[str, Path] = field(default_factory=dict)
    """option (``--junit-xml``) -> path"""
    inputs: list[Path] = field(default_factory=list)
    quiet: bool = False
    base_url: str = ""
    org_id: str = ""
    config: Path | None = None
    """``--config``: the combined reports of a run over the organizations of this file."""


def from_namespace(args: argparse.Namespace) -> Requested:
    """What a parsed (or leniently parsed) command line asked for."""
    requested = Requested(quiet=bool(getattr(args, "quiet", False)))
    for dest, option in REPORTS:
        value = getattr(args, dest, None)
        if value:
            requested.reports[option] = Path(value)
    for dest in _INPUTS:  # one path, or several (the reports ``merge`` reads)
        value = getattr(args, dest, None)
        requested.inputs += [Path(item) for item in (value if isinstance(value, list) else [value]) if item]
    requested.config = Path(args.config) if getattr(args, "config", None) else None
    requested.base_url = str(getattr(args, "base_url", None) or "")
    requested.org_id = str(getattr(args, "org_id", None) or "")
    return requested


def _scan(argv: Sequence[str], option: str) -> str | None:
    """The last value given to ``option`` spelled exactly (``--option VALUE`` or ``--option=VALUE``)."""
    value = None
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith(option + "="):
            value = arg[len(option) + 1 :]
    return value


def report_paths(lenient: argparse.ArgumentParser, argv: Sequence[str]) -> Requested:
    """The report paths of a command line argparse refused. ``lenient`` is the command's parser with no
    conversion, no choices, no required option, no help and no version, whose ``error`` raises."""
    try:
        args, _unknown = lenient.parse_known_args(list(argv))
    except (argparse.ArgumentError, LenientError):
        found = {dest: _scan(argv, "--" + dest.replace("_", "-")) for dest in (*(d for d, _ in REPORTS), *_INPUTS)}
        args = argparse.Namespace(**found, quiet="--quiet" in argv)
        # The reports ``merge`` reads are positional: not knowing them, protect every bare word but the
        # values of the report options.
        values = {value for dest, _ in REPORTS if (value := found[dest]) is not None}
        args.reports = [arg for arg in argv if not arg.startswith("-") and arg not in values]
    return from_namespace(args)


class LenientError(Exception):
    """The lenient parser could not read the command line either."""


class RecordingParser(argparse.ArgumentParser):
    """Remembers its last error (for the reports of a refused command line); a lenient one raises it."""

    last_error: str | None = None
    raises = False

    def error(self, message: str) -> NoReturn:
        self.last_error = message
        if self.raises:
            raise LenientError(message)
        super().error(message)


def relax(parser: RecordingParser) -> None:
    """Make ``parser`` lenient: no conversion, no choices, nothing required, raising on error (help and
    version are the caller's to leave out)."""
    parser.raises = True
    for action in parser._actions:  # argparse has no public way to relax the options it holds
        action.type, action.choices, action.required = None, None, False


def usable(requested: Requested, writable: Callable[[str, Path], None]) -> tuple[dict[str, Path], list[str]]:
    """The reports that may be written, and why the others are not. ``writable(option, path)`` raises an
    exception whose message says what is wrong with a path."""
    ok: dict[str, Path] = {}
    skipped: list[str] = []
    protected = {file_key(path) for path in (*requested.inputs, Path(DEFAULT_STATE), *_default_spec())}
    named: dict[Hashable, list[str]] = {}
    for option, path in requested.reports.items():
        named.setdefault(file_key(path), []).append(option)
    for option, path in requested.reports.items():
        resolved = file_key(path)
        if resolved in protected:
            skipped.append(f"{option} {path} not written: it is an input or the state of the check")
        elif len(named[resolved]) > 1:
            skipped.append(f"{option} {path} not written: {' and '.join(named[resolved])} name the same file")
        else:
            try:
                writable(option, path)
            except Exception as exc:  # the caller's check says what is wrong
                skipped.append(f"{option} {path} not written: {exc}")
            else:
                ok[option] = path
    return ok, skipped


def _default_spec() -> list[Path]:
    """The spec a run without ``--spec`` reads (an input too), if there is one."""
    try:
        return [default_spec_path()]
    except SpecError:
        return []


def failed_result(problem: Problem, requested: Requested, environ: Mapping[str, str]) -> RunResult:
    """The result of a run that did not start: no entity, no read, one problem (exit 2)."""
    base_url = requested.base_url or environ.get(ENV_BASE_URL, "")
    return RunResult(
        base_url=base_url,
        org_id=requested.org_id or environ.get(ENV_ORG_ID, ""),
        embedded=not base_url,
        entities={},
        problems=[problem],
        notes=[NOT_STARTED],
    )


__all__ = [
    "NOT_STARTED",
    "REPORTS",
    "LenientError",
    "RecordingParser",
    "Requested",
    "failed_result",
    "from_namespace",
    "relax",
    "report_paths",
    "usable",
]
