"""Drift evidence: the schema inferred from the values seen, merged conservatively, and where it belongs."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest
from m3ter_contract.rules import EntityKind, Judge, Observation, Spec
from m3ter_contract.rules.drift import MAX_DEPTH, MAX_PROPERTIES, Drift, DriftLog, Sketch

UUID = "0b6c4a57-1d2e-4f3a-8b9c-0d1e2f3a4b5c"


def inferred(*values: Any, openapi: str = "3.1.0") -> dict[str, Any]:
    return reduce(Sketch.merge, map(Sketch.of, values)).schema(openapi=openapi)


@pytest.mark.parametrize(
    ("values", "schema"),
    [
        (("a", "b"), {"type": "string"}),
        ((1, 2), {"type": "integer"}),
        ((1, 2.5), {"type": "number"}),  # an integer and a number make a number
        ((True,), {"type": "boolean"}),  # never an integer
        (("a", 1), {}),  # different types: any value
        ((None,), {}),  # only nulls: nothing to say but "any"
        (("a", None), {"type": ["string", "null"]}),
        (("2024-01-31T10:00:00Z", "2024-02-01T00:00:00.5+01:00"), {"type": "string", "format": "date-time"}),
        (("2024-01-31", "2024-02-29"), {"type": "string", "format": "date"}),
        ((UUID, UUID.upper()), {"type": "string", "format": "uuid"}),
        (("2024-01-31", "2024-01-31T10:00:00Z"), {"type": "string"}),  # formats disagree: none
        (("2024-02-30",), {"type": "string"}),  # not a date
        (("2024-01-31", None), {"type": ["string", "null"], "format": "date"}),
        (([],), {"type": "array", "items": {}}),  # no item seen: any item
        (([1], [2.5], []), {"type": "array", "items": {"type": "number"}}),
        (
            ({"a": 1}, {"a": None, "b": "x"}),
            {"type": "object", "properties": {"a": {"type": ["integer", "null"]}, "b": {"type": "string"}}},
        ),
        (({},), {"type": "object"}),
        (
            ([{"rate": 0.2}, {"rate": 1, "note": UUID}],),
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"note": {"type": "string", "format": "uuid"}, "rate": {"type": "number"}},
                },
            },
        ),
    ],
)
def test_inferred_schema(values: tuple[Any, ...], schema: dict[str, Any]) -> None:
    assert inferred(*values) == schema
    assert inferred(*reversed(values)) == schema  # the order values arrive in changes nothing


def test_openapi_30_spells_null_as_nullable() -> None:
    assert inferred("a", None, openapi="3.0.3") == {"type": "string", "nullable": True}


def test_objects_too_wide_or_too_deep_stay_free_form() -> None:
    wide = {f"k{i}": i for i in range(MAX_PROPERTIES + 1)}
    assert inferred(wide) == {"type": "object"}
    assert inferred({"a": 1}, wide) == {"type": "object"}
    half = {f"k{i}": i for i in range(MAX_PROPERTIES // 2 + 1)}
    other = {f"j{i}": i for i in range(MAX_PROPERTIES // 2 + 1)}
    assert inferred(half, other) == {"type": "object"}  # together past the limit
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = {"d": deep}
    schema = inferred(deep)
    depth = 0
    while "properties" in schema:
        schema, depth = schema["properties"]["d"], depth + 1
    assert depth == MAX_DEPTH
    assert schema == {"type": "object"}


def test_the_judge_merges_every_item_and_read_not_only_the_kept_finding(spec: Spec) -> None:
    judge = Judge(spec)
    items = [{"lineItemType": "USAGE", "note": "a"}, {"lineItemType": "USAGE", "note": None}]
    judge.observe(Observation(EntityKind.BILL, "b1", "o", {"id": "b1", "lineItems": items}))
    judge.observe(Observation(EntityKind.BILL, "b1", "o", {"id": "b1", "lineItems": [{"note": 3}]}))
    notes = [f for f in judge.findings if f.path == "$.lineItems[*].note"]
    assert len(notes) == 1  # one finding per entity and path ...
    (drift,) = judge.drift.fields.values()  # ... but every value is evidence
    assert drift.seen == 3
    assert drift.sketch.schema() == {}  # a string, a null and an integer: any value
    assert list(judge.drift.fields) == [(("components", "schemas", "BillLineItem"), "note")]


def test_enum_drift_names_the_enum_component(spec: Spec) -> None:
    judge = Judge(spec)
    judge.observe(Observation(EntityKind.BILL, "b1", "o", {"id": "b1", "status": "ON_HOLD", "billingFrequency": 7}))
    assert list(judge.drift.enums) == [(("components", "schemas", "BillStatus"), "ON_HOLD")]  # 7 is a type error


def _spec(**schemas: Any) -> Spec:
    return Spec(
        {
            "openapi": "3.1.0",
            "paths": {},
            "components": {
                "schemas": {
                    "BillResponse": schemas["bill"],
                    "StatementJobResponse": {"type": "object", "properties": {"id": {"type": "string"}}},
                    **schemas.get("more", {}),
                }
            },
        }
    )


def test_an_inline_nested_object_is_targeted_where_it_is_written() -> None:
    spec = _spec(
        bill={
            "type": "object",
            "properties": {
                "meta": {"type": "object", "properties": {"tags": {"type": "array", "items": {"$ref": "#/x"}}}},
                "kind": {"type": "string", "enum": ["A"]},
            },
        }
    )
    judge = Judge(spec)
    judge.observe(Observation(EntityKind.BILL, "b", "o", {"meta": {"extra": 1}, "kind": "B"}))
    assert list(judge.drift.fields) == [(("components", "schemas", "BillResponse", "properties", "meta"), "extra")]
    assert list(judge.drift.enums) == [(("components", "schemas", "BillResponse", "properties", "kind"), "B")]


def test_a_property_merged_from_all_of_has_no_single_place() -> None:
    spec = _spec(
        bill={"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object"}]},
        more={
            "Base": {
                "type": "object",
                "properties": {
                    "inner": {"type": "object", "properties": {"a": {}}},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"a": {}}}},
                },
            }
        },
    )
    judge = Judge(spec)
    judge.observe(Observation(EntityKind.BILL, "b", "o", {"inner": {"a": 1, "b": 2}, "top": 1}))
    judge.observe(Observation(EntityKind.BILL, "b", "o", {"list": [{"c": 1}, {"c": 2}]}))
    assert judge.drift.unplaced == {"$.inner.b": 1, "$.list[*].c": 2}  # by schema path, every item counted
    assert list(judge.drift.fields) == [(("components", "schemas", "BillResponse"), "top")]


def test_logs_of_several_runs_merge_as_one_run_would_have_logged() -> None:
    pointer = ("components", "schemas", "BillResponse")
    enum = ("components", "schemas", "LineItemType", "enum")
    seen = [
        (Drift("field", pointer, "futureField", "GetBill", Sketch.of(1)), "$.futureField"),
        (Drift("field", pointer, "futureField", "GetStatementJob", Sketch.of(2.5)), "$.futureField"),
        (Drift("enum", enum, "NEW_KIND", "GetBill"), "$.lineItems[*].lineItemType"),
        (Drift("field", None, "merged", "GetBill", Sketch.of("x")), "$.merged"),
        (Drift("field", None, "merged", "GetBill", Sketch.of("y")), "$.merged"),
    ]
    whole, first, second = DriftLog(), DriftLog(), DriftLog()
    for index, (drift, path) in enumerate(seen):
        whole.add(drift, path)
        (first if index % 2 else second).add(drift, path)
    first.merge(second)
    assert first.fields == whole.fields  # integer and number merged to number, both endpoints, seen twice
    assert first.enums == whole.enums
    assert first.unplaced == whole.unplaced == {"$.merged": 2}
    assert whole.fields[(pointer, "futureField")].seen == 2
