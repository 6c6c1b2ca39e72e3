"""The wire under the conformance check: read-only by construction, rate limited, backing off on 429.

:class:`GuardedTransport` sits below the client's retries, so every request that reaches the network,
retries and the token request included, passes through it. It refuses anything but GET and the token
POST before it is sent, waits for the token bucket, and slows the bucket down when the server answers 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
MIN_RATE = 1.0


class ReadOnlyViolation(RuntimeError):
    """The check tried to send something other than a GET or the token POST (never sent)."""


class RateLimiter:
    """An asyncio token bucket: at most ``rate`` requests per second, bursts up to ``burst``.

    ``back_off(seconds)`` pauses every caller for ``seconds`` and halves the rate (down to 1/s): a 429 means
    someone else shares the organization's 50 requests/s.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 4)
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.waited = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    delay = self._paused_until - now
                else:
                    self._refill()
                    if self._tokens >= 1 - 1e-9:  # float dust must not leave a caller waiting forever
                        self._tokens = max(0.0, self._tokens - 1)
                        return
                    delay = (1 - self._tokens) / self.rate
                self.waited += delay
                await self._sleep(delay)

    def back_off(self, seconds: float) -> None:
        self.rate = max(MIN_RATE, self.rate / 2)
        self.burst = min(self.burst, max(1.0, self.rate / 4))
        self._tokens = min(self._tokens, self.burst)
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: refuses writes, rate limits, counts what was sent, backs off on 429."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limiter: RateLimiter, *, token_url: str) -> None:
        self._inner = inner
        self._limiter = limiter
        self._token_path = httpx.URL(token_url).path
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def _allowed(self, request: httpx.Request) -> bool:
        if request.method == "GET":
            return True
        return request.method == "POST" and request.url.path == self._token_path

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._allowed(request):
            raise ReadOnlyViolation(f"refusing to send {request.method} {request.url.path}: the check is read-only")
        await self._limiter.acquire()
        self.sent["POST " + TOKEN_PATH if request.method == "POST" else "GET"] += 1
        response = await self._inner.handle_async_request(request)
        # Read the whole body here: the rules judge all of it, and every layer above may use ``.content``.
        await response.aread()
        self.statuses[response.status_code] += 1
        if response.status_code == 429:
            self._limiter.back_off(_retry_after(response))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(60.0, max(0.0, float(value)))
    except ValueError:
        return 1.0


__all__ = ["GuardedTransport", "RateLimiter", "ReadOnlyViolation"]
