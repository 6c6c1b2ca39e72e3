"""Fields the spec does not know: learned once, then decoded at full speed, never lost."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator

import pytest
from m3ter_billing import BillLineItem, BillResponse, _learned

from .support import REQUIRED_LINE_ITEM

BODY = {
    "id": "bill-1",
    "brandNew": {"nested": [1, 2]},
    "lineItems": [
        {
            **REQUIRED_LINE_ITEM,
            "taxCode": "VAT-20",
            "usagePerPricingBand": [{"bandQuantity": 1, "bandTier": "gold"}],
        }
    ],
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    _learned.forget()
    yield
    _learned.forget()


def test_unknown_fields_at_every_level_are_kept_and_round_trip() -> None:
    bill = BillResponse.from_json(json.dumps(BODY))
    assert isinstance(bill, BillResponse)
    assert isinstance(bill.line_items[0], BillLineItem)
    assert bill.additional_properties == {"brandNew": {"nested": [1, 2]}}
    assert bill.line_items[0].additional_properties == {"taxCode": "VAT-20"}
    assert bill.line_items[0].usage_per_pricing_band[0].additional_properties == {"bandTier": "gold"}
    assert bill.to_dict() == json.loads(json.dumps(BODY)) | {"lineItems": bill.to_dict()["lineItems"]}
    assert bill.to_dict()["lineItems"][0]["taxCode"] == "VAT-20"
    assert json.loads(bill.to_json()) == bill.to_dict()


def test_a_learned_field_is_absent_from_bodies_that_do_not_carry_it() -> None:
    BillResponse.from_json(json.dumps(BODY))
    plain = BillResponse.from_json(b'{"id": "bill-2", "lineItems": []}')
    assert plain.additional_properties == {}
    assert plain.to_dict() == {"id": "bill-2", "lineItems": []}
    assert "brandNew" not in repr(plain)


def test_from_json_and_from_dict_agree() -> None:
    assert BillResponse.from_json(json.dumps(BODY)) == BillResponse.from_dict(BODY)
    assert BillResponse.from_dict(BODY).to_dict()["brandNew"] == {"nested": [1, 2]}


def test_copy_deepcopy_and_pickle_keep_learned_fields() -> None:
    bill = BillResponse.from_json(json.dumps(BODY))
    for clone in (copy.copy(bill), copy.deepcopy(bill), pickle.loads(pickle.dumps(bill))):  # noqa: S301
        assert clone.to_dict() == bill.to_dict()
        assert clone.line_items[0].additional_properties == {"taxCode": "VAT-20"}


def test_repr_names_unknown_fields_as_additional_properties() -> None:
    text = repr(BillResponse.from_json(json.dumps(BODY)))
    assert "additional_properties={'brandNew'" in text
    assert "_m3ter_extra_" not in text


def test_past_the_learning_limit_nothing_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_learned, "MAX_LEARNED", 0)
    bill = BillResponse.from_json(json.dumps(BODY))
    assert bill.additional_properties == {"brandNew": {"nested": [1, 2]}}
    assert bill.line_items[0].usage_per_pricing_band[0].additional_properties == {"bandTier": "gold"}
    assert bill.to_dict()["lineItems"][0]["taxCode"] == "VAT-20"


def test_a_server_inventing_keys_does_not_grow_the_registry_without_bound() -> None:
    for n in range(_learned.MAX_LEARNED + 20):
        bill = BillResponse.from_json(json.dumps({"id": "b", f"key{n}": n}))
        assert bill.additional_properties == {f"key{n}": n}
    assert len(_learned._names[BillResponse]) == _learned.MAX_LEARNED


def test_type_errors_still_name_their_path_after_learning() -> None:
    BillResponse.from_json(json.dumps(BODY))
    broken = json.loads(json.dumps(BODY))
    broken["lineItems"][0]["quantity"] = "many"
    from m3ter_billing import ResponseValidationError

    with pytest.raises(ResponseValidationError) as caught:
        BillResponse.from_json(json.dumps(broken))
    assert caught.value.path == "$.lineItems[0].quantity"


# Run in a child interpreter: a data race in msgspec's type setup crashes the process, and a crash there
# must fail this test rather than kill pytest. The child prints one line per thread when all went well.
_RACE = """
import json, sys, threading
from m3ter_billing import BillResponse
sys.setswitchinterval(1e-6)
LINE = {"description": "d", "quantity": 1, "units": 1, "unit": "u", "subtotal": 1, "currency": "USD",
        "conversionRate": 1, "convertedSubtotal": 1, "averageUnitPrice": 1, "lineItemType": "USAGE"}
results = {}
def work(t):
    seen = []
    for j in range(20):
        key, inner = f"top{(t * 7 + j) % 40}", f"line{(t + j) % 40}"
        body = {"id": f"b{t}-{j}", key: j, "lineItems": [dict(LINE, **{inner: t})]}
        out = (BillResponse.from_json(json.dumps(body)) if j % 2 else BillResponse.from_dict(body)).to_dict()
        seen.append(out[key] == j and out["lineItems"][0][inner] == t and out["id"] == f"b{t}-{j}")
    results[t] = all(seen)
threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(t for t, ok in results.items() if ok))
"""


def test_threads_decoding_drifting_bodies_at_once_do_not_crash() -> None:
    import subprocess
    import sys

    for _ in range(3):
        child = subprocess.run([sys.executable, "-c", _RACE], capture_output=True, text=True, timeout=120, check=False)
        assert child.returncode == 0, child.stderr[-2000:]
        assert child.stdout.strip() == str(list(range(16)))


def test_models_compare_by_content_whatever_was_learned() -> None:
    built = BillResponse(id="x")
    assert built == BillResponse.from_json(b'{"id": "x"}')
    drifted = BillResponse.from_json(b'{"id": "x", "brandNew": 1}')  # learns brandNew
    decoded = BillResponse.from_json(b'{"id": "x"}')
    assert built == decoded
    assert decoded == built
    assert (built != decoded) is False
    assert decoded != BillResponse(id="y")
    assert drifted != built  # it carries a field the other lacks
    assert drifted == BillResponse.from_dict({"id": "x", "brandNew": 1})
    assert drifted != BillResponse.from_dict({"id": "x", "brandNew": 2})
    assert built != "x"
    assert BillResponse(id="x") != BillLineItem.from_dict(BODY["lineItems"][0])
    with pytest.raises(TypeError):
        hash(decoded)
    with pytest.raises(TypeError):
        hash(built)


def test_unknown_fields_kept_by_the_lenient_path_count_for_equality(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_learned, "MAX_LEARNED", 0)  # nothing can be learned: the lenient path keeps them
    one = BillResponse.from_dict({"id": "x", "extra": 1})
    assert isinstance(one, BillResponse)  # a lenient variant, a subclass that holds them
    assert one == BillResponse.from_dict({"id": "x", "extra": 1})
    assert one != BillResponse.from_dict({"id": "x", "extra": 2})
    assert one != BillResponse(id="x")
