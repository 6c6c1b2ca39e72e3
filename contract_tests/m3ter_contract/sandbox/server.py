"""The HTTP sandbox on a real server (uvicorn) in a background thread: for tests and for the conformance
check's embedded default. Binds its own socket, so port 0 gives a free port known before serving."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Generic, Self, TypeVar

import uvicorn

from .asgi import SandboxASGI
from .messages import Handler

H = TypeVar("H", bound=Handler)


class SandboxServer(Generic[H]):
    """``SandboxServer(handler).start()`` serves ``handler`` (a ``Sandbox``) on ``host``:``port`` (0: a free
    port) until ``stop()``; also a context manager. ``url`` is the base URL to give clients.

    Generic in the handler it serves (``SandboxServer[Sandbox]``), so ``.sandbox`` keeps its type while this
    adapter depends on the ``Handler`` protocol only."""

    def __init__(self, handler: H, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self._requested_port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def sandbox(self) -> H:
        """The handler this server serves: the ``Sandbox`` for the pytest fixture ``m3ter_server`` and
        ``Sandbox.serve()``."""
        return self.handler

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._socket = bind(self.host, self._requested_port)
        self._server = make_server(self.handler)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="m3ter-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = None
        self._server = None
        self._socket = None

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._socket is not None else "stopped"
        return f"SandboxServer({where})"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP, and
    # without it Nagle + delayed ACK add ~40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        # Listening at once: a client told the URL before the server loop runs waits in the backlog.
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:  # an address taken or not here: the socket is not left open
        sock.close()
        raise
    return sock


def make_server(handler: Handler, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        SandboxASGI(handler),
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        server_header=False,
        date_header=False,
    )
    return uvicorn.Server(config)


__all__ = ["SandboxServer", "bind", "make_server"]
