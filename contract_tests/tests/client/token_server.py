"""A small m3ter on a raw socket, run in a child process (``python -m client.token_server [--wrong-org]``) so
that hundreds of client threads or thousands of tasks do not share a GIL with it.

It prints its URL, then obeys lines on stdin: ``expire`` (refuse the current token with 403, as m3ter does
for an expired token; answers ``ok``) and ``issued`` (answers how many tokens it issued). Tokens are
tok-1, tok-2, ...; only the newest is accepted. With ``--wrong-org`` every API request gets 403.
"""

from __future__ import annotations

import json
import sys
import threading

from .hostile import Exchange, RawServer

JOB = {"id": "job-1", "version": 1, "orgId": "org", "billId": "bill-1", "statementJobStatus": "COMPLETE"}


class TokenServer:
    def __init__(self, *, wrong_org: bool) -> None:
        self.issued = 0
        self.expired = False
        self.wrong_org = wrong_org
        self._lock = threading.Lock()

    def handle(self, exchange: Exchange) -> None:
        if exchange.path.endswith("/oauth/token"):
            with self._lock:
                self.issued += 1
                self.expired = False
                token = f"tok-{self.issued}-0123456789abcdef"
            exchange.json(200, {"token_type": "Bearer", "access_token": token, "expires_in": 18_000})
            return
        with self._lock:
            current = f"Bearer tok-{self.issued}-0123456789abcdef"
            accepted = not self.wrong_org and not self.expired and exchange.headers.get("authorization") == current
        if accepted:
            exchange.respond(200, json.dumps(JOB).encode())
        else:
            exchange.json(403, {"message": "Forbidden"})


def main() -> None:
    m3ter = TokenServer(wrong_org="--wrong-org" in sys.argv)
    with RawServer(m3ter.handle) as server:
        print(server.url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "expire":
                with m3ter._lock:
                    m3ter.expired = True
                print("ok", flush=True)
            elif command == "issued":
                print(m3ter.issued, flush=True)


if __name__ == "__main__":
    main()
