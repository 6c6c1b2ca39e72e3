"""Secrets out, server text tamed: what every report, the terminal and the state file pass text through.

The client's :func:`m3ter_billing._redact.scrub` knows the API secret, bearer tokens and the signature
parameters of the presigned URLs m3ter hands out today. The check also stores and prints fields the spec
does not know yet, so it redacts more broadly: the value of *any* URL query parameter whose name says it
signs or authorises (``sig``, ``signature``, ``token``, ``credential``, ``secret``, ``key``, ``policy``,
``password``, ``session``, ``auth``), and the user-info part of any URL.
"""

from __future__ import annotations

import re
from typing import Any

from m3ter_billing._redact import REDACTED, scrub

_QUERY_SECRET = re.compile(
    r"(?i)([?&;][^=&#\s\"'<>]*(?:sig|token|credential|secret|password|policy|session|auth|key)"
    r"[^=&#\s\"'<>]*=)[^&#\s\"'<>]*"
)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s\"'<>]+@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(value: object) -> str:
    """``str(value)`` with every known secret, signed-URL parameter and URL user-info redacted."""
    text = scrub(value)
    if "=" in text:
        text = _QUERY_SECRET.sub(r"\1" + REDACTED, text)
    if "@" in text:
        text = _USERINFO.sub(r"\1" + REDACTED + "@", text)
    return text


def redact_json(value: Any) -> Any:
    """A JSON value with :func:`clean` applied to every string that looks like it holds a URL or a token."""
    if isinstance(value, str):
        return clean(value) if ("=" in value or "@" in value or "." in value) else value
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


def printable(text: str) -> str:
    """``text`` with control characters (C0 but tab and newline, DEL, C1), lone surrogates and the XML
    non-characters (and CR) spelled as ``\\xNN`` / ``\\uNNNN``: safe for XML 1.0, a terminal and Markdown."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """Server-chosen or user-given text as every output prints it: redacted, then printable."""
    return printable(clean(value))


__all__ = ["clean", "printable", "redact_json", "shown"]
