"""The stateful m3ter sandbox: a seeded simulator of Organizations, service users, tokens, bills and
statement jobs that follows m3ter's documented enums and versioning rules, served in-process (respx) or
over HTTP (ASGI on uvicorn), with fault injection for resilience and contract tests."""

from .api import RequestRecord, parse_additional
from .asgi import SandboxASGI
from .clock import DEFAULT_START, Clock, ManualClock, SystemClock
from .core import DEFAULT_BASE_URL, Sandbox
from .entities import (
    BILL_STATUSES,
    BILLING_FREQUENCIES,
    JOB_STATUSES,
    LINE_ITEM_TYPES,
    STATEMENT_STATUSES,
    TERMINAL_JOB_STATUSES,
    SandboxError,
)
from .faults import FaultPresets, Mutator, Operation
from .messages import Handler, Request, Response
from .mocking import UnmockedBackendError, mock_m3ter
from .respx_adapter import respx_router
from .seed import Credentials, Seeded
from .server import SandboxServer

__all__ = [
    "BILLING_FREQUENCIES",
    "BILL_STATUSES",
    "DEFAULT_BASE_URL",
    "DEFAULT_START",
    "JOB_STATUSES",
    "LINE_ITEM_TYPES",
    "STATEMENT_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "Clock",
    "Credentials",
    "FaultPresets",
    "Handler",
    "ManualClock",
    "Mutator",
    "Operation",
    "Request",
    "RequestRecord",
    "Response",
    "Sandbox",
    "SandboxASGI",
    "SandboxError",
    "SandboxServer",
    "Seeded",
    "SystemClock",
    "UnmockedBackendError",
    "mock_m3ter",
    "parse_additional",
    "respx_router",
]
