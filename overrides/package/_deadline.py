"""The limits of one call: a total deadline (monotonic, real time) and a maximum response size.

The facade stamps them on each request as httpx request extensions; the auth flow copies them onto the
token request it sends; the transport (``_transport``) and the retry policy (``_retry``) enforce them.
Putting them on the request, not in a context variable, keeps them attached however the request travels
(threads, tasks, the token request sent on a caller's behalf).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from ._exceptions import APITimeoutError, InvalidParameterError

DEADLINE = "m3ter_billing.deadline"
MAX_RESPONSE_BYTES = "m3ter_billing.max_response_bytes"

DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # the largest real bill is a few MiB; this is generous
# The longest any number of seconds may be (about 31 years): every wait the client makes stays within what
# the standard library's clocks, locks and sleeps take (``threading.TIMEOUT_MAX`` is about 9.2e9 s).
MAX_SECONDS = 1e9

SENDING: ContextVar[httpx.Request | None] = ContextVar("m3ter_billing.sending", default=None)
"""The request a sync transport is sending on this thread (set by ``_transport``, read by ``_network``,
which bounds each socket operation by its deadline)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (``time.monotonic``) a call must be done by, and the seconds it was given."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline | None:
        return None if seconds is None else cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def exceeded(self, request: httpx.Request | None, doing: str) -> APITimeoutError:
        method, url = (request.method, str(request.url)) if request is not None else ("", "")
        return APITimeoutError(
            f"the call's total timeout ({self.seconds:g}s) ran out {doing}",
            method=method,
            url=url,
            total_timeout=self.seconds,
        )


def deadline_of(request: httpx.Request) -> Deadline | None:
    value = request.extensions.get(DEADLINE)
    return value if isinstance(value, Deadline) else None


NOT_SENT = "before the request could be sent"


def clipped(timeouts: Mapping[str, float | None] | None, remaining: float) -> dict[str, float | None]:
    """Socket ``timeouts`` (httpx's four) each bounded by the ``remaining`` seconds of the call."""
    current = timeouts or {}
    bounded: dict[str, float | None] = {}
    for key in ("connect", "read", "write", "pool"):
        seconds = current.get(key)
        bounded[key] = remaining if seconds is None else min(seconds, remaining)
    return bounded


def clip_timeouts(request: httpx.Request, deadline: Deadline) -> None:
    """Bound every socket timeout of ``request`` by the time the call has left (raises when none is left)."""
    remaining = deadline.remaining()
    if remaining <= 0:
        raise deadline.exceeded(request, NOT_SENT)
    request.extensions["timeout"] = clipped(request.extensions.get("timeout"), remaining)


def check_seconds(name: str, value: object, *, allow_none: bool) -> float | None:
    """``value`` as a number of seconds > 0 and at most :data:`MAX_SECONDS` (or None when allowed);
    InvalidParameterError otherwise (NaN and infinities among them)."""
    if value is None and allow_none:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if 0 < seconds <= MAX_SECONDS:
            return seconds
    none = " or None" if allow_none else ""
    raise InvalidParameterError(
        f"{name} must be a number of seconds > 0 and at most {MAX_SECONDS:g}{none}, got {value!r}"
    )


def as_timeout(value: object) -> httpx.Timeout:
    """A ``timeout=`` argument (seconds, an ``httpx.Timeout`` or None) as an ``httpx.Timeout``, checked."""
    if isinstance(value, httpx.Timeout):
        for key, seconds in value.as_dict().items():
            check_seconds(f"timeout.{key}", seconds, allow_none=True)
        return value
    return httpx.Timeout(check_seconds("timeout", value, allow_none=True))


def derived_total(timeout: httpx.Timeout, max_retries: int, backoff: float) -> float | None:
    """The default total timeout of a call: its longest socket timeout once per attempt, plus ``backoff``
    (the longest the waits between attempts can add up to), at most :data:`MAX_SECONDS`; None when the
    timeout has no value at all."""
    values = [seconds for seconds in timeout.as_dict().values() if seconds is not None]
    return min(max(values) * (max_retries + 1) + backoff, MAX_SECONDS) if values else None


def check_max_response_bytes(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise InvalidParameterError(f"max_response_bytes must be an int > 0, got {value!r}")


__all__ = [
    "DEADLINE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MAX_RESPONSE_BYTES",
    "MAX_SECONDS",
    "NOT_SENT",
    "SENDING",
    "Deadline",
    "as_timeout",
    "check_max_response_bytes",
    "check_seconds",
    "clip_timeouts",
    "clipped",
    "deadline_of",
    "derived_total",
]
