"""Settings: keyword arguments first, then the environment variables the official SDK reads."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ._exceptions import ConfigurationError, InvalidParameterError
from ._paths import path_segment
from ._redact import Secret, scrub

DEFAULT_BASE_URL = "https://api.m3ter.com"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

ENV_BASE_URL = "M3TER_BASE_URL"
ENV_ORG_ID = "M3TER_ORG_ID"
ENV_API_KEY = "M3TER_API_KEY"
ENV_API_SECRET = "M3TER_API_SECRET"  # noqa: S105 - the variable name
ENV_API_TOKEN = "M3TER_API_TOKEN"  # noqa: S105 - the variable name
ENV_LOG = "M3TER_LOG"
ENV_SETTINGS = (ENV_BASE_URL, ENV_ORG_ID, ENV_API_KEY, ENV_API_SECRET, ENV_API_TOKEN)
"""Every variable a client's settings are read from (``M3TER_LOG`` sets logging only)."""


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    org_id: str
    api_key: str
    api_secret: Secret = field(repr=False)
    token: Secret | None = field(default=None, repr=False)

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None,
        org_id: str | None,
        api_key: str | None,
        api_secret: str | None,
        token: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Without a ``token`` (or ``M3TER_API_TOKEN``) the key and secret are required; with one they are
        not read, and no token request is ever sent."""
        env = os.environ if environ is None else environ
        fixed = token or env.get(ENV_API_TOKEN, "")
        values = {
            ENV_BASE_URL: base_url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            ENV_ORG_ID: org_id or env.get(ENV_ORG_ID, ""),
        }
        if fixed:
            values[ENV_API_TOKEN] = fixed
        else:
            values[ENV_API_KEY] = api_key or env.get(ENV_API_KEY, "")
            values[ENV_API_SECRET] = api_secret or env.get(ENV_API_SECRET, "")
        missing = [name for name, value in values.items() if not value]
        if missing:
            args = ", ".join(name.removeprefix("M3TER_").lower() for name in missing)
            raise ConfigurationError(f"missing {', '.join(missing)}: pass {args} or set the environment variable")
        for name, value in values.items():
            _check_text(name, value)
        if ":" in values.get(ENV_API_KEY, ""):
            raise ConfigurationError(f"api_key ({ENV_API_KEY}) must not contain ':' (HTTP Basic cannot carry it)")
        url = _base_url(values[ENV_BASE_URL])
        try:
            path_segment("org_id", values[ENV_ORG_ID])
        except InvalidParameterError as exc:
            raise ConfigurationError(f"invalid org_id ({ENV_ORG_ID}): {exc}") from None
        return cls(
            base_url=str(url).rstrip("/"),
            org_id=values[ENV_ORG_ID],
            api_key=values.get(ENV_API_KEY, ""),
            api_secret=Secret(values.get(ENV_API_SECRET, "")),
            token=Secret(fixed) if fixed else None,
        )


def _check_text(name: str, value: object) -> None:
    """Refuse a setting that cannot go into a header or URL: not a str, not valid UTF-8 text (an undecodable
    byte in an environment variable arrives as a lone surrogate) or holding control characters. The
    message names the setting and never shows its value."""
    label = f"{name.removeprefix('M3TER_').lower()} ({name})"
    if not isinstance(value, str):
        raise ConfigurationError(f"{label} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(f"{label} is not valid UTF-8 text (an undecodable byte?)") from None
    if _CONTROL.search(value):
        raise ConfigurationError(f"{label} must not contain control characters (such as NUL, CR or LF)")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _base_url(value: str) -> httpx.URL:
    """The base URL, refused unless it is http(s) with a host and without credentials, query or fragment
    (credentials would be sent to every host and shown in reprs; a query or fragment would not survive
    the paths appended to it)."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"base_url is not a valid URL: {exc}") from None
    if url.userinfo:
        raise ConfigurationError("base_url must not carry a user name or password")
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {_shown(value)!r}")
    if url.query or url.fragment or "?" in value or "#" in value:
        raise ConfigurationError(f"base_url must not carry a query or fragment, got {_shown(value)!r}")
    if url.port is not None and not 1 <= url.port <= 65535:  # httpx parses any digits; no socket takes them
        raise ConfigurationError(f"base_url has port {url.port}, outside 1-65535")
    return url


def _shown(url: str) -> str:
    """A refused base URL as an error may show it: without its query and fragment (an API key or token
    put there would otherwise be printed), scrubbed of any other known secret."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    return scrub(url if cut < 0 else url[:cut] + url[cut] + "...")


_LOG_LEVELS = {"info": logging.INFO, "debug": logging.DEBUG}
_LOGGED = ("m3ter_billing", "httpx")


def setup_logging(environ: Mapping[str, str] | None = None) -> None:
    """``M3TER_LOG=info|debug`` (as in the official SDK): log this package and httpx at that level to
    stderr, through ``logging`` and its redacting filter. Anything else (or unset) leaves logging alone."""
    env = os.environ if environ is None else environ
    level = _LOG_LEVELS.get(env.get(ENV_LOG, "").strip().lower())
    if level is None:
        return
    logging.basicConfig(format="[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s")
    for name in _LOGGED:
        logging.getLogger(name).setLevel(level)


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ENV_SETTINGS", "Settings", "setup_logging"]
