"""The report of a run over several organizations (``--config``), and of ``m3ter-conformance merge``.

Each organization's section is the single-run report of :mod:`.report` (the same JSON fields, the same JUnit
test cases, the same Markdown), under the organization's name; the combined report adds totals, a summary
table and the exit code, which is the worst of the organizations' (2 over 1 over 0).

The JSON document holds everything the other formats show, so :func:`from_json` rebuilds the results and
``merge`` renders JUnit, JSON and Markdown of sharded runs exactly as one run over all of them would::

    {"tool": "m3ter-conformance", "report_version": 1, "kind": "combined", "result": "fail", "exit_code": 1,
     "summary": {"organizations": 2, "errors": 1, ...},
     "orgs": [{"name": "eu", "result": ..., "exit_code": ..., "target": ..., "summary": ..., "findings": [...],
               "problems": [...], "notes": [...]}, ...]}
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from .. import rules
from ..rules import Finding, Severity
from . import report
from .redact import shown
from .runner import Problem, RunResult, finding_key

KIND = "combined"
_ICONS = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}
_NAME = re.compile(r"[A-Za-z0-9_-]+")


WRONG_SHAPE, OTHER_VERSION = "wrong-shape", "other-version"


class ReportError(Exception):
    """A JSON report that cannot be read back; the message says which and why (where in the document, never a
    value it holds). ``reason``: :data:`WRONG_SHAPE` (not such a report, or a part of it is not what the tool
    writes) or :data:`OTHER_VERSION` (written by another version of the tool)."""

    def __init__(self, message: str, reason: str = WRONG_SHAPE) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class OrgResult:
    """One organization's run, under its name in the config file."""

    name: str
    result: RunResult


def exit_code(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> int:
    """The worst of the organizations' exit codes (2 over 1 over 0); 2 when there is none, or when the run
    itself has ``problems`` (it could not start, a report to merge could not be read)."""
    return 2 if problems else max((org.result.exit_code for org in orgs), default=2)


def _verdict(code: int) -> str:
    return {0: "pass", 1: "fail", 2: "incomplete"}[code]


def totals(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> dict[str, Any]:
    results = [org.result for org in orgs]
    requests: dict[str, int] = {}
    for result in results:
        for what, count in result.requests.items():
            requests[what] = requests.get(what, 0) + count
    return {
        "organizations": len(results),
        "errors": sum(r.errors for r in results),
        "warnings": sum(r.warnings for r in results),
        "known": sum(r.known for r in results),
        "problems": len(problems) + sum(len(r.problems) for r in results),
        "observations": sum(r.observations for r in results),
        "statements": sum(r.statements for r in results),
        "requests": dict(sorted(requests.items())),
        "rules_checked": len(rules.RULES),
        "duration_seconds": round(max((r.duration for r in results), default=0.0), 3),
    }


def section(org: OrgResult) -> dict[str, Any]:
    """One organization's part of the JSON report: its name, then the single-run report's fields."""
    single = report.to_json(org.result)
    del single["tool"], single["report_version"]
    return {"name": org.name, **single}


def to_json(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> dict[str, Any]:
    """The combined document. ``problems``: the run's own (not one organization's): why it did not start, a
    report ``merge`` could not read."""
    code = exit_code(orgs, problems)
    return {
        "tool": report.TOOL,
        "report_version": report.REPORT_VERSION,
        "kind": KIND,
        "result": _verdict(code),
        "exit_code": code,
        "summary": totals(orgs, problems),
        "problems": [
            {"kind": p.kind, "message": shown(p.message), "entity_id": p.entity_id, "endpoint": p.endpoint}
            for p in problems
        ],
        "orgs": [section(org) for org in orgs],
    }


def write_json(orgs: Sequence[OrgResult], handle: TextIO, problems: Sequence[Problem] = ()) -> None:
    for chunk in json.JSONEncoder(indent=2).iterencode(to_json(orgs, problems)):
        handle.write(chunk)
    handle.write("\n")


# ---- reading a section back ------------------------------------------------------------------------------


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ReportError(f"{where}: `{key}` is missing or not {getattr(kind, '__name__', kind)}")
    return value


def _strings(data: Mapping[str, Any], keys: Sequence[str], where: str, optional: Sequence[str] = ()) -> list[Any]:
    values = []
    for key in keys:
        value = data.get(key)
        if not (isinstance(value, str) or (key in optional and value is None)):
            raise ReportError(f"{where}: `{key}` is missing or not a string")
        values.append(value)
    return values


def _counts(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in value.items()
    ):
        raise ReportError(f"{where}: expected an object of whole numbers")
    return dict(value)


def _problems(items: list[Any], where: str) -> list[Problem]:
    problems: list[Problem] = []
    for number, item in enumerate(items):
        at = f"{where}.problems[{number}]"
        if not isinstance(item, dict):
            raise ReportError(f"{at}: expected an object")
        kind, message, entity_id, endpoint = _strings(
            item, ("kind", "message", "entity_id", "endpoint"), at, optional=("entity_id", "endpoint")
        )
        problems.append(Problem(kind, message, entity_id, endpoint))
    return problems


def _options(data: dict[str, Any]) -> dict[str, Any]:
    """A section's run options (absent from a report written before they were recorded: none)."""
    options = data.get("options")
    return options if isinstance(options, dict) else {}


def _setting(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def from_section(data: Any, where: str) -> OrgResult:
    """An organization's section of a combined JSON report, as the result it was written from."""
    if not isinstance(data, dict):
        raise ReportError(f"{where}: an organization's section must be an object")
    name = _get(data, "name", str, where)
    if not _NAME.fullmatch(name):
        raise ReportError(f"{where}: the organization's name is not letters, digits, - and _")
    where = f"{where} ({name})"
    target = _get(data, "target", dict, where)
    base_url, org_id = _strings(target, ("base_url", "org_id"), f"{where}.target")
    summary = _get(data, "summary", dict, where)
    findings: list[Finding] = []
    known: set[tuple[str, str, str]] = set()
    for number, item in enumerate(_get(data, "findings", list, where)):
        at = f"{where}.findings[{number}]"
        if not isinstance(item, dict):
            raise ReportError(f"{at}: expected an object")
        entity_id, endpoint, rule, severity, path, message, suggestion = _strings(
            item,
            ("entity_id", "endpoint", "rule", "severity", "path", "message", "suggestion"),
            at,
            optional=("suggestion",),
        )
        if severity not in tuple(Severity):
            raise ReportError(f"{at}: `severity` is not error or warning")
        judged_by = rules.RULES_BY_NAME.get(rule)
        kind, source = item.get("kind"), item.get("source")
        evidence = (
            judged_by.evidence_of(kind if isinstance(kind, str) else None, source if isinstance(source, str) else None)
            if judged_by is not None
            else None
        )
        finding = Finding(entity_id, endpoint, rule, Severity(severity), path, message, suggestion, evidence=evidence)
        findings.append(finding)
        if item.get("known") is True:
            known.add(finding_key(finding))
    problems = _problems(_get(data, "problems", list, where), where)
    notes = _get(data, "notes", list, where)
    if not all(isinstance(note, str) for note in notes):
        raise ReportError(f"{where}.notes: expected strings")
    duration = summary.get("duration_seconds")
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise ReportError(f"{where}.summary: `duration_seconds` is missing or not a number")
    result = RunResult(
        base_url=base_url,
        org_id=org_id,
        embedded=target.get("embedded") is True,
        entities=_counts(summary.get("entities"), f"{where}.summary.entities"),
        findings=findings,
        problems=problems,
        notes=list(notes),
        observations=_get(summary, "observations", int, f"{where}.summary"),
        requests=_counts(summary.get("requests"), f"{where}.summary.requests"),
        duration=float(duration),
        baseline=frozenset(known),
        statements=_get(summary, "statements", int, f"{where}.summary"),
        strict_inferred=_options(data).get("strict_inferred") is True,
        external_invoice_date=_setting(_options(data).get("external_invoice_date")),
    )
    return OrgResult(name, result)


def from_json(document: Any, source: str) -> list[OrgResult]:
    """The organizations of a combined JSON report (``--report-json`` of a ``--config`` run)."""
    if not isinstance(document, dict) or document.get("tool") != report.TOOL:
        raise ReportError(f"{source} is not a {report.TOOL} JSON report")
    version = document.get("report_version")
    if version != report.REPORT_VERSION:
        which = f"report version {version}" if _whole(version) else "of an unknown report version"
        raise ReportError(
            f"{source} is {which}; this {report.TOOL} reads version {report.REPORT_VERSION}: "
            "merge reports written by the same version of the tool",
            OTHER_VERSION,
        )
    if document.get("kind") != KIND:
        raise ReportError(
            f"{source} is the report of a single run, not of a --config run: write each shard with "
            "m3ter-conformance --config PATH --org NAME --report-json PATH"
        )
    summary = document.get("summary")
    rules_checked = summary.get("rules_checked") if isinstance(summary, dict) else None
    if rules_checked != len(rules.RULES):
        count = f"{rules_checked} rules" if _whole(rules_checked) else "an unknown number of rules"
        raise ReportError(
            f"{source} was written with {count}, this {report.TOOL} has {len(rules.RULES)}: merge "
            "reports written by the same version of the tool",
            OTHER_VERSION,
        )
    sections = _get(document, "orgs", list, source)
    return [from_section(item, f"{source}: orgs[{number}]") for number, item in enumerate(sections)]


def _whole(value: Any) -> bool:
    """A whole number a message may show (any other value of a damaged report is not repeated)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6


def run_problems(document: Any, source: str) -> list[Problem]:
    """The run's own problems of a combined JSON report read by :func:`from_json` (none in a report written
    before they were recorded)."""
    items = document.get("problems", []) if isinstance(document, dict) else []
    if not isinstance(items, list):
        raise ReportError(f"{source}: `problems` is not a list")
    return _problems(items, source)


def not_started(problems: Sequence[Problem]) -> RunResult:
    """The run's own problems as the result of a run that read nothing (its JUnit suite, its Markdown)."""
    return RunResult(base_url="", org_id="", embedded=False, entities={}, problems=list(problems), notes=[])


# ---- JUnit -----------------------------------------------------------------------------------------------


def _suite(result: RunResult) -> ET.Element:
    text = report.junit_xml(result)
    # our own document (every text in it escaped by report.junit_xml), without its XML declaration
    return ET.fromstring(text.split("\n", 1)[1])  # noqa: S314


def junit_xml(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> str:
    """One ``<testsuite>`` per organization (the single-run suite, its test cases' classnames prefixed with
    the organization's name) inside one ``<testsuites>``; the run's own ``problems`` first, as the suite of a
    run that read nothing (its run test case an error, the rules skipped)."""
    suites = ET.Element("testsuites", name=report.TOOL)
    counts = {"tests": 0, "failures": 0, "errors": 0}
    time = 0.0
    if problems:
        suite = _suite(not_started(problems))
        suite.set("name", f"{report.TOOL} (run)")
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
        suites.append(suite)
    for org in orgs:
        suite = _suite(org.result)
        suite.set("name", f"{report.TOOL} ({org.name})")
        for case in suite.iter("testcase"):
            classname = case.get("classname", report.TOOL)
            case.set("classname", f"{report.TOOL}.{org.name}{classname.removeprefix(report.TOOL)}")
        props = suite.find("properties")
        if props is not None:
            props.insert(0, ET.Element("property", name="organization", value=org.name))
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
        time = max(time, float(suite.get("time", "0")))
        suites.append(suite)
    for key, value in counts.items():
        suites.set(key, str(value))
    suites.set("time", f"{time:.3f}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---- Markdown --------------------------------------------------------------------------------------------


def _org_markdown(org: OrgResult) -> list[str]:
    """The single-run summary one heading level down, titled with the organization's name."""
    lines = report.markdown(org.result).splitlines()
    verdict = report.verdict(org.result)
    lines[0] = f"### {_ICONS[verdict]} `{org.name}`: {verdict}"
    lines = [("#" + line if line.startswith("### ") and number else line) for number, line in enumerate(lines)]
    return [*lines, ""]


def markdown(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> str:
    """The run's own problems, the summary table over the organizations, then each organization's section."""
    code = exit_code(orgs, problems)
    total = totals(orgs, problems)
    lines = [
        f"## {_ICONS[_verdict(code)]} m3ter conformance: {_verdict(code)} ({len(orgs)} organization(s))",
        "",
    ]
    if problems:
        lines += ["### Problems of the run (exit code 2)", ""]
        lines += [f"- **{p.kind}**: {report.markdown_text(p.message)}" for p in problems]
        lines.append("")
    if orgs:  # a run that did not start has no table
        lines += [
            "| organization | result | errors | warnings | known | problems | reads | exit code |",
            "|---|---|---|---|---|---|---|---|",
        ]
    for org in orgs:
        r = org.result
        verdict = report.verdict(r)
        lines.append(
            f"| `{org.name}` | {_ICONS[verdict]} {verdict} | {r.errors} | "
            f"{r.warnings} | {r.known} | {len(r.problems)} | {r.observations} | {r.exit_code} |"
        )
    lines += [
        *([""] if orgs else []),
        f"**{total['errors']} error(s), {total['warnings']} warning(s), {total['problems']} problem(s)** over "
        f"{total['organizations']} organization(s); exit code {code}, the worst of theirs.",
        "",
    ]
    for org in orgs:
        lines += _org_markdown(org)
    return "\n".join(lines)


# ---- terminal --------------------------------------------------------------------------------------------


_STYLES = {0: "green", 1: "red", 2: "yellow"}


def print_summary(orgs: Sequence[OrgResult], console: Console, problems: Sequence[Problem] = ()) -> None:
    """Each organization's summary table, then one line per organization, the run's problems and the verdict."""
    for org in orgs:
        console.print(Rule(Text(f"organization {org.name}"), style="dim"))
        report.print_summary(org.result, console)
    table = Table(title="m3ter conformance: organizations", box=box.SIMPLE_HEAVY)
    for column in ("organization", "result", "errors", "warnings", "problems", "reads", "exit"):
        table.add_column(column, justify="left" if column in ("organization", "result") else "right")
    styles = _STYLES
    for org in orgs:
        r = org.result
        table.add_row(
            Text(org.name),
            Text(report.verdict(r), style=styles[r.exit_code]),
            *(Text(str(n)) for n in (r.errors, r.warnings, len(r.problems), r.observations, r.exit_code)),
        )
    console.print(table)
    for line in report.quiet_problems(not_started(problems), len(problems)):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(verdict_line(orgs, problems), highlight=False, soft_wrap=True)


def verdict_line(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> Text:
    """The one-line verdict over every organization (the worst of theirs), as every summary ends."""
    code = exit_code(orgs, problems)
    total = totals(orgs, problems)
    return Text(
        f"{_verdict(code).upper()}: {total['errors']} error(s), {total['warnings']} warning(s), "
        f"{total['problems']} problem(s) over {len(orgs)} organization(s) (exit {code}, the worst of theirs)",
        style=f"bold {_STYLES[code]}",
    )


def quiet_problems(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> list[Text]:
    """What ``--quiet`` prints on stderr: the first problems of the run and of every organization (each
    labelled with its organization), then how many more there are: as a single run's ``--quiet``."""
    labelled = [("", p) for p in problems] + [(org.name, p) for org in orgs for p in org.result.problems]
    return report.first_problems(labelled)


def quiet_findings(orgs: Sequence[OrgResult], problems: Sequence[Problem] = ()) -> list[Text]:
    """What ``--quiet`` prints on stdout: the first findings outside the baselines (errors first, each
    labelled with its organization), each organization's verdict line, and the verdict over all of them."""
    labelled = [(org.name, f) for org in orgs for f in org.result.findings if not org.result.is_known(f)]
    lines = report.first_findings(labelled)
    for org in orgs:
        line = Text(f"{org.name}: ")
        line.append_text(report.verdict_line(org.result))
        lines.append(line)
    lines.append(verdict_line(orgs, problems))
    return lines


__all__ = [
    "KIND",
    "OrgResult",
    "ReportError",
    "exit_code",
    "from_json",
    "from_section",
    "junit_xml",
    "markdown",
    "not_started",
    "print_summary",
    "quiet_findings",
    "quiet_problems",
    "run_problems",
    "to_json",
    "totals",
    "verdict_line",
    "write_json",
]
