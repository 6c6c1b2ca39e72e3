"""The curated spec against m3ter's published OpenAPI: every difference is listed, with its reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from m3ter_contract.spec_facts import (
    COMPARED_SCHEMAS,
    CURATED_SPEC,
    DEVIATIONS,
    SHARED_UPSTREAM_SPEC,
    UPSTREAM_SPEC,
    differences,
    facts,
    load,
)
from openapi_spec_validator import validate


@pytest.fixture(scope="module")
def upstream() -> dict[str, Any]:
    return load(UPSTREAM_SPEC)


@pytest.fixture(scope="module")
def curated() -> dict[str, Any]:
    return load(CURATED_SPEC)


@pytest.fixture(scope="module")
def deviations() -> dict[str, dict[str, Any]]:
    entries = yaml.safe_load(DEVIATIONS.read_text(encoding="utf-8"))
    return {entry["fact"]: entry for entry in entries}


def test_curated_spec_is_valid_openapi_3_1(curated: dict[str, Any]) -> None:
    assert curated["openapi"].startswith("3.1")
    validate(curated)


def _grown(before: Any, after: Any) -> list[Any]:
    """The elements ``after`` adds to ``before`` when it only adds (two lists), else nothing."""
    if not (isinstance(before, list) and isinstance(after, list)):
        return []
    kept = {repr(value) for value in before}
    if not kept <= {repr(value) for value in after}:
        return []
    return [value for value in after if repr(value) not in kept]


def additions(upstream: dict[str, Any], curated: dict[str, Any]) -> set[str]:
    """The differences by which the curated spec is only AHEAD of m3ter's published document: a list that
    only grew (properties, enum values, parameters, response codes) and every fact of a property or a
    parameter the published document lacks. The compatible changes a spec learns from the live API before
    the published document does; everything else (a removal, a changed keyword, a new constraint on an
    existing field) must be listed in spec/deviations.yaml with its reason."""
    found = differences(upstream, curated)
    up, cur = facts(upstream), facts(curated)
    new_owners = {
        f"{fact.removesuffix('.properties')}.{name}"
        for fact, (before, after) in found.items()
        if fact.endswith(".properties")
        for name in _grown(before, after)
    } | {
        f"{fact.removesuffix('.parameters')}.param.{entry.split(':', 1)[1]}"
        for fact, (before, after) in found.items()
        if fact.endswith(".parameters")
        for entry in _grown(before, after)
    }
    grown = {fact for fact, (before, after) in found.items() if _grown(before, after)}
    owned = {
        fact
        for fact in found
        if fact not in up and any(fact.startswith(f"{owner}.") or fact.startswith(f"{owner}[") for owner in new_owners)
    }
    assert all(fact in cur for fact in owned)
    return grown | owned


def test_every_difference_from_upstream_is_listed_with_its_reason(
    upstream: dict[str, Any], curated: dict[str, Any], deviations: dict[str, dict[str, Any]]
) -> None:
    found = differences(upstream, curated)
    ahead = additions(upstream, curated)
    unlisted = {fact: values for fact, values in found.items() if fact not in deviations and fact not in ahead}
    assert unlisted == {}, "differences from upstream missing from spec/deviations.yaml"
    for fact, (upstream_value, curated_value) in found.items():
        if fact not in deviations:
            continue
        entry = deviations[fact]
        assert entry["upstream"] == upstream_value, fact
        # a listed difference may have grown since (a response code, an enum value learned from the API)
        grown = _grown(entry["curated"], curated_value)
        assert entry["curated"] == curated_value or (
            grown and not set(map(repr, grown)) & set(map(repr, upstream_value))
        ), fact
        assert len(entry["reason"]) > 20, f"{fact}: give the reason"


def test_being_ahead_of_upstream_is_only_ever_an_addition(curated: dict[str, Any]) -> None:
    """The allowance above is not vacuous: each compatible addition counts as one, nothing else does."""
    ahead = copy.deepcopy(curated)
    schemas = ahead["components"]["schemas"]
    schemas["BillResponse"]["properties"]["probeNote"] = {"type": "string"}
    schemas["LineItemType"]["enum"].append("PROBE_CHARGE")
    _param(ahead, "additional")  # the operation is there
    ahead["paths"]["/organizations/{orgId}/bills/{id}"]["get"]["parameters"].append(
        {"name": "probe", "in": "query", "required": False, "schema": {"type": "boolean"}}
    )
    assert set(differences(curated, ahead)) == additions(curated, ahead)
    changed = copy.deepcopy(curated)
    changed["components"]["schemas"]["BillResponse"]["properties"]["billTotal"]["minimum"] = 0
    changed["components"]["schemas"]["LineItemType"]["enum"].pop()
    assert additions(curated, changed) == set()


@pytest.mark.parametrize("name", COMPARED_SCHEMAS)
def test_each_compared_schema_is_in_both_documents(
    name: str, upstream: dict[str, Any], curated: dict[str, Any]
) -> None:
    assert name in upstream["components"]["schemas"]
    assert name in curated["components"]["schemas"]


def test_the_curated_spec_carries_every_property_and_value_of_the_published_one(
    upstream: dict[str, Any], curated: dict[str, Any], deviations: dict[str, dict[str, Any]]
) -> None:
    """What the API notes count (37 bill properties, 41 line item properties, 19 line item types) is read
    from m3ter's published document here, so a spec that learns more stays green and one that drops any
    must list it."""
    up, cur = facts(upstream), facts(curated)
    listed = set(deviations)
    for fact in ("BillResponse.properties", "BillLineItem.properties", "LineItemType.enum", "BillingFrequency.enum"):
        assert up[fact], fact
        assert fact in listed or set(cur[fact]) >= set(up[fact]), fact
    for fact in ("BillResponse.required", "BillLineItem.required"):
        assert fact in listed or cur[fact] == up[fact], fact
    assert cur["BillResponse.required"] == ["id"]


def test_each_enum_is_a_named_component(curated: dict[str, Any]) -> None:
    """No inline enums: every enum-valued property refers to a component, so the generator names it."""
    for name, schema in curated["components"]["schemas"].items():
        for prop, node in schema.get("properties", {}).items():
            assert "enum" not in node, f"{name}.{prop} declares an inline enum"
            assert "enum" not in node.get("items", {}), f"{name}.{prop}[] declares an inline enum"


def test_fact_extraction_sees_a_changed_type(upstream: dict[str, Any], curated: dict[str, Any]) -> None:
    """The comparison is not vacuous: a single changed keyword shows up as exactly one difference."""
    edited = yaml.safe_load(yaml.safe_dump(curated))
    edited["components"]["schemas"]["BillLineItem"]["properties"]["quantity"]["type"] = "string"
    assert set(differences(curated, edited)) == {"BillLineItem.quantity.type"}


@pytest.mark.parametrize(
    ("edit", "fact"),
    [
        (lambda d: _param(d, "additional").update(allowEmptyValue=True), "GetBill.param.additional.allowEmptyValue"),
        (lambda d: _param(d, "additional").update(style="spaceDelimited"), "GetBill.param.additional.style"),
        (lambda d: _param(d, "additional").update(explode=True), "GetBill.param.additional.explode"),
        (lambda d: _param(d, "additional").update(allowReserved=True), "GetBill.param.additional.allowReserved"),
        (lambda d: _param(d, "id")["schema"].update(nullable=True), "GetBill.param.id.schema.type"),
        (lambda d: _param(d, "id")["schema"].update(format="uuid"), "GetBill.param.id.schema.format"),
        (lambda d: _param(d, "id")["schema"].update(deprecated=True), "GetBill.param.id.schema.deprecated"),
        (
            lambda d: d["paths"]["/oauth/token"]["post"]["requestBody"].update(required=False),
            "GenerateToken.requestBody.required",
        ),
        (
            lambda d: d["components"]["schemas"]["Error"]["properties"]["message"].update(minLength=1),
            "GetBill.responses.error.application/json.message.minLength",
        ),
        (
            lambda d: d["components"]["schemas"]["BillLineItem"]["properties"]["quantity"].update(maximum=9),
            "BillLineItem.quantity.maximum",
        ),
    ],
)
def test_fact_extraction_sees_every_keyword(curated: dict[str, Any], edit: Any, fact: str) -> None:
    """Parameters, request bodies, responses and schemas: a single changed keyword is a difference."""
    edited = copy.deepcopy(curated)
    edit(edited)
    assert fact in differences(curated, edited)


def test_documentation_and_extensions_are_not_compared(curated: dict[str, Any]) -> None:
    edited = copy.deepcopy(curated)
    _param(edited, "additional").update(description="other words", example="lineItems", **{"x-hint": 1})
    assert differences(curated, edited) == {}


def _param(document: dict[str, Any], name: str) -> dict[str, Any]:
    parameters = document["paths"]["/organizations/{orgId}/bills/{id}"]["get"]["parameters"]
    found: dict[str, Any] = next(p for p in parameters if p["name"] == name)
    return found


def test_version_documents_its_rule(curated: dict[str, Any]) -> None:
    for name in ("BillResponse", "StatementJobResponse"):
        version = curated["components"]["schemas"][name]["properties"]["version"]
        assert version["minimum"] == 1
        assert "incremented by 1" in version["description"]


@pytest.mark.skipif(not SHARED_UPSTREAM_SPEC.exists(), reason="no ../shared/reference beside this checkout")
def test_committed_upstream_copy_is_current() -> None:
    assert UPSTREAM_SPEC.read_bytes() == SHARED_UPSTREAM_SPEC.read_bytes()
