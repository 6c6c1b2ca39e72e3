"""``mock_m3ter``: a sandbox behind respx for the duration of a ``with`` block (the pytest plugin's
``m3ter_mock`` fixture uses it).

respx patches httpx only. The client's other network backend, ``AsyncM3terBilling(http_backend="aiohttp")``,
sends its requests over aiohttp, which respx never sees: while the block runs, an aiohttp connection to the
mocked origin is refused before it is opened (:class:`UnmockedBackendError`), so such a client can never
reach the real m3ter with the sandbox's credentials. Serve the sandbox over HTTP (``Sandbox.serve()``, the
``m3ter_server`` fixture) to test that backend.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .core import Sandbox
from .messages import DEFAULT_BASE_URL
from .respx_adapter import respx_router


class UnmockedBackendError(RuntimeError):
    """A request the mock cannot answer was about to leave the process: an aiohttp connection (the client's
    ``http_backend="aiohttp"``) to the origin ``mock_m3ter`` intercepts for httpx. Refused before connecting."""


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, host.lower().rstrip("."), default if port is None else port


@contextmanager
def refuse_aiohttp(base_url: str) -> Iterator[None]:
    """While the block runs, an aiohttp connection to ``base_url``'s origin raises :class:`UnmockedBackendError`
    instead of connecting (nothing is sent). Does nothing where aiohttp is not installed."""
    if importlib.util.find_spec("aiohttp") is None:
        yield
        return
    import aiohttp

    base = httpx.URL(base_url)
    mocked = _origin(base.scheme, base.host, base.port)
    original = aiohttp.BaseConnector.connect

    async def connect(self: aiohttp.BaseConnector, req: aiohttp.ClientRequest, *args: Any, **kwargs: Any) -> Any:
        url = req.url
        if _origin(url.scheme, url.host or "", url.port) == mocked:
            raise UnmockedBackendError(
                f"an aiohttp request to {url.origin()} was refused: the sandbox mock "
                f"(m3ter_mock / mock_m3ter) intercepts {base_url} for httpx only, and this request would have gone "
                'to the network. A client with http_backend="aiohttp" must use the sandbox over HTTP: the '
                "m3ter_server fixture (base_url=m3ter_server.url) or Sandbox.serve()"
            )
        return await original(self, req, *args, **kwargs)

    aiohttp.BaseConnector.connect = connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        aiohttp.BaseConnector.connect = original  # type: ignore[method-assign]


@contextmanager
def mock_m3ter(
    sandbox: Sandbox | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    pass_through: bool = True,
    **sandbox_options: Any,
) -> Iterator[Sandbox]:
    """Route httpx traffic for ``base_url`` to a sandbox (a new one built from ``sandbox_options`` unless
    given) for the duration of the ``with`` block::

        with mock_m3ter(clock=ManualClock(), rate_limit=None) as sandbox:
            creds = sandbox.credentials  # org_id, api_key, api_secret for your client

    Other httpx requests go to the network as usual (a local server, the team's own services), or to the test's
    own respx router when one is active; ``pass_through=False`` makes them fail with an
    ``AllMockedAssertionError`` naming ``base_url``.

    httpx only: an aiohttp connection to ``base_url`` (``AsyncM3terBilling(http_backend="aiohttp")``) raises
    :class:`UnmockedBackendError` before it is opened; serve the sandbox over HTTP for that backend.
    """
    if sandbox is None:
        sandbox = Sandbox(**sandbox_options)
    elif sandbox_options:
        raise TypeError("pass either a sandbox or options to build one, not both")
    with respx_router(sandbox, base_url, pass_through=pass_through), refuse_aiohttp(base_url):
        yield sandbox


__all__ = ["UnmockedBackendError", "mock_m3ter", "refuse_aiohttp"]
