"""``http_client=``: layer this client's auth, retries, limits and redaction on a caller's httpx client.

What is taken from the caller's client: its transport (TLS verification, certificates, connection
limits, HTTP/2, a mock), its event hooks and its headers (ours win where both set one; sent with API
requests only, never to a presigned statement URL). What cannot be layered is refused with a
ConfigurationError naming it: its own ``auth`` (ours signs every request), and proxy mounts (``proxy=`` /
``mounts=``: pass a ``transport=`` that goes through the proxy instead).
The caller's client is not used to send requests itself, and closing this client closes its transport.
"""

from __future__ import annotations

from typing import Any

import httpx

from ._exceptions import ConfigurationError


def borrowed(http_client: httpx.Client | httpx.AsyncClient, *, is_async: bool) -> tuple[Any, dict[str, Any]]:
    """The caller's transport and the client options carried over (``event_hooks``, ``headers``)."""
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
    if http_client._mounts:  # httpx keeps proxy= and mounts= here; requests there would skip our layers
        raise ConfigurationError(
            "http_client has proxy or mounted transports, which cannot be layered on; "
            "pass transport= (a transport that goes through the proxy) instead"
        )
    options = {"event_hooks": dict(http_client.event_hooks), "headers": dict(http_client.headers)}
    return http_client._transport, options


__all__ = ["borrowed"]
