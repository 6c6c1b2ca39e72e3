"""``--version`` of the harness's commands: the harness's own version and the client's it drives."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import m3ter_billing

DISTRIBUTION = "m3ter-billing-contract"


def harness_version() -> str:
    """The installed distribution's version, or a plain word when the harness runs from a source tree."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def spec_fingerprint(path: Path) -> str:
    """``NAME sha256:HEX12`` of the spec file a run judges by; a word instead when it cannot be read."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        return f"{path.name} (unreadable: {exc.strerror or exc})"
    return f"{path.name} sha256:{digest}"


def version_text(prog: str, *extra: str) -> str:
    """One line: the command, the harness's version, the client's (its version is the spec's info.version
    plus the overrides' revision), then ``extra`` parts (the spec file a run would judge by)."""
    parts = [f"client m3ter-billing {m3ter_billing.__version__}", *extra]
    return f"{prog} {harness_version()} ({'; '.join(parts)})"


class VersionAction(argparse.Action):
    """``--version``: prints :func:`version_text` (computed only when asked) and exits 0."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str = argparse.SUPPRESS,
        *,
        extra: Callable[[], Sequence[str]] = tuple,
        help: str = "print the harness's and the client's versions and exit",
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)
        self._extra = extra

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(version_text(parser.prog, *self._extra()) + "\n")
        sys.stdout.flush()
        parser.exit()


__all__ = ["DISTRIBUTION", "VersionAction", "harness_version", "spec_fingerprint", "version_text"]
