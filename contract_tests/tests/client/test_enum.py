"""Open enums: every documented value parses; an unknown one parses, is kept and round-trips."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from m3ter_billing import (
    BillingFrequency,
    BillResponse,
    BillStatus,
    LineItemType,
    OpenStrEnum,
    StatementJobResponse,
    StatementJobStatus,
    StatementStatus,
)
from m3ter_contract.spec_facts import CURATED_SPEC, UPSTREAM_SPEC, load

from .support import REQUIRED_LINE_ITEM

# The values the spec documents, read from it: a value added to the spec without regenerating fails here.
_SCHEMAS = load(CURATED_SPEC)["components"]["schemas"]
DOCUMENTED: dict[type[OpenStrEnum], list[str]] = {
    enum: list(_SCHEMAS[enum.__name__]["enum"])
    for enum in (BillStatus, BillingFrequency, StatementJobStatus, StatementStatus, LineItemType)
}


@pytest.mark.parametrize("enum", DOCUMENTED, ids=[e.__name__ for e in DOCUMENTED])
def test_the_spec_lists_every_value_of_the_published_document(enum: type[OpenStrEnum]) -> None:
    """Not vacuous: the spec's values include m3ter's published ones (it may list more, learned since)."""
    published = load(UPSTREAM_SPEC)["components"]["schemas"][enum.__name__]["enum"]
    assert published
    assert set(DOCUMENTED[enum]) >= set(published)


def _bill(field: str, value: str) -> BillResponse:
    if field == "lineItemType":
        return BillResponse.from_json(json.dumps({"id": "b", "lineItems": [{**REQUIRED_LINE_ITEM, field: value}]}))
    return BillResponse.from_json(json.dumps({"id": "b", field: value}))


def _job(field: str, value: str) -> StatementJobResponse:
    return StatementJobResponse.from_json(json.dumps({"id": "j", field: value}))


# (wire field, enum class, parse a body with that value, read the value back)
FIELDS = [
    ("statementJobStatus", StatementJobStatus, _job, lambda m: m.statement_job_status),
    ("jsonStatementStatus", StatementStatus, _job, lambda m: m.json_statement_status),
    ("csvStatementStatus", StatementStatus, _job, lambda m: m.csv_statement_status),
    ("status", BillStatus, _bill, lambda m: m.status),
    ("billingFrequency", BillingFrequency, _bill, lambda m: m.billing_frequency),
    ("lineItemType", LineItemType, _bill, lambda m: m.line_items[0].line_item_type),
]
FIELD_IDS = [f[0] for f in FIELDS]


@pytest.mark.parametrize(("enum", "values"), DOCUMENTED.items(), ids=[e.__name__ for e in DOCUMENTED])
def test_every_documented_value_is_a_known_member(enum: type[OpenStrEnum], values: list[str]) -> None:
    assert sorted(member.value for member in enum) == sorted(values)
    for value in values:
        member = enum(value)
        assert member.is_known
        assert member == value
        assert member is enum[value]


@pytest.mark.parametrize(("field", "enum", "parse", "read"), FIELDS, ids=FIELD_IDS)
def test_every_documented_value_parses_in_its_field(field: str, enum: type[OpenStrEnum], parse: Any, read: Any) -> None:
    for value in DOCUMENTED[enum]:
        model = parse(field, value)
        member = read(model)
        assert isinstance(member, enum)
        assert member.is_known
        assert member == value


@pytest.mark.parametrize(("field", "enum", "parse", "read"), FIELDS, ids=FIELD_IDS)
def test_unknown_value_parses_is_kept_and_round_trips(
    field: str, enum: type[OpenStrEnum], parse: Any, read: Any
) -> None:
    model = parse(field, "SOMETHING_NEW_2031")
    member = read(model)
    assert isinstance(member, enum)
    assert member.is_known is False
    assert member == "SOMETHING_NEW_2031"
    assert member.value == "SOMETHING_NEW_2031"
    assert str(member) == "SOMETHING_NEW_2031"
    assert "SOMETHING_NEW_2031" in repr(member)
    out = model.to_dict()
    wire = out["lineItems"][0][field] if field == "lineItemType" else out[field]
    assert wire == "SOMETHING_NEW_2031"
    assert type(model).from_dict(out).to_dict() == out
    assert type(model).from_json(model.to_json()) == model


def test_unknown_value_is_the_same_object_each_time_and_not_a_listed_member() -> None:
    first: OpenStrEnum = LineItemType("BRAND_NEW")
    other: OpenStrEnum = StatementStatus("BRAND_NEW")
    assert LineItemType("BRAND_NEW") is first
    assert first not in list(LineItemType)
    assert "BRAND_NEW" not in LineItemType.__members__
    assert first != LineItemType.USAGE
    assert other is not first  # one pseudo-member per enum class
    assert isinstance(other, StatementStatus)


def test_unknown_values_survive_copy_and_pickle() -> None:
    member = BillingFrequency("FORTNIGHTLY")
    assert copy.deepcopy(member) is member
    assert pickle.loads(pickle.dumps(member)) is member  # noqa: S301
    assert pickle.loads(pickle.dumps(BillingFrequency.DAILY)) is BillingFrequency.DAILY  # noqa: S301


def test_non_string_values_are_still_rejected() -> None:
    with pytest.raises(ValueError, match="1"):
        BillStatus(1)  # type: ignore[arg-type]


def test_known_member_repr_and_str() -> None:
    assert str(BillStatus.APPROVED) == "APPROVED"
    assert repr(BillStatus.APPROVED) == "<BillStatus.APPROVED: 'APPROVED'>"
    assert f"{BillStatus.APPROVED}" == "APPROVED"


def test_unknown_value_in_a_non_string_type_is_a_validation_error() -> None:
    from m3ter_billing import ResponseValidationError

    with pytest.raises(ResponseValidationError) as info:
        StatementJobResponse.from_json(b'{"id": "j", "statementJobStatus": 3}')
    assert info.value.path == "$.statementJobStatus"


def test_unknown_values_past_the_cache_limit_still_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from m3ter_billing import _enum

    monkeypatch.setattr(_enum, "MAX_UNKNOWN", 3)
    monkeypatch.setattr(_enum, "_unknown_members", {})
    values = [f"NEW_KIND_{n}" for n in range(10)]
    members = [LineItemType(value) for value in values]
    assert members == values
    assert not any(member.is_known for member in members)
    assert LineItemType("NEW_KIND_9") == LineItemType("NEW_KIND_9")
    assert LineItemType("NEW_KIND_0") is members[0]  # the first ones stay cached
    assert len(_enum._unknown_members) == 3  # the cache does not grow past its limit
