"""Settings: keyword arguments first, then the environment variables the official SDK reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ._exceptions import ConfigurationError
from ._redact import Secret

DEFAULT_BASE_URL = "https://api.m3ter.com"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

ENV_BASE_URL = "M3TER_BASE_URL"
ENV_ORG_ID = "M3TER_ORG_ID"
ENV_API_KEY = "M3TER_API_KEY"
ENV_API_SECRET = "M3TER_API_SECRET"  # noqa: S105 - the variable name


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str
    org_id: str
    api_key: str
    api_secret: Secret = field(repr=False)

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None,
        org_id: str | None,
        api_key: str | None,
        api_secret: str | None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ
        values = {
            ENV_BASE_URL: base_url or env.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            ENV_ORG_ID: org_id or env.get(ENV_ORG_ID, ""),
            ENV_API_KEY: api_key or env.get(ENV_API_KEY, ""),
            ENV_API_SECRET: api_secret or env.get(ENV_API_SECRET, ""),
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            args = ", ".join(name.removeprefix("M3TER_").lower() for name in missing)
            raise ConfigurationError(f"missing {', '.join(missing)}: pass {args} or set the environment variable")
        url = httpx.URL(values[ENV_BASE_URL])
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigurationError(f"base_url must be an http(s) URL with a host, got {values[ENV_BASE_URL]!r}")
        return cls(
            base_url=str(url).rstrip("/"),
            org_id=values[ENV_ORG_ID],
            api_key=values[ENV_API_KEY],
            api_secret=Secret(values[ENV_API_SECRET]),
        )


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "Settings"]
