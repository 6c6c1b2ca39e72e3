from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..types import UNSET, Unset  # noqa: F401


class CurrencyConversion(M3terModel, kw_only=True):
    """An array of currency conversion rates from Bill currency to Organization currency. For example, if Account is
    billed in GBP and Organization is set to USD, Bill line items are calculated in GBP and then converted to USD
    using the defined rate."""

    from_: str = msgspec.field(name="from")
    """ Currency to convert from. For example: GBP. """
    to: str = msgspec.field(name="to")
    """ Currency to convert to. For example: USD. """
    multiplier: float | None | Unset = msgspec.field(name="multiplier", default=UNSET)
    """ Conversion rate between currencies. """
