"""The official models' ``to_dict`` / ``to_json`` keywords on ours: what each one changes, at every level,
with the unknown fields the server sent (learned or on the lenient path) kept under each of them."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import msgspec
import pytest
from m3ter_billing import UNSET, BillResponse, M3terModel, StatementJobResponse

LINE_ITEM: dict[str, Any] = {
    "description": "API calls",
    "quantity": 1200,
    "units": 1200.0,
    "unit": "calls",
    "subtotal": 12.5,
    "currency": "USD",
    "conversionRate": 1,
    "convertedSubtotal": 12.5,
    "averageUnitPrice": 0.0104,
    "lineItemType": "USAGE",
    "productName": None,
    "segment": {"region": "eu"},
    "additional": {"note": None, "anything": [1, {"nested": True}]},
    "optionsLineNote": "kept",  # unknown to the spec: learned
}


def bill_body(*, lenient: bool = False) -> dict[str, Any]:
    body = {
        "id": "bill-1",
        "version": 3,
        "status": "APPROVED",
        "billingFrequency": "MONTHLY",
        "startDate": "2023-09-01",
        "dtCreated": "2023-10-02T08:15:30.123456+02:00",
        "accountCode": None,
        "currencyConversions": [{"from": "GBP", "to": "USD", "multiplier": 1.27}],
        "lineItems": [LINE_ITEM, {**LINE_ITEM, "lineItemType": "OPTIONS_NEW_KIND"}],
        "optionsTopNull": None,  # unknown and null
        "optionsTopObject": {"inner": None},  # unknown, holding a null
    }
    if lenient:  # a name msgspec cannot declare: the lenient path keeps every unknown field of the body
        body['options"lenient'] = 7
    return body


@pytest.fixture(params=["learned", "lenient"])
def bill(request: pytest.FixtureRequest) -> BillResponse:
    return BillResponse.from_json(json.dumps(bill_body(lenient=request.param == "lenient")).encode())


def _field_names(model: M3terModel) -> dict[str, str]:
    """Wire name -> attribute name of the fields ``model``'s spec class declares."""
    base = type(model)._drift_base or type(model)
    return {field.encode_name: field.name for field in msgspec.structs.fields(base)}


def test_the_defaults_are_the_wire_form_as_before(bill: BillResponse) -> None:
    wire = bill.to_dict()
    assert wire["startDate"] == "2023-09-01"
    assert wire["lineItems"][1]["lineItemType"] == "OPTIONS_NEW_KIND"
    unknown = bill.additional_properties
    assert {"optionsTopNull", "optionsTopObject"} <= set(unknown)
    assert {key: wire[key] for key in unknown} == unknown
    assert wire["lineItems"][0]["optionsLineNote"] == "kept"
    spelled_out = bill.to_dict(
        mode="json", use_api_names=True, exclude_unset=True, exclude_defaults=False, exclude_none=False, warnings=True
    )
    assert spelled_out == wire
    assert bill.to_dict(warnings=False) == wire
    assert json.loads(bill.to_json()) == wire
    assert bill.to_json() == bill.to_json(indent=None)
    assert b"\n" not in bill.to_json()


def test_python_mode_keeps_dates_date_times_and_enum_members(bill: BillResponse) -> None:
    data = bill.to_dict(mode="python")
    assert data["startDate"] == datetime.date(2023, 9, 1)
    assert data["dtCreated"] == datetime.datetime(
        2023, 10, 2, 8, 15, 30, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert data["status"] is bill.status
    assert isinstance(data["status"], enum.Enum)
    assert data["status"] == "APPROVED"
    kinds = [item["lineItemType"] for item in data["lineItems"]]
    assert all(isinstance(kind, enum.Enum) for kind in kinds)
    assert [kind.is_known for kind in kinds] == [True, False]
    # The same values otherwise, unknown fields included: encoded, it is the JSON mode.
    assert msgspec.to_builtins(data) == bill.to_dict() == bill.to_dict(mode="json")


def test_python_mode_hands_out_copies(bill: BillResponse) -> None:
    data = bill.to_dict(mode="python")
    data["lineItems"][0]["segment"]["region"] = "changed"
    data["lineItems"][0]["additional"]["anything"].append(2)
    data["optionsTopObject"]["inner"] = "changed"
    assert bill.to_dict()["lineItems"][0]["segment"] == {"region": "eu"}
    assert bill.to_dict()["lineItems"][0]["additional"]["anything"] == [1, {"nested": True}]
    assert bill.additional_properties["optionsTopObject"] == {"inner": None}


def test_attribute_names_at_every_level(bill: BillResponse) -> None:
    data = bill.to_dict(use_api_names=False)
    wire = bill.to_dict()

    def check(model: M3terModel, snake: dict[str, Any], camel: dict[str, Any]) -> None:
        names = _field_names(model)
        unknown = set(camel) - set(names)
        assert set(snake) == {names[key] for key in camel if key in names} | unknown
        assert {key: snake[key] for key in unknown} == {key: camel[key] for key in unknown}
        for key, name in names.items():
            value = getattr(model, name)
            if isinstance(value, M3terModel):
                check(value, snake[name], camel[key])
            elif isinstance(value, list) and value and isinstance(value[0], M3terModel):
                for item, item_snake, item_camel in zip(value, snake[name], camel[key], strict=True):
                    check(item, item_snake, item_camel)
            elif value is not UNSET:
                assert snake[name] == camel[key]

    check(bill, data, wire)
    assert data["currency_conversions"][0]["from_"] == "GBP"
    assert data["line_items"][0]["optionsLineNote"] == "kept"
    assert {key: data[key] for key in bill.additional_properties} == bill.additional_properties


def test_an_unknown_field_named_like_an_attribute_is_never_lost() -> None:
    bill = BillResponse.from_dict({"id": "bill-1", "billTotal": 1.5, "bill_total": "the server's own"})
    assert bill.to_dict()["bill_total"] == "the server's own"
    with pytest.raises(ValueError, match=r"use_api_names=False: the unknown field 'bill_total'"):
        bill.to_dict(use_api_names=False)
    with pytest.raises(ValueError, match="use_api_names=False"):
        bill.to_json(use_api_names=False)


def test_exclude_none_drops_nulls_at_every_level_but_inside_dict_fields(bill: BillResponse) -> None:
    data = bill.to_dict(exclude_none=True)
    wire = bill.to_dict()
    assert "accountCode" not in data
    assert "optionsTopNull" not in data  # an unknown null, as the official models drop it
    assert data["optionsTopObject"] == {"inner": None}  # inside a value: kept
    for item in data["lineItems"]:
        assert "productName" not in item
        assert item["additional"]["note"] is None  # a dict-valued field is a value, not a model
        assert item["optionsLineNote"] == "kept"
    nulls = {"accountCode", "optionsTopNull"}
    assert {key: value for key, value in data.items() if key != "lineItems"} == {
        key: value for key, value in wire.items() if key not in nulls and key != "lineItems"
    }


def test_exclude_unset_false_lists_every_field_at_every_level(bill: BillResponse) -> None:
    data = bill.to_dict(exclude_unset=False)
    wire = bill.to_dict()
    for model, out in [(bill, data), *zip(bill.line_items or [], data["lineItems"], strict=True)]:
        names = _field_names(model)
        assert set(names) <= set(out)
        for key, name in names.items():
            if getattr(model, name) is UNSET:
                assert out[key] is None
    assert {key: data[key] for key in wire if key != "lineItems"} == {
        key: value for key, value in wire.items() if key != "lineItems"
    }
    assert data["lineItems"][0]["optionsLineNote"] == "kept"
    assert {key: data[key] for key in bill.additional_properties} == bill.additional_properties
    # With exclude_none=True too, absent and null fields alike are left out.
    assert bill.to_dict(exclude_unset=False, exclude_none=True) == bill.to_dict(exclude_none=True)


def test_exclude_defaults_drops_absent_and_null_optional_fields(bill: BillResponse) -> None:
    # The official models' optional fields default to None: null or absent is "the default".
    variants: list[dict[str, Any]] = [{}, {"exclude_unset": False}]
    for keywords in variants:
        data = bill.to_dict(exclude_defaults=True, **keywords)
        assert "accountCode" not in data
        assert "billTotal" not in data
        assert all("productName" not in item for item in data["lineItems"])
        assert data["optionsTopNull"] is None  # an unknown field has no default: kept
        assert data["lineItems"][0]["optionsLineNote"] == "kept"
        assert data["id"] == "bill-1"


def test_required_fields_stay_under_every_exclusion() -> None:
    job = StatementJobResponse.from_dict({"id": "job-1", "version": 1})
    variants: list[dict[str, Any]] = [{"exclude_none": True}, {"exclude_defaults": True}, {"exclude_unset": False}]
    for keywords in variants:
        assert job.to_dict(**keywords)["id"] == "job-1"


@pytest.mark.parametrize(
    "keywords",
    [
        {"use_api_names": False},
        {"exclude_unset": False},
        {"exclude_defaults": True},
        {"exclude_none": True},
        {"exclude_unset": False, "exclude_none": True, "use_api_names": False},
        {"warnings": False},
    ],
    ids=repr,
)
def test_to_json_is_the_json_mode_dict(bill: BillResponse, keywords: dict[str, Any]) -> None:
    data = bill.to_dict(mode="json", **keywords)
    assert json.loads(bill.to_json(**keywords)) == data
    assert data["lineItems" if keywords.get("use_api_names", True) else "line_items"][0]["optionsLineNote"] == "kept"


@pytest.mark.parametrize("indent", [0, 1, 2, 4])
def test_to_json_indents_as_json_dumps_does(bill: BillResponse, indent: int) -> None:
    expected = json.dumps(bill.to_dict(), indent=indent, ensure_ascii=False).encode()
    assert bill.to_json(indent=indent) == expected
    assert (
        bill.to_json(indent=indent, exclude_none=True)
        == json.dumps(bill.to_dict(exclude_none=True), indent=indent, ensure_ascii=False).encode()
    )


def test_a_keyword_that_cannot_be_honoured_is_refused(bill: BillResponse) -> None:
    with pytest.raises(ValueError, match=r"to_dict\(\) mode= must be 'json' or 'python', not 'xml'"):
        bill.to_dict(mode="xml")  # type: ignore[arg-type]
    for name in ("use_api_names", "exclude_unset", "exclude_defaults", "exclude_none", "warnings"):
        with pytest.raises(TypeError, match=rf"to_dict\(\) {name}= must be a bool, not str"):
            bill.to_dict(**{name: "yes"})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=rf"to_json\(\) {name}= must be a bool, not int"):
            bill.to_json(**{name: 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"to_json\(\) indent= must be 0 or more, not -1"):
        bill.to_json(indent=-1)
    for indent in (True, 2.0, "2"):
        with pytest.raises(TypeError, match=r"to_json\(\) indent= must be an int or None"):
            bill.to_json(indent=indent)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bill.to_json(mode="python")  # type: ignore[call-arg]  # JSON has no Python mode
