"""The sandbox in-process, behind respx: every httpx request to ``base_url`` (sync or async) is answered
by a handler (the sandbox core), including the presigned statement downloads. ``mock_m3ter`` (in
``mocking``) builds the sandbox too."""

from __future__ import annotations

import asyncio
import ipaddress
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal, TypeAlias

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


LOOPBACK: Literal["loopback"] = "loopback"
PassThrough: TypeAlias = bool | Literal["loopback"]
"""Where a request outside the mocked base URL goes: ``"loopback"`` (the default) to the network when its host
is this machine (127.0.0.0/8, ::1, ``localhost``: a local server, ``m3ter_server``), ``True`` to any host,
``False`` nowhere."""

# The sandbox routers alive, with the base URL each intercepts: a request outside one of them is not left to
# another sandbox router that does not intercept it either (two mocks side by side still pass it through).
_SANDBOX_ROUTERS: weakref.WeakKeyDictionary[respx.MockRouter, str] = weakref.WeakKeyDictionary()


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _intercepts(base_url: str, url: httpx.URL) -> bool:
    base = httpx.URL(base_url)
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) and url.path.startswith(
        base.path.rstrip("/") + "/"
    )


def _elsewhere(
    router: respx.MockRouter, base_url: str, pass_through: PassThrough
) -> Callable[[httpx.Request], httpx.Request]:
    """The side effect of ``router``'s catch-all route: a request outside ``base_url`` goes to the network (as
    ``pass_through`` allows) when no other respx router may want it; otherwise it is left to the others (a
    test's own ``respx_mock`` keeps its own rules for what it does not mock; another sandbox mock answers its
    own base URL), or fails, naming what the mock intercepts."""

    def elsewhere(request: httpx.Request) -> httpx.Request:
        routers = getattr(getattr(router, "Mocker", None), "routers", [router])
        others = [other for other in routers if other is not router]
        unclaimed = all(
            other in _SANDBOX_ROUTERS and not _intercepts(_SANDBOX_ROUTERS[other], request.url) for other in others
        )
        allowed = pass_through is True or (pass_through == LOOPBACK and _is_loopback(request.url.host))
        if allowed and unclaimed:
            return request  # respx's pass-through: the client's own transport sends it
        if not unclaimed:
            reason = "other requests are left to your other respx routers, and none of them answered it"
        elif pass_through == LOOPBACK:
            reason = "others pass through to this machine only (pass_through=True lets them go to any host)"
        else:
            reason = "others fail (pass_through=False)"
        raise AllMockedAssertionError(
            f"RESPX: {request!r} not mocked! The m3ter sandbox mock intercepts {base_url} only; {reason}"
        )

    return elsewhere


def respx_router(
    handler: Handler,
    base_url: str = DEFAULT_BASE_URL,
    *,
    sleep: Callable[[float], None] = time.sleep,
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    pass_through: PassThrough = LOOPBACK,
) -> respx.MockRouter:
    """A respx router (not started) sending every request under ``base_url`` to ``handler`` (a sandbox); use it
    as a context manager or decorator. Requests elsewhere go to the network as ``pass_through`` allows: by
    default only to this machine (a local server, ``m3ter_server``), with ``True`` to any host (the team's own
    services elsewhere), with ``False`` nowhere; a request that may not go fails with an
    ``AllMockedAssertionError`` naming ``base_url``, so a client aimed at another m3ter host by mistake does not
    reach it. When another respx router is active (a test's own ``respx_mock``), they are left to it, and what
    it does not answer fails as it would without the sandbox; another sandbox router only takes its own base
    URL.

    A slow response (``faults.slow``) holds its body back for its delay, in wall-clock time (it exercises
    the client's timeouts, which are real time; the sandbox's ``ManualClock`` does not move): a sync client
    waits in ``sleep``, an async one in ``async_sleep``, which never blocks the event loop."""
    base = base_url.rstrip("/")
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.route(combine(list(parse_url_patterns(base, exact=False).values()))).mock(
        side_effect=_handler(handler, base_url, sleep, async_sleep)
    )
    if pass_through not in (True, False, LOOPBACK):
        raise ValueError(f'pass_through must be True, False or "loopback", not {pass_through!r}')
    router.route().mock(side_effect=_elsewhere(router, base, pass_through))
    _SANDBOX_ROUTERS[router] = base
    return router


__all__ = ["LOOPBACK", "PassThrough", "respx_router"]
