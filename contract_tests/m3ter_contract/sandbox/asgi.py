"""The sandbox as a raw ASGI application (no framework): one HTTP request in, the core's answer out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .messages import Handler, Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host")
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        request = Request(
            method=scope["method"],
            path=scope.get("raw_path", b"").decode("latin-1").split("?")[0] or scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            base_url=f"{scope.get('scheme', 'http')}://{host}",
            client=(scope.get("client") or ("127.0.0.1", 0))[0],
        )
        response = self.handler.handle(request)
        if response.delay:
            await asyncio.sleep(response.delay)
        raw_headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.header_list()]
        raw_headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": response.body})


__all__ = ["SandboxASGI"]
