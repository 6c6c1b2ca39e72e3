"""The public surface of m3ter_billing, and what importing it pulls in."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import m3ter_billing

ROOT = Path(__file__).resolve().parents[3]

PUBLIC = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncM3terBilling",
    "AuthenticationError",
    "BadRequestError",
    "BillLineItem",
    "BillLineItemPricingBandUsage",
    "BillResponse",
    "BillStatus",
    "BillingFrequency",
    "Client",
    "ClientCredentialsAuth",
    "ConfigurationError",
    "ConflictError",
    "EventLoopMismatchError",
    "CurrencyConversion",
    "InternalServerError",
    "InvalidParameterError",
    "LineItemType",
    "M3terBilling",
    "M3terError",
    "M3terModel",
    "M3terRetry",
    "NotFoundError",
    "OpenStrEnum",
    "PermissionDeniedError",
    "RateLimitError",
    "Response",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "Statement",
    "StatementDownloadError",
    "StatementError",
    "StatementJobFilters",
    "StatementJobResponse",
    "StatementJobStatus",
    "StatementJobTimeoutError",
    "StatementNotReadyError",
    "StatementStatus",
    "StatementURLRefusedError",
    "UNSET",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "Unset",
    "__version__",
]


def test_public_surface_is_pinned() -> None:
    assert sorted(m3ter_billing.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(m3ter_billing, name), name


def test_star_import_gives_exactly_the_public_surface() -> None:
    namespace: dict[str, object] = {}
    exec("from m3ter_billing import *", namespace)  # noqa: S102
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_package_is_typed() -> None:
    assert (Path(m3ter_billing.__file__).parent / "py.typed").is_file()


def test_generated_package_depends_on_exactly_httpx_httpx_retries_and_msgspec() -> None:
    project = tomllib.loads((ROOT / "generated" / "pyproject.toml").read_text())["project"]
    names = sorted(
        dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]
    )
    assert names == ["httpx", "httpx-retries", "msgspec"]
    # One extra, for AsyncM3terBilling(http_backend="aiohttp"): aiohttp and nothing else.
    extras = project.get("optional-dependencies", {})
    assert sorted(extras) == ["aiohttp"]
    assert [dep.split(">")[0].split("=")[0].strip() for dep in extras["aiohttp"]] == ["aiohttp"]


def test_importing_the_package_pulls_in_nothing_from_the_harness() -> None:
    forbidden = ["m3ter_contract", "respx", "schemathesis", "hypothesis", "yaml", "pytest", "m3ter", "orjson", "attrs"]
    code = (
        "import sys, m3ter_billing, m3ter_billing.api.bill.get_bill, m3ter_billing.api.statement_job.get_statement_job;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r});"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "generated"
    )
    assert result.stdout.strip() == ""
