"""`--spec` reads OpenAPI 3.0.x and 3.1, m3ter's published document included: nullable, allOf, boolean
exclusiveMinimum, allowEmptyValue, and example values holding arbitrary keys (never read as schema)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import EntityKind, Observation, Spec, SpecError, evaluate
from m3ter_contract.rules.spec import SPEC_ENV, default_spec_path
from m3ter_contract.sandbox import ManualClock, Sandbox
from m3ter_contract.spec_facts import UPSTREAM_SPEC, load


@pytest.fixture(scope="module")
def upstream() -> Spec:
    return Spec.load(UPSTREAM_SPEC)


def _document() -> dict[str, Any]:
    return copy.deepcopy(load(UPSTREAM_SPEC))


def _found(spec: Spec, kind: EntityKind, body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f.rule, str(f.severity), f.path) for f in evaluate([Observation(kind, "e1", "o1", body)], spec)]


def test_the_embedded_check_passes_against_m3ters_published_document(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    argv = ["--spec", str(UPSTREAM_SPEC), "--quiet", "--observe", "2", "--interval", "0", "--report-json", str(report)]
    assert main(argv, environ={}) == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["findings"] == []
    assert document["summary"]["entities"]["bill"] >= 9


async def test_the_whole_lifecycle_of_the_sandbox_passes_against_it(upstream: Spec) -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    options = Options(observe=2, interval=1.0, watch=True, watch_interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, spec=upstream)
    assert (result.findings, result.problems) == ([], [])


def test_it_reads_the_30_idioms(upstream: Spec) -> None:
    assert upstream.openapi.startswith("3.0")
    assert upstream.responses == {EntityKind.BILL: "BillResponse", EntityKind.STATEMENT_JOB: "StatementJobResponse"}
    conversion = upstream.components["CurrencyConversion"]["properties"]["multiplier"]
    assert conversion["exclusiveMinimum"] == 0
    assert "minimum" not in conversion
    assert "example" not in upstream.components["BearerAccessTokenResponse"]


def test_allof_compositions_are_followed_for_drift_and_required(upstream: Spec) -> None:
    body = {"accountId": "a1", "version": 2, "taxTotal": 1.5, "lineItems": [{"lineItemType": "USAGE"}]}
    found = _found(upstream, EntityKind.BILL, body)
    assert ("drift.unknown-field", "warning", "$.taxTotal") in found
    assert ("schema.required", "error", "$.id") in found  # required by AbstractResponse, through allOf
    assert ("schema.required", "error", "$.lineItems[*].description") in found
    assert not [f for f in found if f[2] in ("$.accountId", "$.version")]


def test_a_boolean_exclusive_minimum_still_excludes_its_bound(upstream: Spec) -> None:
    body = {"id": "e1", "currencyConversions": [{"from": "EUR", "to": "USD", "multiplier": 0}]}
    assert _found(upstream, EntityKind.BILL, body) == [
        ("schema.exclusive-minimum", "error", "$.currencyConversions[*].multiplier")
    ]


def test_nullable_admits_null_and_its_absence_makes_a_schema_null_warning() -> None:
    document = _document()
    document["components"]["schemas"]["BillResponse"]["properties"]["purchaseOrderNumber"]["nullable"] = True
    spec = Spec(document)
    assert _found(spec, EntityKind.BILL, {"id": "e1", "purchaseOrderNumber": None}) == []
    assert _found(spec, EntityKind.BILL, {"id": "e1", "billTotal": None}) == [("schema.null", "warning", "$.billTotal")]


def test_example_values_with_arbitrary_keys_are_never_read_as_schema() -> None:
    document = _document()
    line_item = document["components"]["schemas"]["BillLineItem"]
    line_item["example"] = {"anyOf": [1], "oneOf": "x", "not": {"type": "string"}, "properties": {"q": 1}}
    line_item["properties"]["quantity"]["examples"] = [{"anyOf": []}]
    line_item["properties"]["unit"]["x-vendor"] = {"oneOf": []}
    spec = Spec(document)
    assert _found(spec, EntityKind.BILL, {"id": "e1"}) == []


def test_allow_empty_value_and_parameter_keywords_do_not_matter_to_the_reader() -> None:
    document = _document()
    parameters = document["paths"]["/organizations/{orgId}/bills/{id}"]["get"]["parameters"]
    assert any(parameter.get("allowEmptyValue") is True for parameter in parameters)
    Spec(document)  # loads


def test_a_31_document_with_a_null_type_is_read() -> None:
    document = _document()
    document["openapi"] = "3.1.0"
    document["components"]["schemas"]["BillResponse"]["properties"]["billTotal"]["type"] = ["number", "null"]
    spec = Spec(document)
    assert _found(spec, EntityKind.BILL, {"id": "e1", "billTotal": None}) == []


def test_the_response_schema_is_found_through_the_operation() -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    schemas["Bill"] = schemas.pop("BillResponse")
    operation = document["paths"]["/organizations/{orgId}/bills/{id}"]["get"]
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Bill"}
    spec = Spec(document)
    assert spec.responses[EntityKind.BILL] == "Bill"
    found = _found(spec, EntityKind.BILL, {"id": "e1", "taxTotal": 1})
    assert found == [("drift.unknown-field", "warning", "$.taxTotal")]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(openapi="2.0"), "3.0.x and 3.1.x"),
        (
            lambda d: d["components"]["schemas"]["BillLineItem"]["properties"]["unit"].update(anyOf=[{}]),
            "anyOf",
        ),
        (lambda d: d["components"]["schemas"].pop("StatementJobResponse"), "StatementJobResponse"),
    ],
)
def test_a_document_the_rules_cannot_read_is_a_spec_error(edit: Any, message: str, tmp_path: Path) -> None:
    document = _document()
    edit(document)
    with pytest.raises(SpecError, match=message):
        Spec(document)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["--spec", str(path), "--quiet"], environ={}) == 2


def test_a_schema_the_responses_do_not_reach_may_use_anything() -> None:
    document = _document()
    document["components"]["schemas"]["Unrelated"] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    Spec(document)


def test_the_spec_variable_is_read_and_documented_with_the_checks_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "spec.yaml"
    monkeypatch.setenv(SPEC_ENV, str(elsewhere))
    assert default_spec_path() == elsewhere
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The conformance check") : readme.index("## The sandbox")]
    assert f"- `{SPEC_ENV}`: the spec to judge by when `--spec` is not given" in section
