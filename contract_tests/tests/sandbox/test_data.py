"""Seeded bill content: a repeated draw of line items is the same draw, and each caller owns its copy."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from m3ter_contract.sandbox import ManualClock, Sandbox, data
from m3ter_contract.sandbox.data import line_items

PERIOD = {"currency": "USD", "rate": 1.0, "start": date(2024, 9, 1), "end": date(2024, 10, 1)}


def draw(seed: int, count: int, **changes: Any) -> tuple[list[dict[str, Any]], int, random.Random]:
    rng = random.Random(seed)
    items, total = line_items(rng, count, **{**PERIOD, **changes})
    return items, total, rng


def test_a_repeated_draw_is_the_same_draw_and_moves_the_generator_alike() -> None:
    first_items, first_total, first_rng = draw(11, 400)
    again_items, again_total, again_rng = draw(11, 400)
    assert again_items == first_items
    assert again_total == first_total
    assert again_rng.getstate() == first_rng.getstate()
    assert again_rng.random() == first_rng.random()


def test_each_draw_owns_its_items() -> None:
    def spoil(items: list[dict[str, Any]]) -> int:
        usage = next(n for n, item in enumerate(items) if item.get("usagePerPricingBand"))
        items[usage]["subtotal"] = -1.0
        items[usage]["usagePerPricingBand"].clear()
        items.pop()
        return usage

    def intact(items: list[dict[str, Any]], usage: int) -> bool:
        return len(items) == 400 and items[usage]["subtotal"] != -1.0 and bool(items[usage]["usagePerPricingBand"])

    first, _, _ = draw(12, 400)  # the first draw of these arguments
    usage = spoil(first)
    second, _, _ = draw(12, 400)  # a repeat
    assert intact(second, usage)
    spoil(second)
    assert intact(draw(12, 400)[0], usage)


def test_any_other_argument_is_another_draw() -> None:
    base, _, _ = draw(13, 400)
    assert draw(14, 400)[0] != base
    assert len(draw(13, 401)[0]) == 401
    assert {item["currency"] for item in draw(13, 400, currency="EUR")[0]} == {"EUR"}
    assert draw(13, 400, rate=1.25)[0] != base
    assert draw(13, 400, start=date(2024, 8, 1))[0] != base
    assert {item["lineItemType"] for item in draw(13, 400, types=["USAGE"] * 400)[0]} == {"USAGE"}


def test_sandboxes_with_one_seed_hold_equal_bills_they_do_not_share() -> None:
    def sandbox() -> Sandbox:
        return Sandbox(seed=21, clock=ManualClock(), rate_limit=None, large_bill_line_items=2_000)

    def bills(of: Sandbox) -> list[dict[str, Any]]:
        return [of.bill(bill_id) for bill_id in of.state.bills]

    first, second = sandbox(), sandbox()
    assert bills(first) == bills(second)
    large = first.seeded.bills["large"]
    assert len(first.bill(large)["lineItems"]) == 2_000
    first.recalculate_bill(large)
    third = sandbox()
    assert first.bill(large)["lineItems"] != third.bill(large)["lineItems"]
    assert bills(third) == bills(second)
    assert third.bill(large)["version"] == 1


def test_what_is_remembered_stays_bounded() -> None:
    for seed in range(30, 36):
        draw(seed, 3_000)
    draw(36, 10_001)  # larger than all that is kept: drawn, not kept
    kept = [len(items) for items, _, _ in data._remembered.values()]
    assert sum(kept) <= 10_000
    assert 10_001 not in kept
    assert kept[-1] == 3_000  # the latest draw that fits
