from .._enum import OpenStrEnum


class StatementStatus(OpenStrEnum):
    """StatementStatus

    Open enum: values m3ter adds later parse too, with ``is_known`` False."""

    INVALIDATED = "INVALIDATED"
    LATEST = "LATEST"
    STALE = "STALE"
