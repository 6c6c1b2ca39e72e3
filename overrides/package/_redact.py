"""Redaction of secrets: API secrets, bearer tokens and the signature part of presigned URLs.

One place decides what a secret looks like; reprs, exception messages and log records all go through it.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import deque
from typing import Any

REDACTED = "[REDACTED]"

# Every pattern here runs in time linear in its input, whatever the input (a scrubbed text can come from a
# hostile server): each repeat is possessive (``*+``, ``++``, ``{n,}+``: it never gives characters back),
# and a failed attempt reads a bounded stretch past where a later attempt could start. Tests count the steps.

# Query parameters that sign or authorise a presigned URL (AWS SigV4 and SigV2, GCS, Azure SAS).
_SIGNED_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|x-goog-signature"
    r"|x-goog-credential|awsaccesskeyid)=)[^&#\s\"'<>]*+"
)
_BEARER = re.compile(r"(?i)(bearer\s++)[A-Za-z0-9\-._~+/]{8,}+=*+")
_BASIC = re.compile(r"(?i)(basic\s++)[A-Za-z0-9+/]{8,}+=*+")
# A run of base64url segments joined by dots, taken whole from its first character (the lookbehind stops
# attempts inside a run, so no character is read twice); _jwts() then finds the JWTs in it.
_DOTTED_RUN = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]++(?:\.[A-Za-z0-9_\-]++)++")
_TOKEN_FIELD = re.compile(r"(?i)(\"?+access_token\"?+\s*+[:=]\s*+\"?+)[^\"',}\s]++")
# The user name and password of a URL (``https://user:password@host``, RFC 3986's userinfo), up to its last
# ``@`` before the host, whatever the scheme (or text) before ``://``. The userinfo stops at the first ``/``,
# ``?``, ``#`` or whitespace: quotes, ``<`` and ``>`` may be in a password (httpx sends a ``'`` as it is), and
# no ``://`` can start inside it, so each character is read by a bounded number of attempts.
_URL_USERINFO = re.compile(r"(://)(?:[^\s/?#@]*+@)++")


def _jwts(match: re.Match[str]) -> str:
    """Redact the JWTs in a dotted run: ``eyJ`` at the start of a segment or after a ``-``, then at least 4
    more characters of that segment, and two more segments of at least 2 and 4 characters (a JWT header,
    payload and signature). One pass over the segments."""
    segments = match[0].split(".")
    out: list[str] = []
    i = 0
    while i < len(segments):
        segment = segments[i]
        start = segment.find("eyJ")
        while start > 0 and segment[start - 1] != "-":
            start = segment.find("eyJ", start + 1)
        if (
            start >= 0
            and len(segment) - start >= 7
            and i + 2 < len(segments)
            and len(segments[i + 1]) >= 2
            and len(segments[i + 2]) >= 4
        ):
            out.append(segment[:start] + REDACTED)
            i += 3
        else:
            out.append(segment)
            i += 1
    return ".".join(out)


def redact_text(text: str) -> str:
    """Return ``text`` with every token, credential, URL signature and URL user name and password replaced by
    ``[REDACTED]``.

    Linear time in ``len(text)`` for any input (see the patterns above)."""
    if not text:
        return text
    text = _SIGNED_QUERY.sub(r"\1" + REDACTED, text)
    if "@" in text:
        text = _URL_USERINFO.sub(r"\1" + REDACTED + "@", text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _BASIC.sub(r"\1" + REDACTED, text)
    if "eyJ" in text:
        text = _DOTTED_RUN.sub(_jwts, text)
    return _TOKEN_FIELD.sub(r"\1" + REDACTED, text)


# How many issued tokens are remembered: a long-running process is issued one per token lifetime, and
# tokens that old are expired (they are also bearer- and JWT-shaped, which redact_text catches anyway).
ISSUED_KEPT = 16


# A secret shorter than this is not redacted inside a UUID: four characters of a short secret also occur
# in ids, and replacing them there garbles the text (`[REDACTED]a9b8-...` for a bill id in a report) without
# hiding anything. Everywhere else (next to letters, after an escape such as `\n` or `%3D`) it is redacted.
DISTINCT_LENGTH = 12
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _outside_ids(text: str, value: str) -> str:
    """``text`` with each occurrence of ``value`` that is not inside a UUID redacted (in linear time: the
    UUIDs are found once, and each occurrence is placed among them by bisection)."""
    starts: list[int] = []
    ends: list[int] = []
    for match in _UUID.finditer(text):
        starts.append(match.start())
        ends.append(match.end())
    parts: list[str] = []
    kept = pos = 0
    while (found := text.find(value, pos)) != -1:
        end = found + len(value)
        index = bisect.bisect_right(starts, found) - 1
        if index >= 0 and end <= ends[index]:
            pos = found + 1  # inside an id
            continue
        parts += (text[kept:found], REDACTED)
        kept = pos = end
    parts.append(text[kept:])
    return "".join(parts)


class _Secrets:
    """Exact secret values registered at run time: permanent ones (an API secret, a Basic header), kept
    for the life of the process, and the last ``ISSUED_KEPT`` issued bearer tokens."""

    def __init__(self) -> None:
        self._permanent: set[str] = set()
        self._issued: deque[str] = deque(maxlen=ISSUED_KEPT)

    def add(self, value: str, *, issued: bool = False) -> None:
        if len(value) < 4:
            return
        if not issued:
            self._permanent.add(value)
        elif value not in self._issued:
            self._issued.append(value)

    def scrub(self, text: str) -> str:
        # tuple() copies each collection in one step, so another thread adding a secret cannot break this.
        for value in (*tuple(self._permanent), *tuple(self._issued)):
            if value in text:
                text = text.replace(value, REDACTED) if len(value) >= DISTINCT_LENGTH else _outside_ids(text, value)
        return redact_text(text)


known_secrets = _Secrets()


def scrub(value: object) -> str:
    """``str(value)`` with every known secret and secret-shaped substring redacted."""
    return known_secrets.scrub(str(value))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()  # also formats a msg that is not a str (an exception, a request)
        except Exception:  # arguments that do not fit the format: keep both, scrubbed like the rest
            message = f"{_text(record.msg)} (log arguments: {_text(record.args)})"
        record.msg = known_secrets.scrub(message)
        record.args = None
        return True


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return "<unprintable>"


_FILTER = RedactingFilter()
# Loggers whose records can carry a presigned URL or a header: httpx logs every request's URL at INFO and
# httpx-retries logs request reprs at DEBUG. A logger's filters see only the records logged on that very
# logger, so every logger that can emit one is named here.
_LOGGERS = (
    "m3ter_billing",
    "m3ter_billing.auth",
    "m3ter_billing.retry",
    "m3ter_billing.statements",
    "httpx",
    "httpx_retries.transport",
    "httpx_retries.retry",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


_log_redaction = True


def set_log_redaction(enabled: bool) -> None:
    """Switch the redacting log filter on (the default) or off, process-wide. Off removes it from every
    logger it was attached to (httpx, httpcore, httpx-retries and this package's) and clients created later
    no longer attach it: for an application that filters those loggers itself. Reprs and exception messages
    are redacted either way."""
    global _log_redaction
    _log_redaction = enabled
    if enabled:
        install_log_redaction()
        return
    for name in _LOGGERS:
        logging.getLogger(name).removeFilter(_FILTER)


def install_log_redaction() -> None:
    """Attach the redacting filter to this package's logger and to the loggers of the libraries it uses
    (nothing while ``set_log_redaction(False)`` is in force)."""
    if not _log_redaction:
        return
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class Secret:
    """A string that never shows itself in ``repr`` or ``str``; ``reveal()`` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, issued: bool = False) -> None:
        """``issued`` marks a short-lived value (a bearer token): the scrubber keeps only the latest few."""
        self._value = value
        known_secrets.add(value, issued=issued)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('[REDACTED]')"

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


__all__ = [
    "REDACTED",
    "RedactingFilter",
    "Secret",
    "install_log_redaction",
    "redact_text",
    "scrub",
    "set_log_redaction",
]
