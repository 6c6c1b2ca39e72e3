from .._enum import OpenStrEnum


class GrantType(OpenStrEnum):
    """The grant type.

    Open enum: values m3ter adds later parse too, with ``is_known`` False."""

    CLIENT_CREDENTIALS = "client_credentials"
