"""The public surface of m3ter_billing, and what importing it pulls in."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import m3ter_billing

from .support import API_KEY, API_SECRET, BASE_URL, ORG_ID

ROOT = Path(__file__).resolve().parents[3]

PUBLIC = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncM3ter",
    "AsyncResponse",
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
    "FixedTokenAuth",
    "CurrencyConversion",
    "InternalServerError",
    "InvalidParameterError",
    "LineItemType",
    "LowLevelClient",
    "M3ter",
    "M3terBilling",
    "M3terError",
    "M3terModel",
    "M3terRetry",
    "NotFoundError",
    "OpenIntEnum",
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
    "TokenPermissionDeniedError",
    "UNSET",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "Unset",
    "__version__",
    "check_statement_url",
]


def test_public_surface_is_pinned() -> None:
    assert sorted(m3ter_billing.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(m3ter_billing, name), name


def test_the_official_sdk_error_layers_are_there() -> None:
    assert m3ter_billing.ResponseValidationError is m3ter_billing.APIResponseValidationError
    for name in ("APIConnectionError", "APIStatusError", "APIResponseValidationError"):
        assert issubclass(getattr(m3ter_billing, name), m3ter_billing.APIError)
    assert issubclass(m3ter_billing.APIError, m3ter_billing.M3terError)
    assert issubclass(m3ter_billing.NotFoundError, m3ter_billing.APIStatusError)


def test_star_import_gives_exactly_the_public_surface() -> None:
    namespace: dict[str, object] = {}
    exec("from m3ter_billing import *", namespace)  # noqa: S102
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_package_is_typed() -> None:
    assert (Path(m3ter_billing.__file__).parent / "py.typed").is_file()


def _requirement_names(requirements: list[str]) -> list[str]:
    return sorted(dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for dep in requirements)


def test_generated_package_depends_on_exactly_httpx_its_httpcore_httpx_retries_and_msgspec() -> None:
    project = tomllib.loads((ROOT / "generated" / "pyproject.toml").read_text())["project"]
    assert _requirement_names(project["dependencies"]) == ["httpcore", "httpx", "httpx-retries", "msgspec"]
    # One extra, for AsyncM3terBilling(http_backend="aiohttp"): aiohttp and nothing else.
    extras = project.get("optional-dependencies", {})
    assert sorted(extras) == ["aiohttp"]
    assert [dep.split(">")[0].split("=")[0].strip() for dep in extras["aiohttp"]] == ["aiohttp"]


def test_every_distribution_the_package_imports_is_declared() -> None:
    # Each third-party top-level module imported anywhere in the package (at any depth, in any function) is
    # a declared dependency, or the aiohttp extra's (aiohttp and its yarl).
    project = tomllib.loads((ROOT / "generated" / "pyproject.toml").read_text())["project"]
    declared = {name.replace("-", "_") for name in _requirement_names(project["dependencies"])}
    extra = {"aiohttp", "yarl"}
    imported: set[str] = set()
    for path in (ROOT / "generated" / "m3ter_billing").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party - extra == declared


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


def test_public_classes_report_the_package_as_their_module() -> None:
    classes = [getattr(m3ter_billing, name) for name in PUBLIC if isinstance(getattr(m3ter_billing, name), type)]
    assert len(classes) > 30
    # Defined in a private module: reported as the package's. Defined in a public one (models, client, types):
    # kept. M3terModel keeps its own (msgspec resolves its annotations there); Unset is msgspec's type.
    for cls in classes:
        if cls is m3ter_billing.M3terModel:
            assert cls.__module__ == "m3ter_billing._model"
        elif cls is not m3ter_billing.Unset:
            assert cls.__module__.startswith("m3ter_billing"), cls
            assert "._" not in cls.__module__, cls
    assert m3ter_billing.NotFoundError.__module__ == "m3ter_billing"
    assert m3ter_billing.M3terBilling.__module__ == "m3ter_billing"


def test_errors_exports_exception_classes_only() -> None:
    import m3ter_billing.errors

    for name in m3ter_billing.errors.__all__:
        value = getattr(m3ter_billing.errors, name)
        assert isinstance(value, type), name
        assert issubclass(value, Exception), name
    assert "M3terError" in m3ter_billing.errors.__all__


def test_the_official_client_names_are_the_main_clients() -> None:
    # In the official SDK ``m3ter.Client is m3ter.M3ter`` and ``m3ter.AsyncClient is m3ter.AsyncM3ter``.
    assert m3ter_billing.Client is m3ter_billing.M3ter is m3ter_billing.M3terBilling
    assert m3ter_billing.AsyncClient is m3ter_billing.AsyncM3ter is m3ter_billing.AsyncM3terBilling
    # The test credentials: a secret is scrubbed from every later message, so never a common word.
    with m3ter_billing.Client(api_key=API_KEY, api_secret=API_SECRET, org_id=ORG_ID, base_url=BASE_URL) as c:
        assert isinstance(c, m3ter_billing.M3terBilling)
        assert c.org_id == ORG_ID
    assert repr(m3ter_billing.Client) == "<class 'm3ter_billing.M3terBilling'>"


def test_the_low_level_client_has_a_name_of_its_own() -> None:
    import pytest
    from m3ter_billing.client import Client

    assert Client is m3ter_billing.LowLevelClient  # the name the generated endpoint modules import
    assert not issubclass(m3ter_billing.LowLevelClient, m3ter_billing.Client)
    with pytest.raises(AttributeError):
        m3ter_billing.NoSuchName  # type: ignore[attr-defined]  # noqa: B018


def test_the_public_building_blocks_for_tools() -> None:
    from m3ter_billing import paths, redaction, settings

    assert paths.TOKEN_PATH == "/oauth/token"
    assert paths.path_segment("id", "a/b") == "a%2Fb"
    assert redaction.scrub("x") == "x"
    assert settings.ENV_ORG_ID == "M3TER_ORG_ID"
    assert settings.ENV_SETTINGS == (
        "M3TER_BASE_URL",
        "M3TER_ORG_ID",
        "M3TER_API_KEY",
        "M3TER_API_SECRET",
        "M3TER_API_TOKEN",
    )


def test_errors_expose_their_request_and_response() -> None:
    # What tools on the client (the conformance check) read instead of reaching into the client.
    status = m3ter_billing.NotFoundError("gone", status_code=404, method="GET", url="https://h/x?Signature=s3cr3t")
    invalid = m3ter_billing.APIResponseValidationError("bad", method="POST", url="https://h/oauth/token")
    assert (status.method, status.url, status.headers) == ("GET", "https://h/x?Signature=[REDACTED]", {})
    assert (status.response.status_code, status.response.content) == (404, b"")  # a stand-in, built by hand
    assert (invalid.method, invalid.url, invalid.headers, invalid.response) == (
        "POST",
        "https://h/oauth/token",
        {},
        None,
    )
    assert "s3cr3t" not in f"{status!s} {status!r}"


def test_the_model_base_keeps_its_module_because_msgspec_resolves_annotations_there() -> None:
    # Why M3terModel reports m3ter_billing._model (ARCHITECTURE.md, "The generated package"): msgspec builds a
    # model's decoder from the annotations of every class in its MRO, evaluated in the module each class
    # names. Renamed to the package, the base's annotations (ClassVar[...]) no longer resolve and decoding
    # fails. When this test fails, msgspec resolves them another way: report the package there too.
    code = (
        "import m3ter_billing as m;"
        "m.M3terModel.__module__ = 'm3ter_billing';"
        'm.BillResponse.from_json(b\'{"id": "b", "version": 1}\')'
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "generated")
    assert result.returncode != 0
    assert "NameError" in result.stderr
    # As shipped, the same decode works.
    assert m3ter_billing.BillResponse.from_json(b'{"id": "b", "version": 1}').id == "b"
