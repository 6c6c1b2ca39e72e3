"""A large decode runs no cyclic-collector pass halfway through, on every supported Python, and leaves the
collector's switch as it found it (``_collector.py``)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from m3ter_billing import BillResponse, M3terModel, ResponseValidationError

from .support import REQUIRED_LINE_ITEM

ITEM = {**REQUIRED_LINE_ITEM, "usagePerPricingBand": [{"bandQuantity": 1, "unitPrice": 0.5}]}
ITEMS = 8_000  # about 2 MB: past the size from which a decode is kept out of the collector's way


def _body(**extra: Any) -> bytes:
    body = json.dumps({"id": "bill-1", "lineItems": [ITEM] * ITEMS, **extra}).encode()
    assert len(body) > 1_500_000
    return body


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    M3terModel.forget_learned_fields()
    yield
    M3terModel.forget_learned_fields()


@pytest.fixture
def collector_switch() -> Iterator[None]:
    """The collector's switch and thresholds as the test found them, whatever the test did."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


@pytest.mark.usefixtures("collector_switch")
def test_no_collection_runs_inside_a_large_decode() -> None:
    """With thresholds so low that every few allocations are due a collection, decoding 8,000 line items
    (8,000 tracked lists) would run hundreds of passes over the half-built tree; it runs at most the one
    due when it ends (3.12+ by itself, 3.11 through the pause)."""
    body = _body()
    BillResponse.from_json(body)  # warm up: decoders built, nothing learned later
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.enable()
    gc.set_threshold(10, 1, 1)
    gc.callbacks.append(count)
    try:
        bill = BillResponse.from_json(body)
    finally:
        gc.callbacks.remove(count)
    assert len(bill.line_items or []) == ITEMS
    assert len(passes) <= 3, passes


@pytest.mark.usefixtures("collector_switch")
@pytest.mark.parametrize("enabled", [True, False], ids=["collector-on", "collector-off"])
@pytest.mark.parametrize(
    ("extra", "outcome"),
    [
        ({}, "decoded"),
        ({"fieldNobodyKnows": 1}, "decoded"),  # learned: the first decode fails inside the pause, then again
        ({"status": "STATUS_FROM_THE_FUTURE"}, "decoded"),  # an unknown enum value: Python runs mid-decode
        ({"billTotal": "12.5"}, "refused"),  # a wrong type: the decode fails inside the pause
        (None, "refused"),  # not JSON at all, past the first megabyte
    ],
    ids=["plain", "unknown-field", "unknown-enum-value", "wrong-type", "malformed"],
)
def test_the_collector_switch_is_left_as_found(enabled: bool, extra: dict[str, Any] | None, outcome: str) -> None:
    body = _body() + b"}" if extra is None else _body(**extra)
    (gc.enable if enabled else gc.disable)()
    if outcome == "decoded":
        bill = BillResponse.from_json(body)
        assert len(bill.line_items or []) == ITEMS
        if extra:
            assert bill.to_dict()[next(iter(extra))] == next(iter(extra.values()))
    else:
        with pytest.raises(ResponseValidationError):
            BillResponse.from_json(body)
    assert gc.isenabled() is enabled
