"""The rules on hand-made observations: both externalInvoiceDate settings, drift suggestions, the registry."""

from __future__ import annotations

import copy
from pathlib import Path

from m3ter_contract.rules import RULES, EntityKind, Observation, Spec, evaluate
from m3ter_contract.rules import doc as rules_doc
from m3ter_contract.rules.spec import ANNOTATIONS, KNOWN_KEYWORDS, STRUCTURE, top_level_keywords
from m3ter_contract.rules.versioning import content_view
from m3ter_contract.sandbox import Sandbox
from m3ter_contract.spec_facts import CURATED_SPEC, load


def _bill(sandbox: Sandbox, name: str) -> tuple[str, dict[str, object]]:
    bill_id = sandbox.seeded.bills[name]
    org = next(o for o in sandbox.state.orgs if any(b.id == bill_id for b in sandbox.state.org_bills(o)))
    return org, sandbox.bill(bill_id)


def test_both_external_invoice_date_settings_pass_and_a_day_off_fails(sandbox: Sandbox, spec: Spec) -> None:
    for name in ("monthly", "arrears_monthly", "arrears_weekly", "quarterly"):
        org, body = _bill(sandbox, name)
        obs = Observation(EntityKind.BILL, str(body["id"]), org, body)
        assert evaluate([obs], spec) == [], name
    org, body = _bill(sandbox, "arrears_monthly")
    assert body["externalInvoiceDate"] == "2023-09-30"  # LAST_DAY_OF_ARREARS for September 2023
    broken = {**body, "externalInvoiceDate": "2023-09-29"}
    findings = evaluate([Observation(EntityKind.BILL, str(body["id"]), org, broken)], spec)
    assert [(f.rule, f.path) for f in findings] == [("bill.external-invoice-date", "$.externalInvoiceDate")]
    assert "2023-10-01 (FIRST_DAY_OF_NEXT_PERIOD)" in findings[0].message
    assert "2023-09-30 (LAST_DAY_OF_ARREARS)" in findings[0].message


# Drift the spec can never have learned: a spec that adds CARBON_OFFSET or taxTotal (what the check suggests)
# must not turn this test red.
UNLISTED_TYPE = "NOT_IN_THE_SPEC_CHARGE"
UNLISTED_FIELD = "notInTheSpecTotal"


def test_drift_findings_carry_a_suggested_spec_change(sandbox: Sandbox, spec: Spec) -> None:
    schemas = load(CURATED_SPEC)["components"]["schemas"]
    assert UNLISTED_TYPE not in schemas["LineItemType"]["enum"]
    assert UNLISTED_FIELD not in schemas["BillResponse"]["properties"]
    org, body = _bill(sandbox, "monthly")
    body = copy.deepcopy(body)
    body[UNLISTED_FIELD] = 12.5
    line_items = body["lineItems"]
    assert isinstance(line_items, list)
    line_items[0]["lineItemType"] = UNLISTED_TYPE
    findings = {f.rule: f for f in evaluate([Observation(EntityKind.BILL, str(body["id"]), org, body)], spec)}
    assert set(findings) == {"drift.unknown-field", "schema.enum"}
    field = findings["drift.unknown-field"]
    assert (field.severity, field.path) == ("warning", f"$.{UNLISTED_FIELD}")
    assert field.suggestion == f"add `{UNLISTED_FIELD}: {{type: number}}` to components.schemas.BillResponse.properties"
    enum = findings["schema.enum"]
    assert (enum.severity, enum.path) == ("error", "$.lineItems[*].lineItemType")
    assert "(first at $.lineItems[0].lineItemType)" in enum.message
    assert enum.suggestion == f'add "{UNLISTED_TYPE}" to components.schemas.LineItemType.enum'


def test_null_in_an_optional_field_is_a_schema_null_warning(spec: Spec) -> None:
    body = {"id": "j1", "statementJobStatus": None, "presignedJsonStatementUrl": None, "filters": None}
    findings = evaluate([Observation(EntityKind.STATEMENT_JOB, "j1", "org", body)], spec)
    assert [(f.rule, f.severity, f.path) for f in findings] == [
        ("schema.null", "warning", "$.filters"),
        ("schema.null", "warning", "$.presignedJsonStatementUrl"),
        ("schema.null", "warning", "$.statementJobStatus"),  # one finding, not also an enum error
    ]
    assert "absent" in findings[0].message


def test_null_in_a_required_field_an_item_or_a_map_value_stays_a_type_error(spec: Spec) -> None:
    item = {
        "description": None,
        "quantity": 1,
        "units": 1,
        "unit": "call",
        "subtotal": 1.0,
        "currency": "USD",
        "conversionRate": 1.0,
        "convertedSubtotal": 1.0,
        "averageUnitPrice": 1.0,
        "lineItemType": "USAGE",
        "segment": {"region": None},
    }
    body = {"id": "b1", "lineItems": [item, None], "currencyConversions": [{"from": "EUR", "to": None}]}
    findings = evaluate([Observation(EntityKind.BILL, "b1", "org", body)], spec)
    assert sorted((f.rule, f.severity, f.path) for f in findings) == [
        ("schema.type", "error", "$.currencyConversions[*].to"),
        ("schema.type", "error", "$.lineItems[*]"),
        ("schema.type", "error", "$.lineItems[*].description"),
        ("schema.type", "error", "$.lineItems[*].segment.region"),
    ]
    assert all("null" in f.message for f in findings)


def test_a_nullable_field_may_be_null(spec: Spec) -> None:
    document = copy.deepcopy(dict(spec.document))
    document["components"]["schemas"]["BillResponse"]["properties"]["purchaseOrderNumber"]["type"] = [
        "string",
        "null",
    ]
    body = {"id": "b1", "purchaseOrderNumber": None}
    assert evaluate([Observation(EntityKind.BILL, "b1", "org", body)], Spec(document)) == []


def test_presigned_urls_are_compared_by_presence_only() -> None:
    before = {"version": 3, "presignedJsonStatementUrl": "https://b/s.json?X-Amz-Signature=a"}
    after = {"version": 3, "presignedJsonStatementUrl": "https://b/s.json?X-Amz-Signature=b"}
    assert content_view(before) == content_view(after)
    assert content_view(before) != content_view({"version": 3})


def test_the_schema_rules_name_every_keyword_the_spec_uses(spec: Spec) -> None:
    validation = top_level_keywords(spec.components) - STRUCTURE - ANNOTATIONS - {"x-m3ter-rule"}
    assert validation <= KNOWN_KEYWORDS


def test_every_rule_has_evidence_and_a_unique_name() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)) >= 25
    for rule in RULES:
        assert rule.source.text.strip(), rule.name
        assert rule.source.where.strip(), rule.name
        assert rule.summary.strip(), rule.name
        assert rule.severity in ("error", "warning")


def test_docs_rules_table_is_up_to_date() -> None:
    path = Path(__file__).resolve().parents[3] / "contract_tests" / "RULES.md"
    assert path.read_text(encoding="utf-8") == rules_doc.render(), "run: python -m m3ter_contract.rules.doc"
    assert rules_doc.main(["--check", str(path)]) == 0


def test_doc_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "RULES.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert rules_doc.main(["--check", str(stale)]) == 1
    assert rules_doc.main([str(stale)]) == 0
    assert rules_doc.main(["--check", str(stale)]) == 0
