"""Writing the files a run was asked for (reports, baseline, overlay): each on its own, so one that cannot be
written (or rendered: a bug of the check) does not stop the others, and says what to fix.

Each file is written whole or not at all: its text goes to a hidden temporary file in the same directory,
which then replaces the file (``os.replace``, atomic on POSIX). A render that fails, a full disk or a second
Ctrl-C while the reports of an interrupted run are written leave the file as it was (or absent), never half
written. The file keeps the mode of the one it replaces (a new one: the umask's). A path that is not a
regular file (a named pipe, a terminal) is written in place: it cannot be replaced. A path that names one of
this process's open descriptors (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``) is
written through that descriptor, where it stands: with the output redirected to a file (``> log.txt``), the
report goes into the log after what was printed before it, and the lines printed after it follow.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import Callable, Collection, Hashable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from .redact import clean

Output = tuple[str, Path | None, Callable[[TextIO], object]]
"""(option, path or None when not asked for, what writes the file's text to a handle)"""


_STANDARD = {"/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(path: Path) -> int | None:
    """The descriptor of this process that ``path`` names, following its symbolic links one by one (so
    ``/dev/stdout`` is seen before it resolves to whatever file the output was redirected to)."""
    current = os.path.abspath(path)
    own = ("/proc/self/fd/", f"/proc/{os.getpid()}/fd/", "/dev/fd/")
    for _ in range(40):  # the kernel's own limit on links followed
        if current in _STANDARD:
            return _STANDARD[current]
        for prefix in own:
            number = current.removeprefix(prefix)
            if number != current and number.isdigit():
                return int(number)
        try:
            link = os.readlink(current)
        except OSError:  # not a link (or not there): the end of the chain
            return None
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return None


def write_atomically(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write ``path`` whole or not at all (see the module's doc); raises what writing raised."""
    descriptor = _descriptor(path)
    if descriptor is not None:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):  # what this process printed so far goes first
                stream.flush()
        # A duplicate, opened without truncating: the text goes where the descriptor's offset stands.
        with os.fdopen(os.dup(descriptor), "w", encoding="utf-8") as handle:
            write(handle)
        return
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


def unwritable(path: Path) -> str | None:
    """Why ``path`` could not be written as :func:`write_atomically` and :func:`write_outputs` write it, or
    ``None``: found by doing it, since permission bits say nothing for root or on a special file system
    (``/proc``). The missing directories are created and a file is created next to ``path``; what this
    creates is removed again. An existing file is never opened (its content and times stay as they are),
    nor is a path that is not a regular file or one of this process's descriptors: written in place, and
    opening a named pipe would wait for a reader."""
    if _descriptor(path) is not None:
        return None
    target = Path(os.path.realpath(path))
    try:
        if not stat.S_ISREG(target.stat().st_mode):
            return None
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc.strerror or str(exc)
    missing: list[Path] = []
    directory = target.parent
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            try:
                directory.mkdir()
            except OSError as exc:
                return f"cannot create the directory {directory}: {exc.strerror or exc}"
            created.append(directory)
        probe = target.with_name(f".{target.name}.{secrets.token_hex(4)}.probe")
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            return f"cannot create a file in {target.parent}: {exc.strerror or exc}"
        with suppress(OSError):
            probe.unlink()
        return None
    finally:
        for directory in reversed(created):
            with suppress(OSError):
                directory.rmdir()


def file_key(path: Path) -> Hashable:
    """What names the file at ``path`` however it is spelled: an existing file's device and inode (a
    symbolic or hard link, ``./`` or ``..`` spellings, another letter case on a case-insensitive file system
    all give the same key), else the absolute path with its symbolic links resolved."""
    resolved = path.resolve()
    try:
        info = resolved.stat()
    except OSError:
        return resolved
    return (info.st_dev, info.st_ino)


def write_outputs(outputs: Sequence[Output]) -> list[str]:
    """Write each output asked for, each on its own; what could not be written, with what to fix."""
    return list(write_each(outputs).values())


def write_each(outputs: Sequence[Output]) -> dict[str, str]:
    """Write each output asked for, each on its own: option -> what to fix, for those not written."""
    failed: dict[str, str] = {}
    for option, path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, write)
        except OSError as exc:
            failed[option] = f"cannot write {option} {path}: {exc.strerror or exc}; pass a writable path"
        except Exception as exc:  # a bug of the check: the other reports are still written
            failed[option] = f"could not render {option}: {type(exc).__name__}: {clean(exc)} (a bug; please report it)"
    return failed


def write_stating_outcome(
    render: Callable[[Sequence[str]], Sequence[Output]],
    reports: Collection[str],
    after: Callable[[], list[str]] = list,
) -> list[str]:
    """Write the outputs of ``render([])`` each on its own, then do ``after`` (save the state: what failed);
    every failure, with what to fix. A failure makes the run's exit code 2, so the reports (the options in
    ``reports``) must say so: when anything failed, those already written are written again from
    ``render(failures)`` (the failures as problems), and again while a rewrite fails, until every report
    written holds every failure (each pass writes fewer: it ends)."""
    outputs = render([])
    failed = write_each(outputs)
    failures = [*failed.values(), *after()]
    pending = bool(failures)
    names = {option for option, path, _ in outputs if path is not None and option in reports} - failed.keys()
    while pending and names:
        failed = write_each([output for output in render(failures) if output[0] in names])
        names -= failed.keys()
        failures += failed.values()
        pending = bool(failed)
    return failures


__all__ = [
    "Output",
    "file_key",
    "unwritable",
    "write_atomically",
    "write_each",
    "write_outputs",
    "write_stating_outcome",
]
