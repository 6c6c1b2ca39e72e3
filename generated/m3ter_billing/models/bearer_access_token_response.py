from __future__ import annotations

import datetime  # noqa: F401
from typing import Any  # noqa: F401

import msgspec

from .._model import M3terModel
from ..types import UNSET, Unset  # noqa: F401


class BearerAccessTokenResponse(M3terModel, kw_only=True):
    """BearerAccessTokenResponse"""

    access_token: str = msgspec.field(name="access_token")
    """ The access token. """
    expires_in: int = msgspec.field(name="expires_in")
    """ Token expiry time in seconds. """
    scope: None | str | Unset = msgspec.field(name="scope", default=UNSET)
    """ Not used. m3ter sends `null` here (see spec/deviations.yaml). """
    token_type: str | None | Unset = msgspec.field(name="token_type", default=UNSET)
    """ The token type, which in this case is "bearer". """
