"""Headers and query values a caller adds to its requests (``extra_headers``, ``extra_query``,
``additional``, ``default_headers``, ``default_query``), checked before anything is sent.

What httpx would refuse only while sending (a non-ASCII header value, a lone surrogate in a query value),
or what aiohttp would send as it is (a header name with a space or a colon, a value with CR/LF), is refused
here with :class:`InvalidParameterError`, the same on every backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._exceptions import InvalidParameterError

# RFC 9110: a field name is a token; a field value is visible ASCII with spaces and tabs inside it, none
# at either end (h11 refuses those while sending, aiohttp sends them), and no CR, LF or NUL.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?")


def check_headers(name: str, headers: Mapping[str, str] | None) -> None:
    """Refuse ``headers`` (the argument ``name``) unless every field name is a token and every value is
    printable ASCII (spaces and tabs allowed inside it, not at either end)."""
    for key, value in (headers or {}).items():
        if not isinstance(key, str) or _FIELD_NAME.fullmatch(key) is None:
            raise InvalidParameterError(f"{name}: {key!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
        if not isinstance(value, str) or _FIELD_VALUE.fullmatch(value) is None:
            raise InvalidParameterError(
                f"{name}: the value of {key!r} must be a string of printable ASCII (no CR, LF or other control "
                "characters, no non-ASCII text, no space or tab at either end)"
            )


def check_text(name: str, value: str) -> None:
    """Refuse a query value that has no UTF-8 form (a lone surrogate, e.g. from an undecodable byte)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameterError(f"{name} is not valid Unicode text (it holds a lone surrogate)") from None


def check_query(name: str, query: Mapping[str, object] | None) -> None:
    """Refuse ``query`` (the argument ``name``) when a key or a text value has no UTF-8 form."""
    for key, value in (query or {}).items():
        if isinstance(key, str):
            check_text(f"{name} key", key)
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, str):
                check_text(f"{name}[{key!r}]", item)


__all__ = ["check_headers", "check_query", "check_text"]
