"""``m3ter-sandbox serve``: the HTTP sandbox on 127.0.0.1, printing where it is and how to log in (and, with
``--control``, how to reach its control plane: :mod:`.control`)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence

from ..about import VersionAction
from .clock import ManualClock, iso_datetime
from .control import PREFIX, ControlPlane, new_token
from .core import Sandbox
from .server import bind, make_server

MAX_SEED = 2**63 - 1  # as m3ter-conformance --seed
# The benchmarks' largest bill. Built before the port is bound: 100,000 items take about 7 s and 300 MiB,
# 1,000,000 over a minute and 1.7 GB.
MAX_LINE_ITEMS = 100_000
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


def _port(text: str) -> int:
    port = _whole(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def _host(text: str) -> str:
    if not text:  # the socket would bind every interface (0.0.0.0), and the URL printed would be http://:PORT
        raise argparse.ArgumentTypeError("must not be empty (127.0.0.1: this machine only; 0.0.0.0: every interface)")
    try:  # as the socket module encodes a name it looks up (an undecodable byte arrives as a lone surrogate)
        if not text.isascii():
            text.encode("idna")
    except UnicodeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or an IP address") from None
    return text


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # argparse's own message would name the parser function ("invalid parse value")
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _whole(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        return value

    return parse


def _between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _whole(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds of at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="m3ter-sandbox", description="A stateful m3ter billing API sandbox.")
    parser.add_argument("--version", action=VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the sandbox over HTTP until interrupted")
    serve.add_argument("--host", type=_host, default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8080, help="port to bind; 0 picks a free one (default 8080)")
    serve.add_argument(
        "--seed",
        type=_between(0, MAX_SEED),
        default=0,
        help=f"seed for ids and bill content (0 to {MAX_SEED}, default 0)",
    )
    serve.add_argument(
        "--rate-limit",
        type=_at_least(0),
        default=50,
        help="requests per second per Organization before 429 (m3ter: 50); 0 disables the limit",
    )
    serve.add_argument("--url-lifetime", type=_seconds, default=3600.0, help="presigned URL lifetime in seconds")
    serve.add_argument(
        "--large-bill-line-items",
        type=_between(0, MAX_LINE_ITEMS),
        default=2000,
        help=f"line items of the seeded large bill (0 to {MAX_LINE_ITEMS}, default 2000)",
    )
    serve.add_argument(
        "--control",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=f"serve the control plane under {PREFIX}/ (reset, advance the clock, queue faults), opened by a random "
        "token printed with the details (default: off)",
    )
    serve.add_argument(
        "--manual-clock",
        action="store_true",
        help=f"run on a clock that only POST {PREFIX}/advance moves, from 2025-01-15T12:00:00Z (needs --control)",
    )
    serve.add_argument("--json", action="store_true", help="print the details as one JSON line")
    serve.add_argument(
        "--log-level", choices=_LOG_LEVELS, default="warning", help="uvicorn log level (default warning)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.manual_clock and not args.control:
        parser.error(f"--manual-clock needs --control: only POST {PREFIX}/advance moves that clock")
    sandbox = Sandbox(
        clock=ManualClock() if args.manual_clock else None,
        seed=args.seed,
        rate_limit=args.rate_limit or None,
        url_lifetime=args.url_lifetime,
        large_bill_line_items=args.large_bill_line_items,
    )
    try:
        sock = bind(args.host, args.port)
    except (OSError, OverflowError, UnicodeError) as exc:  # taken, not an address here, not allowed
        print(f"m3ter-sandbox: cannot listen on {args.host} port {args.port}: {exc}", file=sys.stderr)
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{sock.getsockname()[1]}"
    details = {"url": url, **sandbox.summary()}
    token = new_token() if args.control else None
    if token is not None:
        details.update(control_url=f"{url}{PREFIX}/", control_token=token)
    if args.json:
        details["rate_limit"] = sandbox.rate_limit
        print(json.dumps(details), flush=True)
    else:
        # Deliberately prints the credentials (and the control token): they only open this local sandbox.
        print(f"m3ter sandbox serving at {url} (seed {args.seed})")
        print(f"  org_id       {details['org_id']}")
        print(f"  api_key      {details['api_key']}")
        print(f"  api_secret   {details['api_secret']}")
        limit = (
            f"{sandbox.rate_limit} requests/s per Organization, {sandbox.ip_rate_limit} per 5 minutes per source IP"
            if sandbox.rate_limit
            else "disabled"
        )
        print(f"  rate limit   {limit}")
        print("  bills        " + "\n               ".join(details["bill_ids"]))
        print("  statement jobs " + "\n                 ".join(details["statement_job_ids"]))
        if token is not None:
            print(f"  control      {details['control_url']} (Authorization: Bearer {token})")
        if args.manual_clock:
            print(f"  clock        manual, at {iso_datetime(sandbox.clock.now())}: POST {PREFIX}/advance moves it")
        print("Press Ctrl+C to stop.", flush=True)
    server = make_server(ControlPlane(sandbox, token), log_level=args.log_level)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles SIGINT itself
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
