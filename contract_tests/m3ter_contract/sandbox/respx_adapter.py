"""The sandbox in-process, behind respx: every httpx request to ``base_url`` (sync or async) is answered
by a handler (the sandbox core), including the presigned statement downloads. ``mock_m3ter`` (in
``mocking``) builds the sandbox too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import respx

from .messages import DEFAULT_BASE_URL, Handler, Request


def _handler(handler: Handler, base_url: str, sleep: Callable[[float], None]) -> Any:
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
            sleep(response.delay)
        return httpx.Response(response.status, headers=response.header_list(), content=response.body)

    return answer


def respx_router(
    handler: Handler, base_url: str = DEFAULT_BASE_URL, *, sleep: Callable[[float], None] = time.sleep
) -> respx.MockRouter:
    """A respx router (not started) sending every request under ``base_url`` to ``handler`` (a sandbox); use it as a
    context manager or decorator. Requests elsewhere fail as unmocked. ``sleep`` waits out a slow response
    (``faults.slow``)."""
    router = respx.MockRouter(base_url=base_url.rstrip("/"), assert_all_called=False, assert_all_mocked=True)
    router.route().mock(side_effect=_handler(handler, base_url, sleep))
    return router


__all__ = ["respx_router"]
