from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..types import UNSET, Unset  # noqa: F401


class BillLineItemPricingBandUsage(M3terModel, kw_only=True):
    """Array containing the pricing band information, which shows the details for each pricing band or tier."""

    band_quantity: float | None | Unset = msgspec.field(name="bandQuantity", default=UNSET)
    """ Usage amount within the band. """
    band_subtotal: float | None | Unset = msgspec.field(name="bandSubtotal", default=UNSET)
    """ Subtotal amount for the band. """
    band_units: float | None | Unset = msgspec.field(name="bandUnits", default=UNSET)
    """ The number of units used within the band. """
    converted_band_subtotal: float | None | Unset = msgspec.field(name="convertedBandSubtotal", default=UNSET)
    credit_type_id: str | None | Unset = msgspec.field(name="creditTypeId", default=UNSET)
    """ The UUID of the credit type. """
    fixed_price: float | None | Unset = msgspec.field(name="fixedPrice", default=UNSET)
    """ Fixed price is a charge entered for certain pricing types such as Stairstep, Custom Tiered, and Custom
    Volume. It is a set price and not dependent on usage. """
    lower_limit: float | None | Unset = msgspec.field(name="lowerLimit", default=UNSET)
    """ The lower limit *(start)* of the pricing band. """
    pricing_band_id: str | None | Unset = msgspec.field(name="pricingBandId", default=UNSET)
    """ The UUID for the pricing band. """
    unit_price: float | None | Unset = msgspec.field(name="unitPrice", default=UNSET)
    """ The price per unit in the band. """
    unit_subtotal: float | None | Unset = msgspec.field(name="unitSubtotal", default=UNSET)
    """ The subtotal of the unit usage. """
