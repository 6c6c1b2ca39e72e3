"""Path parameters: one id, one path segment, whatever the caller passes."""

from __future__ import annotations

import re
from urllib.parse import quote

from ._exceptions import InvalidParameterError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # control characters, CR and LF among them
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")  # what quote() leaves as it is (ids are usually only this)


def path_segment(name: str, value: object) -> str:
    """Percent-encode ``value`` as exactly one URL path segment, or raise :class:`InvalidParameterError`.

    Every reserved character is encoded, so ``a/b``, ``?x``, ``#`` and ``%2F`` stay inside the segment.
    Values that cannot be one segment (empty, ``.``, ``..``, holding control characters such as CR/LF, or
    lone surrogates that have no UTF-8 form)
    are refused before anything is sent.
    """
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string, not {type(value).__name__}")
    if value in ("", ".", ".."):
        raise InvalidParameterError(f"{name} must be a non-empty id, got {value!r}")
    if type(value) is str and _UNRESERVED.fullmatch(value) is not None:
        return value  # nothing to encode, nothing to refuse
    if _CONTROL.search(value) is not None:
        raise InvalidParameterError(f"{name} must not contain control characters (such as CR or LF)")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from an undecodable byte in an environment variable
        raise InvalidParameterError(f"{name} is not valid Unicode text (it holds a lone surrogate)") from None
    return quote(encoded, safe="")


__all__ = ["path_segment"]
