"""The network transports the async client can run on, for tools that build their own client stack around
the same transport (the conformance check wraps it in its read-only guard).

``preferred_backend()`` is ``"aiohttp"`` when the ``m3ter-billing[aiohttp]`` extra is installed, else
``"httpx"``; ``async_network_transport(backend)`` builds that backend's transport with the client's pool
limits and proxy routing. ``statement_extensions(url, addresses)`` are the request extensions under which
that transport connects a statement download to exactly the addresses ``check_statement_url`` vetted, as
the client's own ``download()`` does (no DNS rebinding).
"""

from ._backends import HTTP_BACKENDS, HttpBackend, async_network_transport, preferred_backend
from ._network import statement_extensions

__all__ = ["HTTP_BACKENDS", "HttpBackend", "async_network_transport", "preferred_backend", "statement_extensions"]
