"""The sandbox's public names: what a team's tests import from ``m3ter_contract.sandbox``. A name added or
removed here is a change of the harness's API (CHANGELOG.md)."""

from __future__ import annotations

import m3ter_contract.sandbox as sandbox

PUBLIC = {
    "BILLING_FREQUENCIES",
    "BILL_STATUSES",
    "DEFAULT_BASE_URL",
    "DEFAULT_START",
    "JOB_STATUSES",
    "LINE_ITEM_TYPES",
    "STATEMENT_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "Clock",
    "Credentials",
    "FaultPresets",
    "Handler",
    "ManualClock",
    "Mutator",
    "Operation",
    "Request",
    "RequestRecord",
    "Response",
    "Sandbox",
    "SandboxASGI",
    "SandboxError",
    "SandboxServer",
    "Seeded",
    "SystemClock",
    "UnmockedBackendError",
    "mock_m3ter",
    "parse_additional",
    "respx_router",
}


def test_the_public_names_are_pinned() -> None:
    assert set(sandbox.__all__) == PUBLIC
    assert len(sandbox.__all__) == len(PUBLIC)  # no name twice


def test_every_public_name_is_there() -> None:
    namespace: dict[str, object] = {}
    exec("from m3ter_contract.sandbox import *", namespace)  # noqa: S102 - what a star import gives a team
    assert namespace.keys() >= PUBLIC
    assert all(namespace[name] is getattr(sandbox, name) for name in PUBLIC)
