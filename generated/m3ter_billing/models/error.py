from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..types import UNSET, Unset  # noqa: F401


class Error(M3terModel, kw_only=True):
    """The error body m3ter sends with every 4xx and 5xx answer."""

    message: str | None | Unset = msgspec.field(name="message", default=UNSET)
    """ Human-readable reason. """
