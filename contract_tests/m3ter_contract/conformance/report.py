"""The run, told four ways: JSON (``--report-json``), JUnit XML, a Markdown summary and a rich table.

Every text that reaches a report goes through :func:`~.redact.clean` (the client's scrubber and more), so
tokens, secrets, URL signatures and URL user-info never appear; server-chosen text is escaped for each
format (control characters spelled out for XML 1.0 and the terminal, table syntax for Markdown, never rich
markup). Findings are sorted (entity, endpoint, rule, path) so reports are stable from run to run; findings
of the ``--baseline`` are marked known and fail nothing.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .. import rules
from ..rules import Finding
from .redact import clean, shown
from .runner import RunResult

TOOL = "m3ter-conformance"
REPORT_VERSION = 1
MARKDOWN_ROWS = 50
JUNIT_PROBLEM_LINES = 1_000


def _finding(f: Finding, known: bool) -> dict[str, Any]:
    out = {key: clean(value) if isinstance(value, str) else value for key, value in f.to_dict().items()}
    out["known"] = known
    return out


def verdict(result: RunResult) -> str:
    return {0: "pass", 1: "fail", 2: "incomplete"}[result.exit_code]


def to_json(result: RunResult) -> dict[str, Any]:
    """The ``--report-json`` document: a top-level ``findings`` list plus what the run covered."""
    return {
        "tool": TOOL,
        "report_version": REPORT_VERSION,
        "result": verdict(result),
        "exit_code": result.exit_code,
        "target": {"base_url": clean(result.base_url), "org_id": clean(result.org_id), "embedded": result.embedded},
        "summary": {
            "entities": result.entities,
            "observations": result.observations,
            "requests": result.requests,
            "errors": result.errors,
            "warnings": result.warnings,
            "known": result.known,
            "problems": len(result.problems),
            "statements": result.statements,
            "rules_checked": len(rules.RULES),
            "duration_seconds": round(result.duration, 3),
        },
        "findings": [_finding(f, result.is_known(f)) for f in result.findings],
        "problems": [
            {key: clean(value) if isinstance(value, str) else value for key, value in p.to_dict().items()}
            for p in result.problems
        ],
        "notes": [clean(n) for n in result.notes],
    }


def write_json(result: RunResult, handle: TextIO) -> None:
    """The ``--report-json`` document, streamed: a run with 100,000 problems never holds its whole text."""
    for chunk in json.JSONEncoder(indent=2).iterencode(to_json(result)):
        handle.write(chunk)
    handle.write("\n")


def json_text(result: RunResult) -> str:
    out = io.StringIO()
    write_json(result, out)
    return out.getvalue()


def _family(rule: str) -> str:
    return rule.split(".", 1)[0]


def junit_xml(result: RunResult) -> str:
    """One testcase per rule (failed by its error findings; warnings in system-out) and one for the run."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_rule[f.rule].append(f)

    def failing(found: list[Finding]) -> list[Finding]:
        return [f for f in found if f.severity == "error" and not result.is_known(f)]

    suite = ET.Element(
        "testsuite",
        name=TOOL,
        tests=str(len(rules.RULES) + 1),
        failures=str(sum(1 for r in rules.RULES if failing(by_rule[r.name]))),
        errors=str(1 if result.problems else 0),
        skipped="0",
        time=f"{result.duration:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="base_url", value=shown(result.base_url))
    ET.SubElement(props, "property", name="org_id", value=shown(result.org_id))
    run_case = ET.SubElement(suite, "testcase", classname=f"{TOOL}.run", name="reach the API and read every entity")
    if result.problems:
        error = ET.SubElement(run_case, "error", message=shown(result.problems[0].message), type="problem")
        lines = [f"[{p.kind}] {shown(p.message)}" for p in result.problems[:JUNIT_PROBLEM_LINES]]
        if len(result.problems) > JUNIT_PROBLEM_LINES:
            lines.append(f"... and {len(result.problems) - JUNIT_PROBLEM_LINES} more in the JSON report")
        error.text = "\n".join(lines)
    for rule in rules.RULES:
        case = ET.SubElement(suite, "testcase", classname=f"{TOOL}.{_family(rule.name)}", name=rule.name)
        found = by_rule[rule.name]
        errors = failing(found)
        lines = [
            f"{f.severity}{' (known)' if result.is_known(f) else ''} {shown(f.entity_id)} {shown(f.path)}: "
            f"{shown(f.message)}"
            for f in found
        ]
        if errors:
            failure = ET.SubElement(
                case, "failure", message=f"{len(errors)} finding(s): {shown(errors[0].message)}", type=rule.name
            )
            failure.text = "\n".join(lines)
        elif found:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


_MD_SPECIAL = str.maketrans({"|": "\\|", "\n": " ", "\r": " ", "<": "&lt;", ">": "&gt;", "`": "'"})


def _md(text: str) -> str:
    """Server text in a Markdown table cell: no cell break (``|``), no line break, no HTML, no code span end."""
    return shown(text).translate(_MD_SPECIAL)


def _code(text: str) -> str:
    """Server text as inline code in a table cell (backticks become quotes, pipes stay escaped)."""
    inner = shown(text).replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return "`" + inner + "`"


def _md_line(text: str) -> str:
    """Generated text that quotes server names in code spans (a suggestion): one line, no HTML."""
    return shown(text).replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def markdown(result: RunResult) -> str:
    """A summary fit for a CI comment or ``$GITHUB_STEP_SUMMARY``."""
    icon = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}[verdict(result)]
    entities = ", ".join(f"{n} {kind.replace('_', ' ')}s" for kind, n in result.entities.items())
    requests = ", ".join(f"{n} {what}" for what, n in result.requests.items()) or "none"
    lines = [
        f"## {icon} m3ter conformance: {verdict(result)}",
        "",
        f"{_code(result.base_url)} · org {_code(result.org_id)} · {entities} · {result.observations} reads · "
        f"requests: {requests} · {result.duration:.1f} s",
        "",
        f"**{result.errors} error(s), {result.warnings} warning(s), {len(result.problems)} problem(s)** "
        f"against {len(rules.RULES)} rules"
        + (f"; {result.known} known finding(s) from the baseline." if result.known else "."),
    ]
    if result.problems:
        lines += ["", "### Problems (exit code 2)", ""]
        lines += [f"- **{p.kind}**: {_md(p.message)}" for p in result.problems[:MARKDOWN_ROWS]]
        if len(result.problems) > MARKDOWN_ROWS:
            lines.append(f"\n… and {len(result.problems) - MARKDOWN_ROWS} more in the JSON report.")
    if result.findings:
        lines += ["", "### Findings", "", "| severity | rule | entity | path | message |", "|---|---|---|---|---|"]
        for f in result.findings[:MARKDOWN_ROWS]:
            severity = f"{f.severity} (known)" if result.is_known(f) else str(f.severity)
            lines.append(f"| {severity} | `{f.rule}` | {_code(f.entity_id)} | {_code(f.path)} | {_md(f.message)} |")
        if len(result.findings) > MARKDOWN_ROWS:
            lines.append(f"\n… and {len(result.findings) - MARKDOWN_ROWS} more in the JSON report.")
    suggestions = sorted({(f.rule, _md_line(f.suggestion)) for f in result.findings if f.suggestion})
    if suggestions:
        lines += ["", "### Suggested spec changes", ""]
        lines += [f"- {text} (`{rule}`)" for rule, text in suggestions]
    lines += ["", f"<sub>Rules: contract_tests/RULES.md · exit code {result.exit_code}</sub>", ""]
    return "\n".join(lines)


def summary_table(result: RunResult) -> Group:
    """The terminal summary: findings per rule, then problems and the verdict."""
    table = Table(title="m3ter conformance", box=box.SIMPLE_HEAVY, show_lines=False)
    table.add_column("rule", style="bold")
    table.add_column("severity")
    table.add_column("findings", justify="right")
    table.add_column("first", overflow="fold")
    counts = Counter(f.rule for f in result.findings)
    firsts: dict[str, Finding] = {}
    for f in result.findings:
        firsts.setdefault(f.rule, f)
    errors = {f.rule for f in result.findings if f.severity == "error" and not result.is_known(f)}
    for rule in rules.RULES:
        n = counts.get(rule.name, 0)
        style = "green" if n == 0 else ("red" if rule.name in errors else "yellow")
        first = firsts.get(rule.name)
        example = f"{shown(first.entity_id)} {shown(first.path)}: {shown(first.message)}" if first else ""
        # Every cell is Text: server values (ids, enum values, messages) are never read as rich markup.
        table.add_row(Text(rule.name), Text(str(rule.severity)), Text(str(n), style=style), Text(example))
    parts: list[Any] = [table]
    for p in result.problems:
        parts.append(Text(f"problem [{p.kind}]: {shown(p.message)}", style="bold red"))
    for note in result.notes:
        parts.append(Text(f"note: {shown(note)}", style="yellow"))
    style = {0: "bold green", 1: "bold red", 2: "bold yellow"}[result.exit_code]
    parts.append(
        Text(
            f"{verdict(result).upper()}: {result.errors} error(s), {result.warnings} warning(s), "
            + (f"{result.known} known, " if result.known else "")
            + f"{len(result.problems)} problem(s); {result.observations} reads in {result.duration:.1f}s "
            f"(exit {result.exit_code})",
            style=style,
        )
    )
    return Group(*parts)


def print_summary(result: RunResult, console: Console) -> None:
    console.print(summary_table(result))


__all__ = [
    "json_text",
    "junit_xml",
    "markdown",
    "print_summary",
    "summary_table",
    "to_json",
    "verdict",
    "write_json",
]
