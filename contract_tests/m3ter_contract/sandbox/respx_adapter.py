"""The sandbox in-process, behind respx: every httpx request to ``base_url`` (sync or async) is answered
by the sandbox core, including the presigned statement downloads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import respx

from .core import DEFAULT_BASE_URL, Sandbox
from .messages import Request


def _handler(sandbox: Sandbox, base_url: str) -> Any:
    base = base_url.rstrip("/")

    def answer(request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        response = sandbox.handle(
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
            time.sleep(response.delay)
        return httpx.Response(response.status, headers=response.header_list(), content=response.body)

    return answer


def respx_router(sandbox: Sandbox, base_url: str = DEFAULT_BASE_URL) -> respx.MockRouter:
    """A respx router (not started) sending every request under ``base_url`` to ``sandbox``; use it as a
    context manager or decorator. Requests elsewhere fail as unmocked."""
    router = respx.MockRouter(base_url=base_url.rstrip("/"), assert_all_called=False, assert_all_mocked=True)
    router.route().mock(side_effect=_handler(sandbox, base_url))
    return router


@contextmanager
def mock_m3ter(
    sandbox: Sandbox | None = None, *, base_url: str = DEFAULT_BASE_URL, **sandbox_options: Any
) -> Iterator[Sandbox]:
    """Route httpx traffic for ``base_url`` to a sandbox (a new one built from ``sandbox_options`` unless
    given) for the duration of the ``with`` block::

        with mock_m3ter(clock=ManualClock(), rate_limit=None) as sandbox:
            creds = sandbox.credentials  # org_id, api_key, api_secret for your client
    """
    if sandbox is None:
        sandbox = Sandbox(**sandbox_options)
    elif sandbox_options:
        raise TypeError("pass either a sandbox or options to build one, not both")
    with respx_router(sandbox, base_url):
        yield sandbox


__all__ = ["mock_m3ter", "respx_router"]
