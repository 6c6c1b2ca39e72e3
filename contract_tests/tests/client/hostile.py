"""Hostile and broken HTTP servers on raw sockets, on 127.0.0.1 only: slow drips, resets and early closes in
the middle of a body, endless chunked bodies, gzip bombs, endpoints that never answer, and a forward proxy.

A server runs a ``handler(exchange)`` per request in a thread per connection; ``exchange`` knows the
request line, the connection's number and how to answer (or misbehave). ``stop()`` closes every socket and
ends every handler (handlers loop on ``exchange.stopped``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

TOKEN_BODY = {"token_type": "Bearer", "access_token": "hostile-token-0123456789", "expires_in": 18_000}


@dataclass
class Exchange:
    """One request on a raw connection, and ways to answer it."""

    conn: socket.socket
    method: str
    target: str
    headers: dict[str, str]
    connection_number: int
    stop: threading.Event
    keep_open: bool = field(default=True)

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    @property
    def path(self) -> str:
        """The request path (also for the absolute-form target a proxy receives)."""
        return urlsplit(self.target).path if "://" in self.target else self.target.split("?", 1)[0]

    def send(self, data: bytes) -> bool:
        try:
            self.conn.sendall(data)
        except OSError:
            return False
        return True

    def head(self, status: int = 200, headers: dict[str, str] | None = None) -> bool:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> bool:
        base = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        return self.head(status, {**base, **(headers or {})}) and self.send(body)

    def json(self, status: int, value: Any) -> bool:
        return self.respond(status, json.dumps(value).encode())

    def token(self) -> bool:
        return self.json(200, TOKEN_BODY)

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.keep_open = False
        self.conn.close()

    def close(self) -> None:
        self.keep_open = False
        self.conn.close()

    def wait(self, seconds: float) -> bool:
        """Sleep until ``seconds`` pass or the server stops; True when it is still running."""
        return not self.stop.wait(seconds)


Handler = Callable[[Exchange], object]  # what a handler returns is ignored


def _read_head(conn: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffer:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    return head


class RawServer:
    """A threaded raw-socket HTTP/1.1 server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stop_event = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, target) in arrival order
        self.connections = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(512)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def count(self, method: str, path_suffix: str) -> int:
        with self._lock:
            return sum(1 for m, t in self.requests if m == method and t.split("?", 1)[0].endswith(path_suffix))

    def settled_count(self, method: str, path_suffix: str, expected: int, within: float = 10.0) -> int:
        """:meth:`count`, once it reaches ``expected`` or ``within`` seconds pass: a request the client sent and
        then gave up on (a short timeout) sits in the socket's buffer until a loaded machine schedules the
        server's thread, which still reads it."""
        deadline = time.monotonic() + within
        while (seen := self.count(method, path_suffix)) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return seen

    def __enter__(self) -> RawServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_event.set()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for conn in sockets:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._sockets.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffer = bytearray()
        with conn:
            while not self.stop_event.is_set():
                head = _read_head(conn, buffer)
                if head is None:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = ([*lines[0].split(" "), "", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                del buffer[:length]
                with self._lock:
                    self.requests.append((method, target))
                exchange = Exchange(conn, method, target, headers, number, self.stop_event)
                try:
                    self.handler(exchange)
                except OSError:
                    return
                if not exchange.keep_open:
                    return


# -- bodies ----------------------------------------------------------------------------------------------


def gzip_bomb(block: int = 1024 * 1024) -> Iterator[bytes]:
    """An endless gzip stream of zeros: about 1 KiB on the wire per MiB decoded."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(block)
    while True:
        yield compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


WARM_UP = "warm-up"  # a bill every ``api`` server serves as it should: a call that caches the token first


def api(bill: Handler | None = None, token: Handler | None = None) -> Handler:
    """A handler that serves the token endpoint (``token``, default: a token) and the bill :data:`WARM_UP`,
    and hands every other request to ``bill`` (default: a small bill)."""

    def handle(exchange: Exchange) -> None:
        if exchange.path.endswith("/oauth/token"):
            (token or Exchange.token)(exchange)
        elif exchange.path.endswith(f"/bills/{WARM_UP}"):
            exchange.json(200, {"id": WARM_UP, "version": 1})
        elif bill is not None:
            bill(exchange)
        else:
            exchange.json(200, {"id": exchange.path.rsplit("/", 1)[-1], "version": 1})

    return handle


__all__ = ["WARM_UP", "Exchange", "RawServer", "api", "chunk", "gzip_bomb"]
