from .._enum import OpenStrEnum


class StatementJobStatus(OpenStrEnum):
    """The current status of the StatementJob. The status helps track the progress and outcome of a StatementJob.

    Open enum: values m3ter adds later parse too, with ``is_known`` False."""

    CANCELLED = "CANCELLED"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
