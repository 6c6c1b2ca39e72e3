from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..models.grant_type import GrantType
from ..types import UNSET, Unset  # noqa: F401


class BearerAccessTokenRequest(M3terModel, kw_only=True):
    """BearerAccessTokenRequest"""

    grant_type: GrantType = msgspec.field(name="grant_type")
    """ The grant type. """
    scope: str | None | Unset = msgspec.field(name="scope", default=UNSET)
    """ Not used. The JWT scope. """
