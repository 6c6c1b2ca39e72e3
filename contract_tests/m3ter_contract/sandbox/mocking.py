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
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .core import Sandbox
from .messages import DEFAULT_BASE_URL
from .respx_adapter import LOOPBACK, PassThrough, respx_router


class UnmockedBackendError(RuntimeError):
    """A request the mock cannot answer was about to leave the process: an aiohttp connection (the client's
    ``http_backend="aiohttp"``) to the origin ``mock_m3ter`` intercepts for httpx. Refused before connecting."""


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, host.lower().rstrip("."), default if port is None else port


# The origins refused to aiohttp, each with the number of blocks refusing it, and aiohttp's own ``connect``
# while the patch is installed: one patch for every block, installed by the first and undone by the last,
# whatever order they end in, on any thread.
_refused: Counter[tuple[str, str, int | None]] = Counter()
_refused_lock = threading.Lock()
_original_connect: Any = None


def _refusing_connect(original: Any) -> Any:
    async def connect(self: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        url = req.url
        if _refused[_origin(url.scheme, url.host or "", url.port)] > 0:
            raise UnmockedBackendError(
                f"an aiohttp request to {url.origin()} was refused: the sandbox mock (m3ter_mock / mock_m3ter) "
                f"intercepts {url.origin()} for httpx only, and this request would have gone to the network. A "
                'client with http_backend="aiohttp" must use the sandbox over HTTP: the m3ter_server fixture '
                "(base_url=m3ter_server.url) or Sandbox.serve()"
            )
        return await original(self, req, *args, **kwargs)

    return connect


@contextmanager
def refuse_aiohttp(base_url: str) -> Iterator[None]:
    """While the block runs, an aiohttp connection to ``base_url``'s origin raises :class:`UnmockedBackendError`
    instead of connecting (nothing is sent). Blocks may overlap and end in any order, on any thread: an origin
    stays refused while any block refusing it runs. Does nothing where aiohttp is not installed."""
    global _original_connect
    if importlib.util.find_spec("aiohttp") is None:
        yield
        return
    import aiohttp

    base = httpx.URL(base_url)
    origin = _origin(base.scheme, base.host, base.port)
    with _refused_lock:
        if _original_connect is None:
            _original_connect = aiohttp.BaseConnector.connect
            aiohttp.BaseConnector.connect = _refusing_connect(_original_connect)  # type: ignore[method-assign]
        _refused[origin] += 1
    try:
        yield
    finally:
        with _refused_lock:
            _refused[origin] -= 1
            if _refused[origin] <= 0:
                del _refused[origin]
            if not _refused:
                aiohttp.BaseConnector.connect = _original_connect  # type: ignore[method-assign]
                _original_connect = None


@contextmanager
def mock_m3ter(
    sandbox: Sandbox | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    pass_through: PassThrough = LOOPBACK,
    **sandbox_options: Any,
) -> Iterator[Sandbox]:
    """Route httpx traffic for ``base_url`` to a sandbox (a new one built from ``sandbox_options`` unless
    given) for the duration of the ``with`` block::

        with mock_m3ter(clock=ManualClock(), rate_limit=None) as sandbox:
            creds = sandbox.credentials  # org_id, api_key, api_secret for your client

    Other httpx requests go to the network when their host is this machine (a local server, ``m3ter_server``),
    or to the test's own respx router when one is active; ``pass_through=True`` lets them go to any host (the
    team's own services elsewhere), ``False`` to none. One that may not go fails with an
    ``AllMockedAssertionError`` naming ``base_url``: a client aimed at another m3ter host by mistake never
    reaches it.

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
