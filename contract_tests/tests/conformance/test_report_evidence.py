"""Every report says what each finding stands on (its evidence kind and source), the run's options, and the
severity each rule had in the run; ``--list-rules`` lists the registry."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from m3ter_contract.conformance import combined, command, report
from m3ter_contract.conformance.combined import OrgResult
from m3ter_contract.conformance.runner import RunResult
from m3ter_contract.rules import RULES_BY_NAME, Context, EntityKind, Finding, Observation, Severity, Spec, evaluate
from m3ter_contract.rules.registry import rule_table
from rich.console import Console

BILL = "b1"


def _invoice_findings(context: Context) -> list[Finding]:
    body = {
        "id": BILL,
        "billingFrequency": "MONTHLY",
        "startDate": "2023-09-01",
        "endDate": "2023-10-01",
        "externalInvoiceDate": "2023-09-15",
    }
    return evaluate([Observation(EntityKind.BILL, BILL, "o1", body)], Spec.load(), context=context)


def _result(findings: list[Finding], *, strict: bool = False) -> RunResult:
    return RunResult(
        base_url="http://127.0.0.1:PORT",
        org_id="o1",
        embedded=False,
        entities={"bill": 1, "statement_job": 0},
        findings=findings,
        observations=1,
        strict_inferred=strict,
        external_invoice_date="FIRST_DAY_OF_NEXT_PERIOD" if not strict else None,
    )


def test_each_json_finding_names_its_evidence_kind_and_source() -> None:
    documented = _result(_invoice_findings(Context("FIRST_DAY_OF_NEXT_PERIOD")))
    inferred = _result(_invoice_findings(Context("LAST_DAY_OF_ARREARS")))
    [first] = report.to_json(documented)["findings"]
    [second] = report.to_json(inferred)["findings"]
    assert (first["rule"], first["severity"], first["kind"]) == ("bill.external-invoice-date", "error", "documented")
    assert (second["rule"], second["severity"], second["kind"]) == ("bill.external-invoice-date", "warning", "inferred")
    assert first["source"] == "m3ter OpenAPI, BillResponse.externalInvoiceDate"
    # a finding built by hand (no evidence of its own) gets its rule's
    hand = Finding(BILL, "GET /x", "schema.enum", Severity.ERROR, "$.status", "m")
    [row] = report.to_json(_result([hand]))["findings"]
    assert (row["kind"], row["source"]) == ("standard", "JSON Schema Validation 2020-12, 6.1.2 enum")


def test_the_json_report_records_the_run_options() -> None:
    assert report.to_json(_result([], strict=True))["options"] == {
        "strict_inferred": True,
        "external_invoice_date": None,
    }


def test_a_merged_section_keeps_each_findings_evidence() -> None:
    findings = _invoice_findings(Context("LAST_DAY_OF_ARREARS"))
    section = combined.section(OrgResult("eu", _result(findings, strict=True)))
    [back] = combined.from_section(json.loads(json.dumps(section)), "shard").result.findings
    assert back.evidence == findings[0].evidence
    assert combined.from_section(json.loads(json.dumps(section)), "shard").result.strict_inferred is True


@pytest.mark.parametrize("rule", [r for r in RULES_BY_NAME.values() if r.also], ids=lambda r: r.name)
def test_a_merged_section_tells_apart_evidence_of_the_same_kind(rule: Any) -> None:
    # version.dt-last-modified stands on three inferences (its own, the same instant, a derived change): the
    # report's source tells which one a finding had, not the kind alone. (Two pieces with the same kind and
    # source differ only in what --strict-inferred made of them, which the report's severity already says.)
    findings = [
        Finding(BILL, "GET /x", rule.name, Severity.WARNING, "$", "m", evidence=evidence)
        for evidence in (rule.source, *rule.also)
    ]
    section = combined.section(OrgResult("eu", _result(findings)))
    back = combined.from_section(json.loads(json.dumps(section)), "shard").result.findings

    def shown(found: list[Finding]) -> list[tuple[str, str]]:
        return [(str(f.evidence.kind), f.evidence.ref) for f in found if f.evidence is not None]

    assert len(shown(back)) == len(back)
    assert shown(back) == shown(findings)


def test_the_markdown_findings_have_a_kind_column() -> None:
    text = report.markdown(_result(_invoice_findings(Context("LAST_DAY_OF_ARREARS"))))
    assert "| severity | kind | rule | entity | path | message |" in text
    assert "| warning | inferred | `bill.external-invoice-date` |" in text
    assert "--list-rules" in text


@pytest.mark.parametrize("strict", [False, True])
def test_the_terminal_shows_each_rules_severity_in_this_run(strict: bool) -> None:
    out = io.StringIO()
    report.print_summary(_result([], strict=strict), Console(file=out, width=120, color_system=None))
    [row] = [line for line in out.getvalue().splitlines() if "statement-job.transition" in line]
    rule = RULES_BY_NAME["statement-job.transition"]
    assert "inferred" in row
    assert (rule.strict_severity if strict else rule.severity) in row.split()


def test_list_rules_prints_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(["--list-rules", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == rule_table()
    assert command.main(["--list-rules"]) == 0
    assert "bill.external-invoice-date" in capsys.readouterr().out
