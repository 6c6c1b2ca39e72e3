from .._enum import OpenStrEnum


class BillStatus(OpenStrEnum):
    """Indicates whether the Bill has passed human/manual approval.

    * **Pending** - Bill has not yet been passed by a human reviewer.
    * **Approved** - Bill has been approved after manual review.

    Open enum: values m3ter adds later parse too, with ``is_known`` False."""

    APPROVED = "APPROVED"
    PENDING = "PENDING"
