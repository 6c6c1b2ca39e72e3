"""The generated models against payloads drawn from the spec's component schemas (schemathesis's generator):
valid payloads round-trip through from_dict/to_dict, and malformed ones raise only the package's errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
from typing import Any

import jsonschema_rs
import m3ter_billing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from m3ter_contract.rules import Spec
from schemathesis.generation.jsonschema.builder import build
from schemathesis.specs.openapi.formats import get_default_format_strategies

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODELS: dict[str, type[m3ter_billing.M3terModel]] = {
    "BillResponse": m3ter_billing.BillResponse,
    "StatementJobResponse": m3ter_billing.StatementJobResponse,
    "BillLineItem": m3ter_billing.BillLineItem,
    "CurrencyConversion": m3ter_billing.CurrencyConversion,
}


def payloads(name: str) -> st.SearchStrategy[Any]:
    document = Spec.load().document
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return build(root, draft=jsonschema_rs.Draft202012, formats=get_default_format_strategies())


_POISON = """
import sys, m3ter_billing
item = {"description": "d", "quantity": 1, "units": 1, "unit": "u", "subtotal": 1, "currency": "USD",
        "conversionRate": 1, "convertedSubtotal": 1, "averageUnitPrice": 1, "lineItemType": "USAGE"}
key = sys.argv[1]
obj = m3ter_billing.BillLineItem.from_dict({**item, key: 1})
assert obj.additional_properties == {key: 1}, obj.additional_properties
assert obj.to_dict()[key] == 1
import json
again = m3ter_billing.BillLineItem.from_json(json.dumps({**item, key: 2}))
assert again.additional_properties == {key: 2}
assert m3ter_billing.BillLineItem.from_dict(item).additional_properties == {}  # the next payload still decodes
"""


@pytest.mark.parametrize("key", ['a"b', "a\\b", "a\x01b"])
def test_unknown_field_names_with_json_escapes_do_not_break_the_client(key: str) -> None:
    # A subprocess: the client's learned-field registry is process-wide; a refused name must not poison it.
    done = subprocess.run([sys.executable, "-c", _POISON, key], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]


def _same_instant(left: Any, right: Any) -> bool:
    """Dates and date-times may be re-spelled by the model (``.1`` -> ``.100000``); compare their values."""
    for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
        try:
            return bool(parse(left) == parse(right))
        except (TypeError, ValueError):
            continue
    return False


def equivalent(left: Any, right: Any) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(equivalent(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(equivalent(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, str) and isinstance(right, str) and left != right:
        return _same_instant(left, right)
    return bool(left == right and type(left) is type(right)) or (
        isinstance(left, int | float) and isinstance(right, int | float) and left == right
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_valid_payloads_round_trip(name: str) -> None:
    model = MODELS[name]

    @SETTINGS
    @given(payloads(name))
    def check(payload: Any) -> None:
        obj = model.from_dict(payload)
        assert equivalent(obj.to_dict(), payload), (payload, obj.to_dict())

    check()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["id", "version", "billDate", "dtCreated", "status", "lineItems", "currencyConversions", "filters"]


@st.composite
def malformed(draw: st.DrawFn, name: str) -> Any:
    """A valid payload with one known field replaced by arbitrary JSON, or arbitrary JSON altogether."""
    if draw(st.booleans()):
        return draw(JSON)
    payload = dict(draw(payloads(name)))
    payload[draw(st.sampled_from(FIELDS))] = draw(JSON)
    return payload


@pytest.mark.parametrize("name", ["BillResponse", "StatementJobResponse"])
def test_malformed_payloads_raise_only_typed_errors(name: str) -> None:
    model = MODELS[name]

    @SETTINGS
    @given(malformed(name))
    def check(payload: Any) -> None:
        error: Exception | None = None
        try:
            model.from_dict(payload)
        except Exception as exc:
            error = exc
        if error is not None:
            assert isinstance(error, m3ter_billing.ResponseValidationError), f"{error!r} is not a typed error"
            assert error.path.startswith("$")

    check()


@SETTINGS
@given(st.binary(max_size=64))
def test_garbage_bytes_raise_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(m3ter_billing.ResponseValidationError):
        m3ter_billing.BillResponse.from_json(data)
