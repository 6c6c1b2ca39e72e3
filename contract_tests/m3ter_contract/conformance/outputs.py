"""Writing the files a run was asked for (reports, baseline, overlay): each on its own, so one that cannot be
written (or rendered: a bug of the check) does not stop the others, and says what to fix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .redact import clean

Output = tuple[str, Path | None, Callable[[TextIO], object]]
"""(option, path or None when not asked for, what writes the file's text to a handle)"""


def write_outputs(outputs: Sequence[Output]) -> list[str]:
    """Write each output asked for, each on its own; what could not be written, with what to fix."""
    failed: list[str] = []
    for option, path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                write(handle)
        except OSError as exc:
            failed.append(f"cannot write {option} {path}: {exc.strerror or exc}; pass a writable path")
        except Exception as exc:  # a bug of the check: the other reports are still written
            failed.append(f"could not render {option}: {type(exc).__name__}: {clean(exc)} (a bug; please report it)")
    return failed


__all__ = ["Output", "write_outputs"]
