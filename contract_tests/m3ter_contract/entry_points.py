"""The console scripts ``m3ter-conformance`` and ``m3ter-sandbox``, as small as they can be.

A console script imports its function before calling it; the commands' own modules take about half a second
to import (the client, the rules, the spec), and a Ctrl-C in that time used to end in a ``KeyboardInterrupt``
traceback. Here the commands are imported inside the functions, so an interruption a command does not
handle itself (while it loads, before it takes charge of Ctrl-C) ends with one line and exit 130, as an
interrupted run does.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # 128 + SIGINT, as the commands exit when interrupted


def _stopped(command: str) -> int:
    print(f"{command}: interrupted (Ctrl-C)", file=sys.stderr)
    return INTERRUPTED


def conformance() -> int:
    try:
        from .conformance.command import main

        return main()
    except KeyboardInterrupt:
        return _stopped("m3ter-conformance")


def sandbox() -> int:
    try:
        from .sandbox.cli import main

        return main()
    except KeyboardInterrupt:
        return _stopped("m3ter-sandbox")


__all__ = ["conformance", "sandbox"]
