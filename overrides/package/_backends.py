"""The network transports an async client can run over: ``"httpx"`` (httpcore, the default) or
``"aiohttp"`` (the ``m3ter-billing[aiohttp]`` extra; aiohttp is imported only when it is chosen).

Either sits under the same retry layer and bounded body reading (``_retry``, ``_transport``), so auth,
retries, deadlines, size caps, redaction, typed errors, statement-URL vetting and the proxies the
environment names are the same on both.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import httpx

from ._exceptions import ConfigurationError
from ._network import StatementRouter, network_stack
from ._transport import KEEPALIVE_EXPIRY, POOL_SIZE, OpeningNetwork, routed

HttpBackend = Literal["httpx", "aiohttp"]
HTTP_BACKENDS: tuple[str, ...] = ("httpx", "aiohttp")
EXTRA = "m3ter-billing[aiohttp]"


def aiohttp_installed() -> bool:
    """Whether the ``aiohttp`` backend can be used (aiohttp is importable), without importing it."""
    return importlib.util.find_spec("aiohttp") is not None


def preferred_backend() -> HttpBackend:
    """``"aiohttp"`` when the extra is installed, else ``"httpx"``."""
    return "aiohttp" if aiohttp_installed() else "httpx"


def checked_backend(backend: object) -> HttpBackend:
    """``backend`` if it names a usable backend; otherwise a :class:`ConfigurationError` saying why."""
    if backend == "httpx":
        return "httpx"
    if backend == "aiohttp":
        if not aiohttp_installed():
            raise ConfigurationError(
                f'http_backend="aiohttp" needs aiohttp, which is not installed: install the client with its extra '
                f'{EXTRA} (from a checkout: pip install "./generated[aiohttp]") or aiohttp itself'
            )
        return "aiohttp"
    raise ConfigurationError(f"http_backend must be one of {', '.join(map(repr, HTTP_BACKENDS))}, not {backend!r}")


def async_network_transport(backend: HttpBackend, *, trust_env: bool = True) -> httpx.AsyncBaseTransport:
    """A network transport for ``backend`` (pool of ``POOL_SIZE``, every idle connection kept alive),
    routed through the environment's proxies when ``trust_env``. Statement downloads go over httpx's own
    pool whatever the backend: it connects to their vetted addresses (``_network``)."""
    if checked_backend(backend) == "httpx":
        transport: httpx.AsyncBaseTransport = network_stack(is_async=True, trust_env=trust_env)
        return transport
    from ._aiohttp import AiohttpTransport

    api = routed(
        lambda proxy: AiohttpTransport(
            max_connections=POOL_SIZE, keepalive_expiry=KEEPALIVE_EXPIRY, proxy=proxy, trust_env=trust_env
        ),
        trust_env=trust_env,
    )
    built: httpx.AsyncBaseTransport = network_stack(is_async=True, trust_env=trust_env, api=api)
    return built


def opening_network(transport: object) -> OpeningNetwork | None:
    """The aiohttp transport API calls go through when ``transport`` is the aiohttp backend's network with no
    proxy in the way (what the quick lane of ``_direct`` sends through); None otherwise. Called only for that
    backend, so aiohttp is installed."""
    if not isinstance(transport, StatementRouter):
        return None
    from ._aiohttp import AiohttpTransport

    api = transport.api
    return api if isinstance(api, AiohttpTransport) else None


__all__ = [
    "EXTRA",
    "HTTP_BACKENDS",
    "HttpBackend",
    "aiohttp_installed",
    "async_network_transport",
    "checked_backend",
    "opening_network",
    "preferred_backend",
]
