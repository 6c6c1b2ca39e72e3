"""The organizations file (``m3ter-conformance --config PATH``, e.g. ``.ci/m3ter-orgs.toml``).

One ``[orgs.NAME]`` table per organization::

    [orgs.eu-sandbox]
    base_url = "https://api.m3ter.com"        # default
    ids_file = "m3ter-ids-eu-sandbox.json"    # required: relative to this file's folder
    rate = 20                                 # requests/s for this organization (default: --rate, 20)
    baseline = "m3ter-baseline-eu.json"       # accepted findings (a --write-baseline file)
    org_id_env = "EU_M3TER_ORG_ID"            # the variables holding its credentials
    api_key_env = "EU_M3TER_API_KEY"          # (default M3TER_ORG_ID, M3TER_API_KEY,
    api_secret_env = "EU_M3TER_API_SECRET"    #  M3TER_API_SECRET)

    [orgs.demo]
    embedded = true                           # the embedded sandbox, on 127.0.0.1
    seed = 7

This module is the only reader of the file: ``m3ter-conformance --config`` runs it, and
``.github/workflows/conformance.yml`` builds its job matrix from ``--list-orgs --json``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rules import EXTERNAL_INVOICE_DATE_SETTINGS

DEFAULT_BASE_URL = "https://api.m3ter.com"
CREDENTIAL_KEYS = {"org_id_env": "M3TER_ORG_ID", "api_key_env": "M3TER_API_KEY", "api_secret_env": "M3TER_API_SECRET"}
"""The keys naming an organization's credential variables, and their defaults."""
MAX_RATE = 10_000.0
# The slowest rate a run takes: one request every 10 s. Slower, the second request of one call (the read
# after its token request, a retry) would wait longer for its turn than a call's total timeout allows.
SLOWEST_RATE = 0.1
NAME = re.compile(r"[A-Za-z0-9_-]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENVIRONMENT = re.compile(r"[A-Za-z0-9_.-]+")
LIVE_ONLY = ("base_url", "ids_file", *CREDENTIAL_KEYS)
"""Keys an embedded organization does not take (it has its own URL, entities and credentials)."""


class ConfigError(Exception):
    """The organizations file cannot be used; the message names the file, the table and what to fix."""


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """One ``[orgs.NAME]`` table, validated. Paths are resolved against the file's folder."""

    name: str
    base_url: str = DEFAULT_BASE_URL
    ids_file: Path | None = None
    rate: float | None = None
    """Requests per second for this organization; None: the command's ``--rate``."""
    baseline: Path | None = None
    environment: str = ""
    org_id_env: str = CREDENTIAL_KEYS["org_id_env"]
    api_key_env: str = CREDENTIAL_KEYS["api_key_env"]
    api_secret_env: str = CREDENTIAL_KEYS["api_secret_env"]
    external_invoice_date: str | None = None
    embedded: bool = False
    seed: int = 0
    written: Mapping[str, Any] | None = None
    """The table as written (for ``--list-orgs``)."""

    def credential_names(self) -> tuple[str, str, str]:
        return (self.org_id_env, self.api_key_env, self.api_secret_env)

    def matrix_entry(self) -> dict[str, Any]:
        """What the workflow's matrix needs: strings as written, defaults filled in."""
        written = self.written or {}
        return {
            "name": self.name,
            "environment": self.environment,
            "embedded": self.embedded,
            "base_url": "" if self.embedded else self.base_url,
            "ids_file": written.get("ids_file", ""),
            "rate": self.rate,
            "baseline": written.get("baseline", ""),
            "org_id_env": self.org_id_env,
            "api_key_env": self.api_key_env,
            "api_secret_env": self.api_secret_env,
        }


def _string(pattern: re.Pattern[str] | None, what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            return f"must be a non-empty string ({what})"
        if pattern is not None and not pattern.fullmatch(value):
            return f"must be {what}, got {value!r}"
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            return f"holds a control character ({what})"
        return None

    return check


def _url(value: Any) -> str | None:
    problem = _string(None, "an http(s) URL")(value)
    if problem is None and not str(value).startswith(("http://", "https://")):
        return "must be an http(s) URL such as https://api.m3ter.com"
    return problem


def _rate(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number of requests per second (at least {SLOWEST_RATE:g}, at most {MAX_RATE:g})"
    if not math.isfinite(value) or not SLOWEST_RATE <= value <= MAX_RATE:
        return f"must be a finite number at least {SLOWEST_RATE:g} and at most {MAX_RATE:g}, got {value}"
    return None


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _seed(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        return "must be a whole number from 0 to 2**63 - 1"
    return None


def _choice(value: Any) -> str | None:
    if value not in EXTERNAL_INVOICE_DATE_SETTINGS:
        return f"must be one of {', '.join(EXTERNAL_INVOICE_DATE_SETTINGS)}"
    return None


_env_name = _string(ENV_NAME, "an environment variable name: letters, digits and _")
KEYS: dict[str, Callable[[Any], str | None]] = {
    "base_url": _url,
    "ids_file": _string(None, "a path"),
    "rate": _rate,
    "baseline": _string(None, "a path"),
    "environment": _string(ENVIRONMENT, "a GitHub environment name: letters, digits, ., - and _"),
    **dict.fromkeys(CREDENTIAL_KEYS, _env_name),
    "external_invoice_date": _choice,
    "embedded": _boolean,
    "seed": _seed,
}


def _table(name: str, table: Any, folder: Path) -> tuple[OrgConfig | None, list[str]]:
    where = f"[orgs.{name}]"
    if not NAME.fullmatch(name):
        return None, [f"{where}: use letters, digits, - and _ in organization names"]
    if not isinstance(table, dict):
        return None, [f"{where}: must be a table (`[orgs.{name}]` followed by its keys)"]
    problems = [f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})" for key in table if key not in KEYS]
    problems += [
        f"{where}: {key} {problem}"
        for key, value in table.items()
        if key in KEYS and (problem := KEYS[key](value)) is not None
    ]
    if problems:
        return None, problems
    embedded = bool(table.get("embedded", False))
    if embedded:
        problems += [
            f"{where}: {key} does not apply to an embedded organization (the sandbox on 127.0.0.1 has its own "
            "URL, entities and credentials)"
            for key in LIVE_ONLY
            if key in table
        ]
    else:
        if "seed" in table:
            problems.append(f"{where}: seed applies only with embedded = true")
        if "ids_file" not in table:
            problems.append(f"{where}: ids_file is required (the bills and statement jobs to read)")
    if problems:
        return None, problems
    return (
        OrgConfig(
            name=name,
            base_url=table.get("base_url", DEFAULT_BASE_URL).rstrip("/"),
            ids_file=folder / table["ids_file"] if "ids_file" in table else None,
            rate=float(table["rate"]) if "rate" in table else None,
            baseline=folder / table["baseline"] if "baseline" in table else None,
            environment=table.get("environment", f"m3ter-{name}"),
            **{key: table.get(key, default) for key, default in CREDENTIAL_KEYS.items()},
            external_invoice_date=table.get("external_invoice_date"),
            embedded=embedded,
            seed=table.get("seed", 0),
            written=dict(table),
        ),
        [],
    )


def parse(text: str, *, source: str = "<config>", folder: Path | None = None) -> list[OrgConfig]:
    """The organizations of a config document, in the order written; :class:`ConfigError` lists every mistake."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    problems = [
        f"{source}: unknown top-level key {key!r}: list organizations as [orgs.NAME] tables"
        for key in document
        if key != "orgs"
    ]
    tables = document.get("orgs", {})
    if not isinstance(tables, dict):
        problems.append(f"{source}: `orgs` must hold tables: [orgs.NAME]")
        tables = {}
    orgs: list[OrgConfig] = []
    for name, table in tables.items():
        org, mistakes = _table(name, table, folder or Path("."))
        problems += [f"{source}: {mistake}" for mistake in mistakes]
        if org is not None:
            orgs.append(org)
    if problems:
        raise ConfigError("\n".join(problems))
    return orgs


def load(path: Path) -> list[OrgConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read --config {path}: {exc.strerror or exc}; pass an existing file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path} is not UTF-8 text") from None
    return parse(text, source=str(path), folder=path.parent)


def select(orgs: Sequence[OrgConfig], names: Sequence[str], *, source: str) -> list[OrgConfig]:
    """The organizations named (all of them when ``names`` is empty), in the file's order."""
    if not names:
        return list(orgs)
    known = [org.name for org in orgs]
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(known) if known else "none"
        raise ConfigError(
            f"no [orgs.{unknown[0]}] in {source}: --org takes one of the organizations it lists ({listed})"
        )
    return [org for org in orgs if org.name in names]


def matrix(orgs: Sequence[OrgConfig]) -> list[dict[str, Any]]:
    """``--list-orgs --json``: one entry per organization (the workflow's job matrix)."""
    return [org.matrix_entry() for org in orgs]


__all__ = [
    "CREDENTIAL_KEYS",
    "DEFAULT_BASE_URL",
    "ConfigError",
    "OrgConfig",
    "load",
    "matrix",
    "parse",
    "select",
]
