"""Writing the files a run was asked for (reports, baseline, overlay): each on its own, so one that cannot be
written (or rendered: a bug of the check) does not stop the others, and says what to fix.

Each file is written whole or not at all: its text goes to a hidden temporary file in the same directory,
which then replaces the file (``os.replace``, atomic on POSIX). A render that fails, a full disk or a second
Ctrl-C while the reports of an interrupted run are written leave the file as it was (or absent), never half
written. The file keeps the mode of the one it replaces (a new one: the umask's). A path that is not a
regular file (``/dev/stdout``, a named pipe) is written in place: it cannot be replaced.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from .redact import clean

Output = tuple[str, Path | None, Callable[[TextIO], object]]
"""(option, path or None when not asked for, what writes the file's text to a handle)"""


def write_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write ``path`` whole or not at all (see the module's doc); raises what writing raised."""
    target = Path(os.path.realpath(path))  # a symlink's target is replaced, not the link
    try:
        mode: int | None = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with target.open("w", encoding="utf-8") as handle:
            write(handle)
        return
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = -1  # open and not yet owned by a file object
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        handle = os.fdopen(fd, "w", encoding="utf-8")
        fd = -1
        with handle:
            if mode is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(mode))
            write(handle)
        os.replace(temporary, target)
    except BaseException:  # a render bug, a full disk, a second Ctrl-C: the file stays as it was
        if fd >= 0:
            os.close(fd)
        with suppress(OSError):
            temporary.unlink()
        raise


def write_outputs(outputs: Sequence[Output]) -> list[str]:
    """Write each output asked for, each on its own; what could not be written, with what to fix."""
    failed: list[str] = []
    for option, path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, write)
        except OSError as exc:
            failed.append(f"cannot write {option} {path}: {exc.strerror or exc}; pass a writable path")
        except Exception as exc:  # a bug of the check: the other reports are still written
            failed.append(f"could not render {option}: {type(exc).__name__}: {clean(exc)} (a bug; please report it)")
    return failed


__all__ = ["Output", "write_atomically", "write_outputs"]
