from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..types import UNSET, Unset  # noqa: F401


class StatementJobFilters(M3terModel, kw_only=True):
    """StatementJobFilters"""

    meter_ids: list[str] | None | Unset = msgspec.field(name="meterIds", default=UNSET)
    """ Include usage line items whose meterId matches one of these values. """
