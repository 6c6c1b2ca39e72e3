"""The wire under the conformance check: read-only by construction, rate limited, backing off on 429.

:class:`GuardedTransport` sits below the client's retries, so every request that reaches the network,
retries and the token request included, passes through it. Before anything is sent it refuses all but a
GET under the base URL, the token POST to exactly ``{base}/oauth/token``, and a credential-free GET of
exactly a presigned statement URL the API returned in this run (:meth:`GuardedTransport.allow`); it waits
for the rate limiter, and slows it down when the server answers 429.

Each call of the check (an API read, a statement download) waits for its :meth:`RequestPacer.turn` before its
total timeout starts: queueing behind the other workers for our own ``--rate`` is not the server's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

import httpx

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
MIN_RATE = 1.0
WINDOW = 1.0


class ReadOnlyViolation(RuntimeError):
    """The check tried to send something other than a GET or the token POST (never sent)."""


class Call:
    """One call of the check while it runs (an API read with its token request and retries, or a statement
    download with its retries): whether it still holds the pacer's turn, and whether one of its requests was
    still waiting for the pacer when the call was cancelled (its time ran out in our queue, not the server's)."""

    def __init__(self, turns: asyncio.Lock) -> None:
        self._turns: asyncio.Lock | None = turns
        self.starved = False
        self.throttled = False
        """The server asked the check to wait while the call ran: one of its requests was answered 429, or
        waited in the pause a 429's Retry-After asked for (the server's time, not a matter of ``--rate``)."""
        self.granted = False  # its first request's grant, taken by the turn: that request does not wait

    def pass_turn(self) -> None:
        """Let the next call start (once: at the call's first grant, or when it ends without one)."""
        if self._turns is not None:
            self._turns.release()
            self._turns = None


_CALL: ContextVar[Call | None] = ContextVar("m3ter_conformance.call", default=None)
"""The call the running task is making (set by :meth:`RequestPacer.turn`; httpx sends a call's requests,
the token request included, in the task that makes the call)."""


class RequestPacer:
    """At most ``rate`` requests in any one-second window, evenly spaced.

    Two guards, both needed: requests are spaced at least ``1 / rate`` apart (no burst: a token bucket of
    one), and the grant times of the last ``floor(rate)`` requests are kept so that no sliding one-second
    window ever holds more than ``rate`` of them, whatever the clock's rounding. ``--rate`` is a ceiling.

    ``back_off(seconds)`` pauses every caller for ``seconds`` and halves the rate (down to 1/s, never up): a
    429 means someone else shares the organization's 50 requests/s.

    Calls queue in :meth:`turn`, one at a time, before their total timeout starts, and the turn takes the
    grant of the call's first request; inside a call only its later requests (the read after the token
    request, a retry) wait here, in turn with those of the other calls in flight.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self._turns = asyncio.Lock()
        self.waited = 0.0

    @property
    def per_window(self) -> int:
        """How many requests one second may hold (at least one)."""
        return max(1, math.floor(self.rate + 1e-9))

    def _delay(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        if self._granted:
            spacing = self._granted[-1] + 1.0 / self.rate - now
            if spacing > 0:
                return spacing
        while len(self._granted) > self.per_window:
            self._granted.popleft()
        if len(self._granted) == self.per_window:
            window = self._granted[0] + WINDOW - now
            if window > 0:
                return window
        return 0.0

    def _grant(self, now: float) -> None:
        self._granted.append(now)
        if len(self._granted) > self.per_window:
            self._granted.popleft()

    async def _wait_for_grant(self, call: Call | None) -> None:
        """Wait (in the queue) until a request may go, and record its grant. When ``call``'s time runs out
        meanwhile, it is marked starved if the wait was for our own spacing alone, and throttled if a pause
        the server asked for (a 429's Retry-After) fell in it: that is the server's time, not a matter of
        ``--rate``, also while this request queued behind another one sleeping through the pause."""
        started = self._clock()
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    delay = self._delay(now)
                    if delay <= 0:
                        self._grant(now)
                        return
                    self.waited += delay
                    await self._sleep(delay)
        except asyncio.CancelledError:
            if call is not None:
                paused = self._paused_until > started  # a pause in force when the wait began, or begun since
                call.throttled = call.throttled or paused
                call.starved = not paused
            raise

    async def acquire(self) -> None:
        call = _CALL.get()
        if call is not None and call.granted:  # the call's first request: its turn took the grant
            call.granted = False
        else:
            await self._wait_for_grant(call)
        if call is not None:
            call.pass_turn()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[Call]:
        """Wait, before a call starts (so before its total timeout runs), until no other call is starting,
        and take the grant of the call's first request; the next call may start once that request goes out.
        Without turns every worker's first request queued here inside its call's timeout, and ``--rate 0.1
        --concurrency 25`` ran out of it (reported as an unreachable server)."""
        await self._turns.acquire()
        call = Call(self._turns)
        try:
            # The first request's grant, taken here under the queue's lock: the requests of calls in flight
            # (retries, reads after a token) cannot slip in between and make it wait inside the call's time.
            await self._wait_for_grant(None)
            call.granted = True
            token = _CALL.set(call)
            try:
                yield call
            finally:
                _CALL.reset(token)
        finally:
            call.pass_turn()

    def back_off(self, seconds: float) -> None:
        # Halve, but not below MIN_RATE unless --rate itself is lower: the rate never rises on a 429 (a bare
        # max() raised --rate 0.5 to 1/s).
        self.rate = min(self.rate, max(MIN_RATE, self.rate / 2))
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


STATEMENT = "m3ter_conformance_statement"
"""The request extension that marks a statement download: streamed (the caller bounds its size), not read here."""


class GuardedTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport: refuses writes, rate limits, counts what was sent, backs off on 429."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, limiter: RequestPacer, *, token_url: str, base_url: str | None = None
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._token = httpx.URL(token_url)
        self._base = httpx.URL(base_url) if base_url is not None else self._token.copy_with(path="/")
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._returned: set[str] = set()
        self._closed = False

    def allow(self, url: httpx.URL | str) -> None:
        """Allow credential-free GETs of exactly ``url``: a presigned URL the API returned in this run."""
        self._returned.add(str(url))

    def _same_origin(self, url: httpx.URL, origin: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)

    def _is_token(self, request: httpx.Request) -> bool:
        url = request.url
        return self._same_origin(url, self._token) and url.path == self._token.path and not url.query

    def _allowed(self, request: httpx.Request) -> bool:
        if request.extensions.get(STATEMENT):
            return (
                request.method == "GET"
                and str(request.url) in self._returned
                and "authorization" not in request.headers
                and "cookie" not in request.headers
            )
        if request.method == "POST":
            return self._is_token(request)
        if request.method != "GET" or not self._same_origin(request.url, self._base):
            return False
        prefix = self._base.path.rstrip("/") + "/"
        return request.url.path.startswith(prefix)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._allowed(request):
            raise ReadOnlyViolation(
                f"refusing to send {request.method} {request.url.scheme}://{request.url.host}{request.url.path}: "
                "the check is read-only and talks to its base URL only (and to the presigned statement URLs "
                "the API returned, without credentials)"
            )
        await self._limiter.acquire()
        statement = bool(request.extensions.get(STATEMENT))
        self.sent["GET statement" if statement else "POST " + TOKEN_PATH if request.method == "POST" else "GET"] += 1
        response = await self._inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        # The body is left to the layer above (the client's bounded reader for API calls, the runner for a
        # statement): read here, a gzip body was inflated whole before max_response_bytes could stop it.
        if response.status_code == 429 and not statement:
            self._limiter.back_off(_retry_after(response))
            call = _CALL.get()
            if call is not None:
                call.throttled = True
        return response

    async def aclose(self) -> None:
        if not self._closed:  # the client and the statement downloader share this transport
            self._closed = True
            await self._inner.aclose()


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(60.0, max(0.0, float(value)))
    except ValueError:
        return 1.0


__all__ = ["STATEMENT", "Call", "GuardedTransport", "ReadOnlyViolation", "RequestPacer"]
