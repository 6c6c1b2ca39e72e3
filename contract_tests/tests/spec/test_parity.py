"""The curated spec against m3ter's published OpenAPI: every difference is listed, with its reason."""

from __future__ import annotations

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


def test_every_difference_from_upstream_is_listed_with_its_reason(
    upstream: dict[str, Any], curated: dict[str, Any], deviations: dict[str, dict[str, Any]]
) -> None:
    found = differences(upstream, curated)
    unlisted = {fact: values for fact, values in found.items() if fact not in deviations}
    assert unlisted == {}, "differences from upstream missing from spec/deviations.yaml"
    for fact, (upstream_value, curated_value) in found.items():
        entry = deviations[fact]
        assert (entry["upstream"], entry["curated"]) == (upstream_value, curated_value), fact
        assert len(entry["reason"]) > 20, f"{fact}: give the reason"


def test_no_listed_deviation_is_stale(
    upstream: dict[str, Any], curated: dict[str, Any], deviations: dict[str, dict[str, Any]]
) -> None:
    assert set(deviations) - set(differences(upstream, curated)) == set()


@pytest.mark.parametrize("name", COMPARED_SCHEMAS)
def test_each_compared_schema_is_in_both_documents(
    name: str, upstream: dict[str, Any], curated: dict[str, Any]
) -> None:
    assert name in upstream["components"]["schemas"]
    assert name in curated["components"]["schemas"]


def test_property_counts_match_the_api_notes(curated: dict[str, Any]) -> None:
    found = facts(curated)
    assert len(found["BillResponse.properties"]) == 37
    assert len(found["BillLineItem.properties"]) == 41
    assert len(found["BillLineItem.required"]) == 10
    assert len(found["LineItemType.enum"]) == 19
    assert found["BillResponse.required"] == ["id"]


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


def test_version_documents_its_rule(curated: dict[str, Any]) -> None:
    for name in ("BillResponse", "StatementJobResponse"):
        version = curated["components"]["schemas"][name]["properties"]["version"]
        assert version["minimum"] == 1
        assert "incremented by 1" in version["description"]


@pytest.mark.skipif(not SHARED_UPSTREAM_SPEC.exists(), reason="no ../shared/reference beside this checkout")
def test_committed_upstream_copy_is_current() -> None:
    assert UPSTREAM_SPEC.read_bytes() == SHARED_UPSTREAM_SPEC.read_bytes()
