"""The network under the client's own transports (httpcore network backends), for two guarantees that
httpx's transports cannot give by themselves:

- **The sync deadline, per socket operation.** httpcore gives every read of a response the read timeout it
  was sent with, so a server that drips the body (or the headers) and then stalls just before the
  deadline gets a whole read timeout more: up to twice the total timeout. :class:`DeadlineBackend` gives
  each connect, TLS handshake, read and write at most the time the call has left (the request being
  sent, ``_deadline.SENDING``), and a socket operation cut short by the deadline raises the call's
  ``APITimeoutError``. (The async client bounds the whole exchange with ``asyncio.timeout`` in
  ``_transport`` instead: one timer, whatever the backend.)
- **Statement downloads connect to the addresses that were vetted** (``_statement_urls``), never to a
  second answer of the DNS: a request carrying :data:`PINNED` is sent through a pool of its own whose
  backend (:class:`PinnedBackend`) connects to exactly those addresses. The URL, the ``Host`` header and
  the TLS server name (SNI and certificate verification) stay the original host's. Through a proxy, the
  proxy connects (the request goes through an ordinary proxy transport). API calls never carry
  :data:`PINNED`: they go through the default pool, as before.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import httpcore
import httpx

from ._deadline import SENDING, deadline_of
from ._transport import LIMITS, routed

PINNED = "m3ter_billing.pinned_addresses"
"""The request extension of a statement download: the :class:`Pinned` addresses of its URL's host."""


@dataclass(frozen=True, slots=True)
class Pinned:
    """The addresses ``host`` (as httpcore names it: ASCII, IDNA-encoded) was vetted with for ``port``."""

    host: str
    port: int
    addresses: tuple[str, ...]

    @classmethod
    def of(cls, url: str | httpx.URL, addresses: Iterable[str]) -> Pinned:
        """``url``'s host and port as httpcore connects to them, pinned to ``addresses``."""
        target = httpx.URL(url)
        port = target.port or (80 if target.scheme == "http" else 443)
        return cls(target.raw_host.decode("ascii"), port, tuple(addresses))


def statement_extensions(url: str | httpx.URL, addresses: Iterable[str] | None) -> dict[str, Any]:
    """The request extensions under which the client's network (``network_stack``) connects a GET of
    ``url`` to ``addresses`` only: what ``check_statement_url`` returned for it. No addresses (the name did
    not resolve when it was vetted) connects nowhere; None (nothing was vetted by address) adds nothing."""
    return {} if addresses is None else {PINNED: Pinned.of(url, addresses)}


_PINS: ContextVar[Pinned | None] = ContextVar("m3ter_billing.pins", default=None)


# -- the deadline, per socket operation (sync) ---------------------------------------------------------------

_R = TypeVar("_R")


def _within_deadline(timeout: float | None, doing: str, operation: Callable[[float | None], _R]) -> _R:
    """``operation(seconds)`` with ``timeout`` cut to the time the call being sent has left; the call's
    ``APITimeoutError`` when none is left or when the cut timeout is what ended the operation."""
    request = SENDING.get()
    deadline = deadline_of(request) if request is not None else None
    if deadline is None:
        return operation(timeout)
    remaining = deadline.remaining()
    if remaining <= 0:
        raise deadline.exceeded(request, doing)
    try:
        return operation(remaining if timeout is None or timeout > remaining else timeout)
    except httpcore.TimeoutException:
        if deadline.remaining() <= 0:
            raise deadline.exceeded(request, doing) from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within_deadline(timeout, "waiting for the server", lambda t: self._stream.read(max_bytes, t))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _within_deadline(timeout, "sending the request", lambda t: self._stream.write(buffer, t))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = _within_deadline(
            timeout, "in the TLS handshake", lambda t: self._stream.start_tls(ssl_context, server_hostname, t)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Wraps a sync network backend: every socket operation gets at most the time its call has left."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = _within_deadline(
            timeout,
            "connecting",
            lambda t: self._backend.connect_tcp(host, port, t, local_address, socket_options),
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = _within_deadline(
            timeout, "connecting", lambda t: self._backend.connect_unix_socket(path, t, socket_options)
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# -- statement downloads: connect to the vetted addresses ---------------------------------------------------


def _pinned_for(host: str, port: int) -> Pinned:
    pinned = _PINS.get()
    if pinned is None or (pinned.host, pinned.port) != (host, port):
        # Only requests carrying PINNED reach this pool, and httpcore connects to the URL's own host: a
        # mismatch would be a bug, and a connection to an address nobody vetted is what this prevents.
        raise httpcore.ConnectError(f"no vetted address for {host}:{port}; not connecting")
    if not pinned.addresses:
        raise httpcore.ConnectError(f"{host} did not resolve when it was vetted; not connecting")
    return pinned


class PinnedBackend(httpcore.NetworkBackend):
    """Wraps a sync network backend: connects to the vetted addresses of the request's host, in order,
    instead of resolving the name again."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        pinned = _pinned_for(host, port)
        for address in pinned.addresses[:-1]:
            try:
                return self._backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):  # as socket.create_connection: the next one
                continue
        return self._backend.connect_tcp(pinned.addresses[-1], port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("statement downloads do not use unix sockets")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class AsyncPinnedBackend(httpcore.AsyncNetworkBackend):
    """:class:`PinnedBackend` for the async pool."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pinned = _pinned_for(host, port)
        for address in pinned.addresses[:-1]:
            try:
                return await self._backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):  # as socket.create_connection: the next one
                continue
        return await self._backend.connect_tcp(pinned.addresses[-1], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("statement downloads do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class StatementRouter(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends a request carrying :data:`PINNED` (a statement download) through ``statements``, with its
    vetted addresses in force while it connects; every other request through ``api``, untouched."""

    def __init__(self, api: Any, statements: Any) -> None:
        self.api = api
        self.statements = statements

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pinned = request.extensions.get(PINNED)
        if not isinstance(pinned, Pinned):
            response: httpx.Response = self.api.handle_request(request)
            return response
        token = _PINS.set(pinned)
        try:
            response = self.statements.handle_request(request)
        finally:
            _PINS.reset(token)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pinned = request.extensions.get(PINNED)
        if not isinstance(pinned, Pinned):
            response: httpx.Response = await self.api.handle_async_request(request)
            return response
        token = _PINS.set(pinned)
        try:
            response = await self.statements.handle_async_request(request)
        finally:
            _PINS.reset(token)
        return response

    def close(self) -> None:
        self.api.close()
        self.statements.close()

    async def aclose(self) -> None:
        await self.api.aclose()
        await self.statements.aclose()


# -- building the pools ----------------------------------------------------------------------------------------


def _wrap_backend(transport: Any, wrap: Callable[[Any], Any]) -> Any:
    """``transport`` (an ``httpx.HTTPTransport`` or ``AsyncHTTPTransport``) with its httpcore pool's network
    backend wrapped. httpx builds the pool itself and takes no backend, so the pool's is replaced before
    any connection exists (``_pool`` and ``_network_backend`` are the attributes httpx 0.27-0.28 and
    httpcore 1.x keep them in; a test fails when they move)."""
    pool = transport._pool
    pool._network_backend = wrap(pool._network_backend)
    return transport


def network_stack(*, is_async: bool, trust_env: bool, api: Any = None) -> Any:
    """The client's network: ``api`` (default: httpx's network transport, its sync backend bounded by each
    call's deadline) for API calls, and a pool of its own for statement downloads that connects to their
    vetted addresses; both through the proxies the environment names when ``trust_env``."""
    kind: Any = httpx.AsyncHTTPTransport if is_async else httpx.HTTPTransport

    def make(proxy: str | None) -> Any:
        return kind(trust_env=trust_env, proxy=proxy, limits=LIMITS)

    def bounded(backend: Any) -> Any:
        return backend if is_async else DeadlineBackend(backend)

    def pinned(backend: Any) -> Any:
        # Sync: the deadline bounds each address's attempt, so one that is cut short by it ends the download
        # (APITimeoutError) instead of handing the next address a socket timeout past the deadline.
        return AsyncPinnedBackend(backend) if is_async else PinnedBackend(DeadlineBackend(backend))

    if api is None:
        api = routed(lambda proxy: _wrap_backend(make(proxy), bounded), trust_env=trust_env)
    # Through a proxy the proxy resolves the name (a CONNECT to host:port): only direct connections pin.
    statements = routed(
        lambda proxy: _wrap_backend(make(proxy), pinned if proxy is None else bounded), trust_env=trust_env
    )
    return StatementRouter(api, statements)


__all__ = [
    "PINNED",
    "AsyncPinnedBackend",
    "DeadlineBackend",
    "Pinned",
    "PinnedBackend",
    "StatementRouter",
    "network_stack",
    "statement_extensions",
]
