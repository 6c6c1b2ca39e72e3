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
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .. import rules
from ..rules import Evidence, Finding, Rule, Severity
from .redact import clean, shown
from .runner import Problem, RunResult

TOOL = "m3ter-conformance"
REPORT_VERSION = 1
MARKDOWN_ROWS = 50
RULES_REFERENCE = "m3ter-conformance --list-rules, or RULES.md (m3ter_contract/reference/ when installed)"
"""Where a report's reader finds the rules: the command every installation has, and the file that ships in the
harness's wheel (``m3ter_contract/reference/RULES.md``; contract_tests/RULES.md in a checkout)."""
JUNIT_PROBLEM_LINES = 1_000


def evidence(f: Finding) -> Evidence | None:
    """What a finding stands on: its own evidence, else its rule's (None for a rule this tool does not know)."""
    if f.evidence is not None:
        return f.evidence
    rule = rules.RULES_BY_NAME.get(f.rule)
    return rule.source if rule is not None else None


def kind(f: Finding) -> str:
    """The evidence kind of a finding (documented, standard, inferred; ``?`` for an unknown rule)."""
    found = evidence(f)
    return str(found.kind) if found is not None else "?"


def _finding(f: Finding, known: bool) -> dict[str, Any]:
    out = {key: clean(value) if isinstance(value, str) else value for key, value in f.to_dict().items()}
    found = evidence(f)
    if found is not None:
        out["kind"], out["source"] = str(found.kind), found.ref
    out["known"] = known
    return out


def rule_severity(rule: Rule, result: RunResult) -> Severity:
    """The severity a rule's findings have in this run (its ``--strict-inferred`` one when the run was strict)."""
    return rule.strict_severity if result.strict_inferred else rule.severity


def rule_kind(rule: Rule) -> str:
    """A rule's evidence kind, with ``+`` when a part of it stands on other evidence (``--list-rules``)."""
    return str(rule.source.kind) + ("+" if any(e.kind != rule.source.kind for e in rule.also) else "")


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
        "options": {
            "strict_inferred": result.strict_inferred,
            "external_invoice_date": result.external_invoice_date,
        },
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

    # No response judged because of a problem: the rules were not checked, so none of them passed.
    unjudged = bool(result.problems) and result.observations == 0 and not result.findings
    suite = ET.Element(
        "testsuite",
        name=TOOL,
        tests=str(len(rules.RULES) + 1),
        failures=str(sum(1 for r in rules.RULES if failing(by_rule[r.name]))),
        errors=str(1 if result.problems else 0),
        skipped=str(len(rules.RULES) if unjudged else 0),
        time=f"{result.duration:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="base_url", value=shown(result.base_url))
    ET.SubElement(props, "property", name="org_id", value=shown(result.org_id))
    ET.SubElement(props, "property", name="strict_inferred", value=str(result.strict_inferred).lower())
    run_case = ET.SubElement(suite, "testcase", classname=f"{TOOL}.run", name="reach the API and read every entity")
    if result.problems:
        error = ET.SubElement(run_case, "error", message=shown(result.problems[0].message), type="problem")
        lines = [f"[{p.kind}] {shown(p.message)}" for p in result.problems[:JUNIT_PROBLEM_LINES]]
        if len(result.problems) > JUNIT_PROBLEM_LINES:
            lines.append(f"... and {len(result.problems) - JUNIT_PROBLEM_LINES} more in the JSON report")
        error.text = "\n".join(lines)
    for rule in rules.RULES:
        case = ET.SubElement(suite, "testcase", classname=f"{TOOL}.{_family(rule.name)}", name=rule.name)
        if unjudged:
            ET.SubElement(case, "skipped", message="not judged: no response was read (see the run's error)")
            continue
        found = by_rule[rule.name]
        errors = failing(found)
        lines = [
            f"{f.severity}{' (known)' if result.is_known(f) else ''} ({kind(f)}) {shown(f.entity_id)} "
            f"{shown(f.path)}: {shown(f.message)}"
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


# What Markdown (CommonMark and GitHub's extensions: tables, strikethrough, autolinks, math, mentions, emoji)
# could read in server text. Left as they are: ( ) ! ^ (a link, an image or a footnote needs a bracket, which
# is escaped) and line-start syntax (# - + = 1.: the text never starts a line).
_MD_MEANINGFUL = re.compile(r"_+|[\\`*\[\]&$~|@<>\r\n]|:(?=//|[\w+-]+:)|(?<=[wW]{3})\.")
# GitHub links an e-mail address (a@b.c) even with its @ escaped: an empty HTML comment after it (GitHub shows
# nothing of it) keeps the address from being one text.
_MD_ENTITY = {"<": "&lt;", ">": "&gt;", "\n": " ", "\r": " ", "@": "\\@<!-- -->"}


def _md_escape(match: re.Match[str]) -> str:
    text, string, start, end = match.group(), match.string, match.start(), match.end()
    if text[0] != "_":
        return _MD_ENTITY.get(text, "\\" + text)
    if start > 0 and end < len(string) and string[start - 1].isalnum() and string[end].isalnum():
        return text  # between two letters or digits, underscores never delimit emphasis (max_response_bytes)
    return "\\_" * len(text)


def _md(text: str) -> str:
    """Server text as plain Markdown text (a table cell, a list item): everything Markdown could read in it is
    escaped, so nothing renders (no emphasis, link, image, autolink, HTML, code span, cell or line break)."""
    return _MD_MEANINGFUL.sub(_md_escape, shown(text))


markdown_text = _md


def _code(text: str) -> str:
    """Server text as inline code in a table cell (backticks become quotes, pipes stay escaped)."""
    inner = shown(text).replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return "`" + inner + "`"


def _code_span(text: str) -> str:
    """Text with server names in it (a suggestion) as one inline code span outside a table, shown exactly as
    written: fenced by more backticks than any run of them inside (CommonMark), padded with a space when it
    starts or ends with a backtick or a space (one each side is stripped), so nothing in it ends the span."""
    inner = shown(text)
    longest = max((len(run) for run in re.findall(r"`+", inner)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if inner[:1] in ("`", " ") or inner[-1:] in ("`", " ") or not inner else ""
    return f"{fence}{pad}{inner}{pad}{fence}"


def markdown(result: RunResult) -> str:
    """A summary fit for a CI comment or ``$GITHUB_STEP_SUMMARY``."""
    icon = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}[verdict(result)]
    entities = ", ".join(f"{n} {kind.replace('_', ' ')}s" for kind, n in result.entities.items())
    requests = ", ".join(f"{n} {what}" for what, n in result.requests.items()) or "none"
    if result.entities:
        covered = (
            f"{_code(result.base_url)} · org {_code(result.org_id)} · {entities} · {result.observations} reads · "
            f"requests: {requests} · {result.duration:.1f} s"
        )
    else:  # a run that did not start (a usage or configuration error): no target worth a line, nothing read
        target = " · ".join(
            part
            for part in (
                _code(result.base_url) if result.base_url else "",
                f"org {_code(result.org_id)}" if result.org_id else "",
            )
            if part
        )
        covered = (f"{target} · " if target else "") + "**the check did not start: nothing was read.**"
    lines = [
        f"## {icon} m3ter conformance: {verdict(result)}",
        "",
        covered,
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
        lines += [
            "",
            "### Findings",
            "",
            "| severity | kind | rule | entity | path | message |",
            "|---|---|---|---|---|---|",
        ]
        for f in result.findings[:MARKDOWN_ROWS]:
            severity = f"{f.severity} (known)" if result.is_known(f) else str(f.severity)
            lines.append(
                f"| {severity} | {kind(f)} | `{f.rule}` | {_code(f.entity_id)} | {_code(f.path)} | {_md(f.message)} |"
            )
        if len(result.findings) > MARKDOWN_ROWS:
            lines.append(f"\n… and {len(result.findings) - MARKDOWN_ROWS} more in the JSON report.")
    suggestions = sorted({(f.rule, _code_span(f.suggestion)) for f in result.findings if f.suggestion})
    if suggestions:
        lines += ["", "### Suggested spec changes", ""]
        lines += [f"- {text} (`{rule}`)" for rule, text in suggestions]
    strict = " · --strict-inferred" if result.strict_inferred else ""
    lines += ["", f"<sub>Rules: {RULES_REFERENCE}{strict} · exit code {result.exit_code}</sub>", ""]
    return "\n".join(lines)


WIDE = 110
"""Terminal columns from which the summary table shows each rule's first finding beside it; below, the table
keeps the rule names whole and the first findings follow it, stacked (an id on a line of its own)."""
QUIET_SHOWN = 5
"""Problems, and findings, that ``--quiet`` prints before saying how many more there are."""
_RULE_WIDTH = max(len(rule.name) for rule in rules.RULES)


def _firsts(result: RunResult) -> dict[str, Finding]:
    firsts: dict[str, Finding] = {}
    for f in result.findings:
        firsts.setdefault(f.rule, f)
    return firsts


def _rule_table(result: RunResult, *, wide: bool) -> Table:
    table = Table(
        title="m3ter conformance",
        caption="documented: m3ter's words · standard: an RFC · inferred: ours · +: mixed (--list-rules)",
        box=box.SIMPLE_HEAVY,
        show_lines=False,
    )
    # A rule name is never cut or wrapped: it is what the reader looks up in RULES.md.
    table.add_column("rule", style="bold", no_wrap=True, min_width=_RULE_WIDTH)
    table.add_column("kind", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("findings", justify="right", no_wrap=True)
    if wide:
        table.add_column("first", ratio=1, overflow="fold")
    counts = Counter(f.rule for f in result.findings)
    firsts = _firsts(result)
    errors = {f.rule for f in result.findings if f.severity == "error" and not result.is_known(f)}
    for rule in rules.RULES:
        n = counts.get(rule.name, 0)
        style = "green" if n == 0 else ("red" if rule.name in errors else "yellow")
        # Every cell is Text: server values (ids, enum values, messages) are never read as rich markup.
        row = [
            Text(rule.name),
            Text(rule_kind(rule)),
            Text(str(rule_severity(rule, result))),
            Text(str(n), style=style),
        ]
        if wide:
            first = firsts.get(rule.name)
            # The entity id on a line of its own, so the cell wraps the message, not the id.
            row.append(
                Text(f"{shown(first.entity_id)}\n{shown(first.path)}: {shown(first.message)}") if first else Text("")
            )
        table.add_row(*row)
    return table


def _stacked_firsts(result: RunResult) -> list[Any]:
    """Each rule's first finding below the table, one field a line: for terminals narrower than :data:`WIDE`."""
    firsts = _firsts(result)
    if not firsts:
        return []
    counts = Counter(f.rule for f in result.findings)
    parts: list[Any] = [Text("first finding of each rule:", style="bold")]
    for name, first in sorted(firsts.items(), key=lambda item: _RULE_ORDER[item[0]]):
        head = Text(name, style="bold")
        known = " (known)" if result.is_known(first) else ""
        head.append(f" · {first.severity}{known} · {kind(first)} · {counts[name]} finding(s)")
        body = Text(f"entity {shown(first.entity_id)}\npath   {shown(first.path)}\n{shown(first.message)}")
        parts += [head, Padding(body, (0, 0, 0, 2))]
    return parts


_RULE_ORDER = {rule.name: index for index, rule in enumerate(rules.RULES)}


def verdict_line(result: RunResult) -> Text:
    """The one-line verdict every summary ends with (``--quiet`` included)."""
    style = {0: "bold green", 1: "bold red", 2: "bold yellow"}[result.exit_code]
    return Text(
        f"{verdict(result).upper()}: {result.errors} error(s), {result.warnings} warning(s), "
        + (f"{result.known} known, " if result.known else "")
        + f"{len(result.problems)} problem(s); {result.observations} reads in {result.duration:.1f}s "
        f"(exit {result.exit_code})",
        style=style,
    )


def _problem(p: Problem) -> Text:
    return Text(f"problem [{p.kind}]: {shown(p.message)}", style="bold red")


class Summary:
    """The terminal summary: findings per rule, then problems, notes and the verdict. Its layout follows the
    width it is rendered at (see :data:`WIDE`)."""

    def __init__(self, result: RunResult) -> None:
        self.result = result

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        result = self.result
        wide = options.max_width >= WIDE
        yield _rule_table(result, wide=wide)
        if not wide:
            yield from _stacked_firsts(result)
        for p in result.problems:
            yield _problem(p)
        for note in result.notes:
            yield Text(f"note: {shown(note)}", style="yellow")
        yield verdict_line(result)


def summary_table(result: RunResult) -> Summary:
    """The terminal summary (a rich renderable): see :class:`Summary`."""
    return Summary(result)


def print_summary(result: RunResult, console: Console) -> None:
    console.print(summary_table(result))


def _labelled(label: str, line: Text) -> Text:
    """``line`` after its organization's name (``[eu] ``), or as it is without one."""
    if not label:
        return line
    head = Text(f"[{label}] ")
    head.append_text(line)
    return head


def first_problems(problems: Sequence[tuple[str, Problem]], shown_at_most: int = QUIET_SHOWN) -> list[Text]:
    """The first ``(label, problem)`` lines (a label names an organization; empty for a single run), then
    how many more there are."""
    lines = [_labelled(label, _problem(p)) for label, p in problems[:shown_at_most]]
    if len(problems) > shown_at_most:
        lines.append(Text(f"… and {len(problems) - shown_at_most} more problem(s) in the reports"))
    return lines


def first_findings(findings: Sequence[tuple[str, Finding]], shown_at_most: int = QUIET_SHOWN) -> list[Text]:
    """The first ``(label, finding)`` lines, errors first (each kind in report order), then how many more."""
    ordered = sorted(findings, key=lambda item: item[1].severity != "error")  # stable
    lines: list[Text] = []
    for label, f in ordered[:shown_at_most]:
        line = Text(str(f.severity), style="red" if f.severity == "error" else "yellow")
        line.append(f" {f.rule} {shown(f.entity_id)} {shown(f.path)}: {shown(f.message)}")
        lines.append(_labelled(label, line))
    if len(ordered) > shown_at_most:
        lines.append(Text(f"… and {len(ordered) - shown_at_most} more finding(s) in the reports"))
    return lines


def quiet_problems(result: RunResult, shown_at_most: int = QUIET_SHOWN) -> list[Text]:
    """What ``--quiet`` prints on stderr: the first problems, then how many more there are."""
    return first_problems([("", p) for p in result.problems], shown_at_most)


def quiet_findings(result: RunResult, shown_at_most: int = QUIET_SHOWN) -> list[Text]:
    """What ``--quiet`` prints on stdout: the first findings outside the baseline (errors first), how many
    more there are, and the verdict line."""
    fresh = [("", f) for f in result.findings if not result.is_known(f)]
    return [*first_findings(fresh, shown_at_most), verdict_line(result)]


__all__ = [
    "QUIET_SHOWN",
    "RULES_REFERENCE",
    "WIDE",
    "Summary",
    "evidence",
    "first_findings",
    "first_problems",
    "json_text",
    "junit_xml",
    "kind",
    "markdown",
    "markdown_text",
    "print_summary",
    "quiet_findings",
    "quiet_problems",
    "rule_kind",
    "rule_severity",
    "summary_table",
    "to_json",
    "verdict",
    "verdict_line",
    "write_json",
]
