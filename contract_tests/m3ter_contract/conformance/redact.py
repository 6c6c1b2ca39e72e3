"""Secrets out, server text tamed: what every report, the terminal and the state file pass text through.

The client's :func:`m3ter_billing.redaction.scrub` knows the API secret, bearer tokens and the signature
parameters of the presigned URLs m3ter hands out today. The check also stores and prints fields the spec
does not know yet, so it redacts more broadly: the value of *any* URL query parameter whose name says it
signs or authorises (``sig``, ``signature``, ``token``, ``credential``, ``secret``, ``key``, ``policy``,
``password``, ``session``, ``auth``), and the user-info part of any URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from m3ter_billing.redaction import REDACTED, scrub

# Server text is hostile, so both redactions run in time linear in the text, whatever it holds: every repeat
# is possessive (it never gives characters back), and an attempt that fails leaves nothing a later attempt
# reads again. Tests count the steps (contract_tests/tests/conformance/test_redact_edges.py).

# A query parameter's name, taken whole from the [?&;] that starts it: a name that does not say it signs or
# authorises is skipped in one step, with any [?;] inside it (those start no secret name: theirs is the rest
# of the same name), and the search goes on where it ends (its value may hold a URL of its own).
_PARAM_NAME = re.compile(r"[?&;][^=&#\s\"'<>]*+")
_SECRET_NAME = re.compile(r"(?i)sig|token|credential|secret|password|policy|session|auth|key")
_VALUE_END = re.compile(r"[&#\s\"'<>]")
# A URL's user-info: the scheme is taken whole from the first character of its run of scheme characters (the
# lookbehind stops attempts inside a run, so no run is read twice); _userinfo() then finds where a scheme
# starts in it, as \b[a-z] would.
_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.\-])([a-z0-9+.\-]++://)[^/@\s\"'<>]++@")
_SCHEME_START = re.compile(r"(?i)\b[a-z]")
# What server text may not carry into a line of output: every control character (Cc: C0 with tab, newline and
# CR, DEL, C1), the line and paragraph separators (Zl, Zp) and the bidirectional controls (the Cf marks,
# embeddings, overrides and isolates: U+061C, U+200E-200F, U+202A-202E, U+2066-2069): each can start a line
# of its own or reorder what a terminal shows, and so forge a verdict line. Also lone surrogates and the XML
# non-characters U+FFFE/U+FFFF, which XML 1.0 cannot hold.
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def _query_secrets(text: str) -> str:
    """``text`` with the value of every query parameter whose name says it signs or authorises redacted."""
    parts: list[str] = []
    kept = pos = 0
    while (name := _PARAM_NAME.search(text, pos)) is not None:
        pos = name.end()
        if text.startswith("=", pos) and _SECRET_NAME.search(text, name.start() + 1, pos):
            end = _VALUE_END.search(text, pos + 1)
            parts += (text[kept : pos + 1], REDACTED)
            kept = pos = end.start() if end else len(text)
    parts.append(text[kept:])
    return "".join(parts)


def _userinfo(match: re.Match[str]) -> str:
    """The user-info redacted when a scheme starts in the run before ``://`` (a letter at a word boundary)."""
    if _SCHEME_START.search(match.string, match.start(), match.end(1) - 3) is None:
        return match[0]
    return match[1] + REDACTED + "@"


def clean(value: object) -> str:
    """``str(value)`` with every known secret, signed-URL parameter and URL user-info redacted (in linear time)."""
    text = scrub(value)
    if "=" in text:
        text = _query_secrets(text)
    if "@" in text:
        text = _USERINFO.sub(_userinfo, text)
    return text


# Joins the texts of a JSON value so :func:`clean` runs once over all of them: every pattern it applies stops at
# the quote, so no redaction reaches from one text into the next or touches a separator. Its NUL, in no text
# (else each text is cleaned alone), makes every place it occurs one of the separators: never an overlap of a
# separator with a text that ends or starts like one.
_SEPARATOR = '"\x00"'
_MARK = "\x00"


def _texts(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            out.append(str(key))
            _texts(item, out)
    elif isinstance(value, list):
        for item in value:
            _texts(item, out)


def _rebuilt(value: Any, cleaned: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(cleaned)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for item in value.values():
            key = next(cleaned)
            out[key] = _rebuilt(item, cleaned)
        return out
    if isinstance(value, list):
        return [_rebuilt(item, cleaned) for item in value]
    return value


def redact_json(value: Any) -> Any:
    """A JSON value with :func:`clean` applied to every string in it, member names included (a body may echo
    the bearer token or the API secret anywhere, in a value or a name). One pass of :func:`clean` over all the
    texts at once, so a body of many thousand strings costs about what its text does."""
    texts: list[str] = []
    _texts(value, texts)
    if any(_MARK in text for text in texts):
        cleaned = [clean(text) for text in texts]
    else:
        joined = _SEPARATOR.join(texts)
        redacted = clean(joined)
        if redacted == joined:
            return value
        cleaned = redacted.split(_SEPARATOR)
        if len(cleaned) != len(texts):  # pragma: no cover - no pattern of clean() spans a separator
            cleaned = [clean(text) for text in texts]
    return _rebuilt(value, iter(cleaned))


def printable(text: str) -> str:
    """``text`` with every control character (newline and tab included), line and paragraph separator and
    bidirectional control, lone surrogates and the XML non-characters spelled as ``\\xNN`` / ``\\uNNNN``: one
    line, shown in the order it is written, safe for XML 1.0, a terminal and Markdown."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """Server-chosen or user-given text as every output prints it: redacted, then printable."""
    return printable(clean(value))


__all__ = ["clean", "printable", "redact_json", "shown"]
