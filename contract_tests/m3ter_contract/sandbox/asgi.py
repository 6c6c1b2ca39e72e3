"""The sandbox as a raw ASGI application (no framework): one HTTP request in, the core's answer out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any

from .messages import Handler, Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHUNK = 64 * 1024
"""Response bodies larger than this are sent in slices of this size."""


class _Disconnected(Exception):
    """The client went away while sending its request body."""


class SandboxASGI:
    """An ASGI app answering every HTTP request with ``handler.handle`` (a ``Sandbox``, say)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host")
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        method: str = scope["method"]
        path = scope.get("raw_path", b"").decode("latin-1").split("?")[0] or scope["path"]
        request = Request(
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            base_url=f"{scope.get('scheme', 'http')}://{host}",
            client=(scope.get("client") or ("127.0.0.1", 0))[0],
        )
        if self.handler.wants_body(method, path, headers):
            # Only an authenticated token call's body is read, and only up to the cap (413 beyond it).
            try:
                body = await _read_body(receive, self.handler.max_request_body, headers.get("content-length"))
            except _Disconnected:
                return
            if body is None:
                response = self.handler.refuse(request, 413, "Request body too large")
            else:
                response = self.handler.handle(replace(request, body=body))
        else:
            response = self.handler.handle(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.header_list()]
        raw_headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        body = response.body
        if len(body) <= CHUNK:
            await send({"type": "http.response.body", "body": body})
            return
        # A large body goes out in slices of the shared cached bytes: the server waits for the socket to drain
        # between them, so a slow reader holds at most about one slice in its buffer, not the whole body.
        view = memoryview(body)
        for start in range(0, len(body), CHUNK):
            chunk = view[start : start + CHUNK]
            await send({"type": "http.response.body", "body": chunk, "more_body": start + CHUNK < len(body)})


async def _read_body(receive: Receive, limit: int, declared: str | None) -> bytes | None:
    """The request body, or None when it is (or says it is) longer than ``limit``; raises ``_Disconnected``
    when the client went away. Chunks are joined once (no quadratic copying)."""
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


__all__ = ["CHUNK", "SandboxASGI"]
