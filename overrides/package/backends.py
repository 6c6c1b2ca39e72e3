"""The network transports the async client can run on, for tools that build their own client stack around
the same transport (the conformance check wraps it in its read-only guard).

``preferred_backend()`` is ``"aiohttp"`` when the ``m3ter-billing[aiohttp]`` extra is installed, else
``"httpx"``; ``async_network_transport(backend)`` builds that backend's transport with the client's pool
limits and proxy routing.
"""

from ._backends import HTTP_BACKENDS, HttpBackend, async_network_transport, preferred_backend

__all__ = ["HTTP_BACKENDS", "HttpBackend", "async_network_transport", "preferred_backend"]
