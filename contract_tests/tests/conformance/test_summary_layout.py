"""The terminal summary at 80 and 120 columns, and what ``--quiet`` prints: ids and rule names stay whole."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from m3ter_contract.conformance import report
from m3ter_contract.conformance.runner import Problem, RunResult
from m3ter_contract.rules import RULES, Finding, Severity
from rich.console import Console

ENTITY = "c12ea9b8-e7e1-4ed8-ad26-5dd8bf391fbb"
LONG_RULE = max((rule.name for rule in RULES), key=len)


def _result(findings: int = 2, problems: int = 1) -> RunResult:
    found = [
        Finding(
            ENTITY,
            "GET /organizations/{orgId}/bills/{id}",
            "schema.enum",
            Severity.ERROR,
            "$.lineItems[*].lineItemType",
            '"NOT_IN_THE_SPEC_CHARGE" is not a value the spec lists (STANDING_CHARGE, USAGE, '
            "COUNTER_RUNNING_TOTAL_CHARGE, COUNTER_ADJUSTMENT_DEBIT) (first at $.lineItems[0].lineItemType)",
        ),
        Finding(
            ENTITY,
            "GET /organizations/{orgId}/bills/{id}",
            "drift.unknown-field",
            Severity.WARNING,
            "$.notInTheSpecTotal",
            "field 'notInTheSpecTotal' (number) is not in the spec",
        ),
        Finding(
            "8f1b0c52-3f7e-4d57-9a43-f0e4c1a2b3c4",
            "GET /organizations/{orgId}/statementjobs/{id}",
            LONG_RULE,
            Severity.WARNING,
            "$.presignedJsonStatementUrl",
            "a statement URL while the job is PENDING",
        ),
    ][:findings]
    return RunResult(
        base_url="http://127.0.0.1:PORT",
        org_id="e3e70682-c209-4cac-a29f-6fbed82c07cd",
        embedded=False,
        entities={"bill": 2, "statement_job": 1},
        findings=found,
        problems=[
            Problem("not-found", f"bill nope-{n} does not exist in organization e3e70682: check --bill-id")
            for n in range(problems)
        ],
        observations=3,
        duration=0.25,
    )


def _render(width: int, result: RunResult) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    report.print_summary(result, console)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


@pytest.mark.parametrize("width", [80, 120])
def test_the_summary_keeps_ids_and_rule_names_whole(width: int, snapshot: Callable[[str, str], None]) -> None:
    text = _render(width, _result(findings=3))
    snapshot(f"summary.{width}.txt", text)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for rule in RULES:  # every rule on its row, its name whole
        assert any(line.lstrip().startswith(rule.name + " ") for line in lines), rule.name
    assert "…" not in text
    assert text.count(ENTITY) == 2  # the first finding of each of its two rules, the id never broken
    assert "8f1b0c52-3f7e-4d57-9a43-f0e4c1a2b3c4" in text
    assert text.rstrip().endswith("(exit 2)")


def test_the_layout_follows_the_width() -> None:
    narrow, wide = _render(report.WIDE - 1, _result()), _render(report.WIDE, _result())
    assert "first finding of each rule:" in narrow
    assert "first finding of each rule:" not in wide
    assert wide.splitlines()[2].split()[-1] == "first"  # the table's header names the column


def test_quiet_prints_the_first_problems_and_findings_and_how_many_more() -> None:
    result = _result(findings=3, problems=7)
    problems = [line.plain for line in report.quiet_problems(result, shown_at_most=5)]
    assert problems[:5] == [f"problem [not-found]: {p.message}" for p in result.problems[:5]]
    assert problems[5:] == ["… and 2 more problem(s) in the reports"]
    findings = [line.plain for line in report.quiet_findings(result, shown_at_most=2)]
    assert findings[0].startswith(f"error schema.enum {ENTITY} $.lineItems[*].lineItemType: ")  # errors first
    assert findings[1].startswith(f"warning drift.unknown-field {ENTITY}")
    assert findings[2] == "… and 1 more finding(s) in the reports"
    assert findings[3] == "INCOMPLETE: 1 error(s), 2 warning(s), 7 problem(s); 3 reads in 0.2s (exit 2)"
    assert len(findings) == 4


def test_quiet_leaves_out_the_baseline_and_says_nothing_more_when_all_is_shown() -> None:
    result = _result(findings=2, problems=0)
    result.baseline = frozenset({(ENTITY, "schema.enum", "$.lineItems[*].lineItemType")})
    assert report.quiet_problems(result) == []
    findings = [line.plain for line in report.quiet_findings(result)]
    assert findings == [
        f"warning drift.unknown-field {ENTITY} $.notInTheSpecTotal: field 'notInTheSpecTotal' (number) is not in "
        "the spec",
        "PASS: 0 error(s), 1 warning(s), 1 known, 0 problem(s); 3 reads in 0.2s (exit 0)",
    ]
