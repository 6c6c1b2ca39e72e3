"""The sandbox in-process, behind respx: every httpx request to ``base_url`` (sync or async) is answered
by a handler (the sandbox core), including the presigned statement downloads. ``mock_m3ter`` (in
``mocking``) builds the sandbox too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import respx
from respx.models import AllMockedAssertionError
from respx.patterns import combine, parse_url_patterns

from .messages import DEFAULT_BASE_URL, Handler, Request


class _SlowBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives ``delay`` seconds late (``faults.slow``): a sync client waits with ``sleep``, an async
    one with ``async_sleep`` (default ``asyncio.sleep``), so the event loop keeps running meanwhile."""

    def __init__(
        self,
        body: bytes,
        delay: float,
        sleep: Callable[[float], None],
        async_sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._body = body
        self._delay = delay
        self._sleep = sleep
        self._async_sleep = async_sleep

    def __iter__(self) -> Iterator[bytes]:
        self._sleep(self._delay)
        yield self._body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await self._async_sleep(self._delay)
        yield self._body


def _handler(
    handler: Handler,
    base_url: str,
    sleep: Callable[[float], None],
    async_sleep: Callable[[float], Awaitable[None]],
) -> Any:
    base = base_url.rstrip("/")

    def answer(request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        response = handler.handle(
            Request(
                method=request.method,
                path=url.raw_path.decode("ascii").split("?")[0],
                query=url.query.decode("ascii"),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=request.read(),
                base_url=origin if base.startswith(origin) else base,
            )
        )
        if response.delay:
            headers = [*response.header_list(), ("content-length", str(len(response.body)))]
            stream = _SlowBody(response.body, response.delay, sleep, async_sleep)
            return httpx.Response(response.status, headers=headers, stream=stream)
        return httpx.Response(response.status, headers=response.header_list(), content=response.body)

    return answer


def _elsewhere(router: respx.MockRouter, base_url: str, pass_through: bool) -> Callable[[httpx.Request], httpx.Request]:
    """The side effect of ``router``'s catch-all route: a request outside ``base_url`` goes to the network
    (``pass_through``) when no other respx router is active; otherwise it is left to the others (a test's own
    ``respx_mock`` keeps its own rules for what it does not mock), or fails, naming what the mock intercepts."""

    def elsewhere(request: httpx.Request) -> httpx.Request:
        routers = getattr(getattr(router, "Mocker", None), "routers", [router])
        if pass_through and all(other is router for other in routers):
            return request  # respx's pass-through: the client's own transport sends it
        raise AllMockedAssertionError(
            f"RESPX: {request!r} not mocked! The m3ter sandbox mock intercepts {base_url} only; "
            + (
                "other requests are left to your other respx routers, and none of them answered it"
                if pass_through
                else "others fail (pass_through=False)"
            )
        )

    return elsewhere


def respx_router(
    handler: Handler,
    base_url: str = DEFAULT_BASE_URL,
    *,
    sleep: Callable[[float], None] = time.sleep,
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    pass_through: bool = True,
) -> respx.MockRouter:
    """A respx router (not started) sending every request under ``base_url`` to ``handler`` (a sandbox); use it
    as a context manager or decorator. Requests elsewhere go to the network as usual (``pass_through``: a
    local server or the team's own services still answer), unless another respx router is active (a test's
    own ``respx_mock``): then they are left to it, and what it does not answer fails as it would without the
    sandbox. With ``pass_through=False`` they fail with an ``AllMockedAssertionError`` naming ``base_url``.

    A slow response (``faults.slow``) holds its body back for its delay, in wall-clock time (it exercises
    the client's timeouts, which are real time; the sandbox's ``ManualClock`` does not move): a sync client
    waits in ``sleep``, an async one in ``async_sleep``, which never blocks the event loop."""
    base = base_url.rstrip("/")
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.route(combine(list(parse_url_patterns(base, exact=False).values()))).mock(
        side_effect=_handler(handler, base_url, sleep, async_sleep)
    )
    router.route().mock(side_effect=_elsewhere(router, base, pass_through))
    return router


__all__ = ["respx_router"]
