"""``http_client=``: layer this client's auth, retries, limits and redaction on a caller's httpx client.

What is taken from the caller's client: its transport (TLS verification, certificates, connection
limits, HTTP/2, a mock), its event hooks, its headers (ours win where both set one; sent with API
requests only, never to a presigned statement URL) and its timeout, when it is not httpx's default and
the caller gave no ``timeout=`` (:func:`adopted_timeout`, as the official SDK does). The proxies httpx
read from the environment for it (``trust_env``: ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``,
``NO_PROXY``) are kept, routed as that client routes them, unless this client is built with
``trust_env=False`` (then they are dropped, as our own network drops them). What cannot be layered is
refused with a ConfigurationError naming it: its own ``auth`` (ours signs every request), and the proxies
and mounts the caller configured itself (``proxy=`` / ``mounts=``: pass a ``transport=`` that goes
through the proxy instead). The caller's client is not used to send requests itself, and closing this
client closes its transport (the proxy transports of the environment's proxies included).
"""

from __future__ import annotations

from typing import Any

import httpx

from ._exceptions import ConfigurationError
from ._transport import mounted

# httpx's own default (``httpx.Client()`` without ``timeout=``): a client with it says nothing about time.
HTTPX_DEFAULT_TIMEOUT = httpx.Timeout(5.0)


def borrowed(
    http_client: httpx.Client | httpx.AsyncClient, *, is_async: bool, trust_env: bool = True
) -> tuple[Any, dict[str, Any]]:
    """The caller's transport (behind the environment's proxies its client routes through, when
    ``trust_env``) and the client options carried over (``event_hooks``, ``headers``)."""
    wanted = httpx.AsyncClient if is_async else httpx.Client
    if not isinstance(http_client, wanted):
        raise ConfigurationError(
            f"http_client must be an {wanted.__module__}.{wanted.__qualname__}, got {type(http_client).__name__}"
        )
    if http_client.is_closed:
        raise ConfigurationError("http_client is closed")
    if http_client.auth is not None:
        raise ConfigurationError(
            "http_client has its own auth; this client signs every request itself (api_key/api_secret or token)"
        )
    mounts = _environment_mounts(http_client)  # httpx keeps proxy=, mounts= and the environment's proxies here
    if mounts is None:
        raise ConfigurationError(
            "http_client has proxy or mounted transports of its own, which cannot be layered on; "
            "pass transport= (a transport that goes through the proxy) instead"
        )
    options = {"event_hooks": dict(http_client.event_hooks), "headers": dict(http_client.headers)}
    transport = http_client._transport
    return (mounted(transport, mounts) if trust_env else transport), options


def adopted_timeout(http_client: object) -> httpx.Timeout | None:
    """The timeout of a caller's httpx client when it is not httpx's default (the official SDK adopts it
    when ``timeout=`` is not given; a client built with exactly ``timeout=5.0`` looks like the default and
    is not adopted) and bounds every phase; None otherwise, or when ``http_client`` is no httpx client.

    A timeout with an unbounded phase (``httpx.Client(timeout=None)``, ``Timeout(None, connect=5)``) is not
    adopted: taken as given it would leave the calls without a socket timeout and without the total deadline
    derived from it. A caller who wants that says so with ``timeout=`` (and ``total_timeout=``).
    """
    if not isinstance(http_client, httpx.Client | httpx.AsyncClient) or http_client.timeout == HTTPX_DEFAULT_TIMEOUT:
        return None
    timeout = http_client.timeout
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return timeout if all(phase is not None for phase in phases) else None


def _environment_mounts(http_client: httpx.Client | httpx.AsyncClient) -> list[tuple[Any, Any]] | None:
    """The caller's mounts when they are exactly those httpx derives from the environment's proxy
    variables (what ``trust_env`` asks for: the same reading our own network makes), sorted as httpx keeps
    them; None when the caller configured any itself (``proxy=``, ``mounts=``) or the environment has
    changed since its client was built."""
    mounts: dict[Any, Any] = http_client._mounts
    if not mounts:
        return []
    if not http_client.trust_env:
        return None
    # httpx's own reading of the environment (the function its Client uses; _transport uses it alike).
    from httpx._utils import get_environment_proxies

    expected = get_environment_proxies()
    if {pattern.pattern for pattern in mounts} != set(expected):
        return None
    for pattern, transport in mounts.items():
        proxy = expected[pattern.pattern]
        if proxy is None:
            if transport is not None:
                return None
        elif (address := _address(proxy)) is None or _proxy_of(transport) != address:
            return None
    return list(mounts.items())


def _address(proxy: str) -> tuple[bytes, bytes, int | None] | None:
    """Scheme, host and port of a proxy URL, as httpx builds its proxy transport from them."""
    try:
        url = httpx.Proxy(url=proxy).url
    except (ValueError, httpx.InvalidURL):
        return None
    return url.raw_scheme, url.raw_host, url.port


def _proxy_of(transport: object) -> tuple[bytes, bytes, int | None] | None:
    """Scheme, host and port of the proxy an httpx transport built by ``httpx.Client(proxy=...)`` goes
    through; None for any other transport (which no environment variable makes)."""
    if type(transport) not in (httpx.HTTPTransport, httpx.AsyncHTTPTransport):
        return None
    url = getattr(getattr(transport, "_pool", None), "_proxy_url", None)
    if url is None:
        return None
    return url.scheme, url.host, url.port


__all__ = ["HTTPX_DEFAULT_TIMEOUT", "adopted_timeout", "borrowed"]
