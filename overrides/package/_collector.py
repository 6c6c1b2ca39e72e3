"""Decoding a large body without a cyclic-collector pass in the middle of it, on every supported Python.

Since CPython 3.12 the cyclic garbage collector runs only between bytecodes (on the eval breaker,
python/cpython#97922), so a decode, which is one call into msgspec's C code, never runs a collection
halfway through: the tree it builds is looked at once, by the first collection after it. On 3.11 a
collection starts on whichever allocation crosses a threshold, and a decode that builds one GC-tracked
list per line item (``usagePerPricingBand``: the models themselves are untracked, lists always are) sets
off full passes over the half-built tree as it grows: at 100,000 line items one pass, about 0.6 us per
line item of 4-6, at 10,000 none, so the cost per item grew with the bill (issue 10). ``decode_paused``
gives 3.11 the 3.12 behaviour for bodies of at least ``PAUSE_FROM`` bytes, and changes nothing on 3.12+.

The collector's switch is process-wide, so the pause must not lose another thread's ``gc.disable()`` or
``gc.enable()``. Reading the switch, turning it off, the decode and turning it back on run as one
sequence of C calls (``list.extend`` over ``map``): no bytecode runs between them, so no other thread
does either (the GIL changes hands only between bytecodes) and no collection can be due. The switch is
only touched when it was on, as checked just before; in the rare case that another thread turned it off
between that check and the sequence, it is turned off again right after. Two narrower cases remain: a
decode that meets an enum value the spec does not list runs the open enum's ``_missing_`` in Python, where
other threads may run, without collections until the decode ends (as on 3.12), and where a ``gc.disable()``
another thread makes is undone by the sequence's last step (a thread that disables the collector for a
while, rather than for good, sees it on again); and a decode that fails turns the switch back on from the
exception handler, a few bytecodes later. ``decode`` must be C (a bound method of a msgspec ``Decoder``,
``msgspec.json.decode``): Python code in it would open the same window.
"""

from __future__ import annotations

import functools
import gc
import operator
import sys
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

PAUSE_FROM = 1 << 20
"""Bodies smaller than this (about 750 line items) are decoded as they are: a pass during them is rare and
short."""

NEEDED = sys.version_info < (3, 12)
"""Whether this Python may collect in the middle of a C call (3.11)."""

# operator.call is C: mapping it over the steps runs no bytecode between them (a Python helper would).
_CALL = typing.cast(Callable[[Callable[[], Any]], Any], operator.call)


def decode_paused(decode: Callable[[Any], T], data: bytes | str) -> T:
    """``decode(data)``, with no cyclic-collector pass while it runs."""
    if not NEEDED or len(data) < PAUSE_FROM or not gc.isenabled():
        return decode(data)
    sequence: tuple[Callable[[], Any], ...] = (gc.isenabled, gc.disable, functools.partial(decode, data), gc.enable)
    steps: list[Any] = []
    try:
        steps.extend(map(_CALL, sequence))  # was it on, off, decode, on: one C-level sequence
    except BaseException:
        if steps and steps[0]:
            gc.enable()
        raise
    if not steps[0]:
        gc.disable()  # another thread turned it off between the check above and the sequence
    result: T = steps[2]
    return result
