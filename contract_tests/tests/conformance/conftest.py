"""Fixtures for the conformance tests: snapshot files, a deterministic sandbox behind a loopback server."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer
from m3ter_contract.spec_facts import CURATED_SPEC, load

SNAPSHOTS = Path(__file__).parent / "snapshots"


def normalise(text: str, base_url: str) -> str:
    """Stable text: the server's port and every duration replaced by placeholders."""
    text = text.replace(base_url, "http://127.0.0.1:PORT")
    text = re.sub(r'("duration_seconds": )[0-9.]+', r"\g<1>0.0", text)
    text = re.sub(r'(time=")[0-9.]+(")', r"\g<1>0.0\2", text)
    return re.sub(r"· [0-9.]+ s$", "· 0.0 s", text, flags=re.M)


def spec_placeholders(text: str) -> str:
    """``text`` with every list of an enum's values, as the reports spell it (``A, B, C``, the spec's order),
    replaced by ``{spec:NAME.enum}``: a snapshot stays the same when the spec learns a value."""
    schemas = load(CURATED_SPEC)["components"]["schemas"]
    lists = {name: ", ".join(schema["enum"]) for name, schema in schemas.items() if "enum" in schema}
    for name, joined in sorted(lists.items(), key=lambda item: -len(item[1])):
        text = text.replace(joined, f"{{spec:{name}.enum}}")
    return text


@pytest.fixture
def snapshot() -> Callable[[str, str], None]:
    """``snapshot(name, text)``: compare with snapshots/NAME; ``UPDATE_SNAPSHOTS=1`` rewrites the file. What
    the spec decides (its enum values) is compared as a placeholder (``spec_placeholders``)."""

    def check(name: str, text: str) -> None:
        text = spec_placeholders(text)
        path = SNAPSHOTS / name
        if os.environ.get("UPDATE_SNAPSHOTS") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.is_file(), f"missing snapshot {path}; run with UPDATE_SNAPSHOTS=1"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_SNAPSHOTS=1 rewrites it)"

    return check


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50, api_secret="sandbox-secret-0001")


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer[Sandbox]]:
    with SandboxServer(sandbox, host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture
def environ(sandbox: Sandbox) -> dict[str, str]:
    credentials = sandbox.credentials
    return {
        "M3TER_ORG_ID": credentials.org_id,
        "M3TER_API_KEY": credentials.api_key,
        "M3TER_API_SECRET": credentials.api_secret,
    }
