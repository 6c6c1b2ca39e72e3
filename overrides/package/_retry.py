"""Retries, built on httpx-retries' RetryTransport.

Why httpx-retries: it is a small, maintained transport wrapper for both sync and async httpx with
exponential backoff, jitter and ``Retry-After`` parsing (seconds and HTTP dates). We subclass its
``Retry`` policy to fix m3ter's numbers, to wait the way the official m3ter SDK does, and to make the
sleep injectable for tests.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from httpx_retries import Retry, RetryTransport

from ._deadline import DEFAULT_MAX_RESPONSE_BYTES, Deadline
from ._transport import BoundedTransport, network_transport

logger = logging.getLogger("m3ter_billing.retry")

DEFAULT_MAX_RETRIES = 2
MAX_RETRIES = 1000  # more is never meant: at 8 s a wait, 1,000 retries already wait over two hours
RETRY_AFTER_CAP = 60.0  # a server wait above this (or not above 0) is ignored in favour of the backoff
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_STATUSES = frozenset({408, 409, 429, *range(500, 600)})  # the official SDK's list


class M3terRetry(Retry):
    """The retry policy: GETs only, on connection errors and timeouts, 408, 409, 429 and every 5xx.

    Waits what the server asks for (``retry-after-ms``, else ``Retry-After`` in seconds or as an HTTP date,
    counted from the response's own ``Date`` when it has one, so a skewed local clock does not matter)
    when that is more than 0 and at most 60 seconds, as the official SDK does; otherwise
    ``min(0.5 * 2**n, 8)`` seconds less up to 25 % jitter. ``total`` is the number of retries (default 2,
    so at most three attempts). A copy made by :meth:`until` for one call does not wait past that call's
    deadline: when the wait would end after it, the call fails with ``APITimeoutError`` at once.
    """

    def __init__(
        self,
        total: int = DEFAULT_MAX_RETRIES,
        *,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("allowed_methods", ["GET", "HEAD"])
        kwargs.setdefault("status_forcelist", RETRY_STATUSES)
        kwargs.setdefault("backoff_factor", BACKOFF_BASE)
        kwargs.setdefault("max_backoff_wait", RETRY_AFTER_CAP)
        kwargs.setdefault("backoff_jitter", 0.25)
        super().__init__(total=total, **kwargs)
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._deadline: Deadline | None = None

    def copy_with(self, *args: Any, **kwargs: Any) -> M3terRetry:
        new = super().copy_with(*args, **kwargs)
        assert isinstance(new, M3terRetry)
        new._sleep = self._sleep
        new._async_sleep = self._async_sleep
        new._deadline = self._deadline
        return new

    def increment(self) -> M3terRetry:
        """This policy after one more attempt (the same as ``Retry.increment``, typed as this class)."""
        return self.copy_with(attempts_made=self.attempts_made + 1)

    def until(self, deadline: Deadline | None) -> M3terRetry:
        """A copy of this policy for one call that must be done by ``deadline``."""
        # A shallow copy (copy_with would revalidate every field): the policy's fields are never mutated,
        # and increment() makes its copies with copy_with, which carries the deadline along.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._deadline = deadline
        return new

    def __reduce__(self) -> Any:  # pragma: no cover - retries are not pickled
        raise TypeError("M3terRetry is not picklable")

    def backoff_strategy(self) -> float:
        if self.backoff_factor == 0:
            return 0.0
        # The exponent stops growing long before 2.0**n leaves the float range (the cap is reached anyway).
        wait = min(self.backoff_factor * 2.0 ** min(self.attempts_made - 1, 1000), BACKOFF_CAP)
        return wait * random.uniform(1 - self.backoff_jitter, 1)

    def sleep(self, response: httpx.Response | Exception) -> None:
        seconds = self._wait_for(response)
        self._sleep(seconds)
        self.elapsed_sleep += seconds

    async def asleep(self, response: httpx.Response | Exception) -> None:
        seconds = self._wait_for(response)
        await self._async_sleep(seconds)
        self.elapsed_sleep += seconds

    def _wait_for(self, response: httpx.Response | Exception) -> float:
        server = self._server_wait(response.headers) if isinstance(response, httpx.Response) else None
        seconds = server if server is not None else self.backoff_strategy()
        if self.total_timeout is not None:
            seconds = min(seconds, max(0.0, self.total_timeout - self.elapsed_sleep))
        what = response.status_code if isinstance(response, httpx.Response) else type(response).__name__
        if self._deadline is not None and seconds >= self._deadline.remaining():
            raise self._deadline.exceeded(None, f"waiting {seconds:.2f}s to retry after {what}")
        logger.info("retrying after %s (retry %d of %d) in %.2fs", what, self.attempts_made, self.total, seconds)
        return seconds

    def _server_wait(self, headers: httpx.Headers) -> float | None:
        """The wait the response asks for, when it asks for one in (0, 60] seconds."""
        if not self.respect_retry_after_header:
            return None
        seconds: float | None = None
        if "retry-after-ms" in headers:
            try:
                seconds = float(headers["retry-after-ms"]) / 1000
            except ValueError:
                seconds = None
        if seconds is None and "retry-after" in headers:
            seconds = _from_server_date(headers)
        if seconds is None and "retry-after" in headers:
            try:
                seconds = self.parse_retry_after(headers["retry-after"])
            except ValueError:
                seconds = None
        if seconds is not None and 0 < seconds <= RETRY_AFTER_CAP:
            return seconds
        return None


def _from_server_date(headers: httpx.Headers) -> float | None:
    """An HTTP-date ``Retry-After`` less the response's ``Date``: the wait by the server's own clock."""
    retry_after, date = headers["retry-after"].strip(), headers.get("date")
    if date is None or retry_after.isdigit():
        return None
    try:
        then, now = parsedate_to_datetime(retry_after), parsedate_to_datetime(date.strip())
        return (then - now).total_seconds()
    except (TypeError, ValueError, OverflowError):  # not dates, or one naive and one aware
        return None


def backoff_budget(retry: Retry) -> float:
    """The longest the backoff waits of ``retry`` can add up to (server-requested waits aside). The waits
    double until they reach ``BACKOFF_CAP``; from there on each is the cap (so any ``total`` is summed in a
    few steps, and ``2.0**n`` is never taken past the float range)."""
    budget = 0.0
    for n in range(retry.total):
        wait = min(retry.backoff_factor * 2.0 ** min(n, 1000), BACKOFF_CAP)
        if wait >= BACKOFF_CAP or n >= 1000:  # every later wait is this one
            return budget + wait * (retry.total - n)
        budget += wait
    return budget


def retrying_transport(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    retry: Retry,
    *,
    is_async: bool,
    trust_env: bool = True,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> RetryTransport:
    """Wrap ``transport`` (or httpx's network transport, through the environment's proxies when
    ``trust_env``) so bodies are read within the call's limits and requests are retried per ``retry``."""
    if transport is None:
        transport = network_transport(is_async=is_async, trust_env=trust_env)
    return retry_stack(transport, retry, max_response_bytes=max_response_bytes)[0]


def retry_stack(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport, retry: Retry, *, max_response_bytes: int
) -> tuple[RetryTransport, BoundedTransport]:
    """The retry layer over the bounded transport over ``transport``, and that bounded transport."""
    bounded = BoundedTransport(transport, max_response_bytes=max_response_bytes)
    return RetryTransport(transport=bounded, retry=retry), bounded


__all__ = ["DEFAULT_MAX_RETRIES", "MAX_RETRIES", "M3terRetry", "backoff_budget", "retry_stack", "retrying_transport"]
