"""Pytest fixtures for the sandbox, registered as a pytest plugin (entry point ``pytest11``) wherever
m3ter-billing-contract is installed: no import or conftest.py needed. ``pytest --fixtures`` lists them.

- ``m3ter_sandbox``: a fresh :class:`Sandbox` with a :class:`ManualClock` and no rate limit.
- ``m3ter_mock``: the same sandbox answering every httpx request to https://api.m3ter.com (respx); an aiohttp
  connection there is refused (``UnmockedBackendError``).
- ``m3ter_server``: a :class:`SandboxServer` serving the same sandbox on 127.0.0.1 (a free port).

The three share one sandbox per test: a test that asks for ``m3ter_server`` and ``m3ter_sandbox`` gets the
server and the sandbox behind it.

While a test uses any of them, the environment variables the client reads its settings from
(``m3ter_billing.settings.ENV_SETTINGS``: ``M3TER_BASE_URL``, ``M3TER_ORG_ID``, ``M3TER_API_KEY``,
``M3TER_API_SECRET``, ``M3TER_API_TOKEN``) are unset (pytest's ``monkeypatch``, restored after the test):
a client built in the test never goes to a real organization's base URL or sends real credentials because
the shell exported them. ``M3TER_BASE_URL`` is then set to where the sandbox answers: ``m3ter_server``'s
URL (it wins when a test uses both), else the base URL ``m3ter_mock`` intercepts (https://api.m3ter.com), so
a client built without ``base_url=`` reaches the sandbox. A test that wants other values sets them itself
(``monkeypatch.setenv``). The scrubbing is its own fixture, which all three depend on: a ``conftest.py`` that
overrides ``m3ter_sandbox`` (another seed, a rate limit) keeps it.

Pytest loads this module at the start of every run in an environment where the harness is installed, so it
imports the sandbox only when a test asks for one of its fixtures: a run that uses none pays nothing (and
a coverage measurement started after the plugins load, as pytest-cov's, still sees the sandbox imported).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .sandbox import Sandbox, SandboxServer


class _Environment:
    """The client's settings variables during a test: unset, then ``M3TER_BASE_URL`` pointed at the sandbox."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from m3ter_billing.settings import ENV_BASE_URL, ENV_SETTINGS

        self._monkeypatch = monkeypatch
        self._base_url_name = ENV_BASE_URL
        self._served = False
        for name in ENV_SETTINGS:
            monkeypatch.delenv(name, raising=False)

    def mocked(self, base_url: str) -> None:
        if not self._served:
            self._monkeypatch.setenv(self._base_url_name, base_url)

    def served(self, url: str) -> None:
        self._served = True
        self._monkeypatch.setenv(self._base_url_name, url)


@pytest.fixture
def _m3ter_environment(monkeypatch: pytest.MonkeyPatch) -> _Environment:
    """Unsets the client's ``M3TER_*`` settings variables for the test (``M3TER_LOG`` is kept); the three
    sandbox fixtures depend on it (not autouse: a test without them keeps its environment)."""
    return _Environment(monkeypatch)


# An old-style wrapper (hookwrapper, not wrapper=True, which needs pluggy 1.1): the plugin loads in every pytest
# run of an environment where the harness is installed, whatever pytest that is.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test that used the sandbox lists the faults that never acted on a response (aimed at an
    operation or entity no request reached), as a section of its report; a passing test is left alone."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" and report.failed:
        sandbox = getattr(item, "funcargs", {}).get("m3ter_sandbox")
        unused = getattr(getattr(sandbox, "faults", None), "unused", None)
        never = unused() if callable(unused) else []
        if never:
            report.sections.append(("m3ter sandbox", "faults that never acted on a response: " + ", ".join(never)))


@pytest.fixture
def m3ter_sandbox(_m3ter_environment: _Environment) -> Sandbox:
    """A fresh, seeded ``Sandbox`` with a ``ManualClock`` and no rate limit (nothing is served):
    ``m3ter_sandbox.credentials``, ``.seeded.bills["monthly"]``, ``.seeded.jobs["pending"]``, ``.advance(s)``.

    The ``Sandbox``: ``.credentials`` (``org_id``, ``api_key``, ``api_secret`` of the primary org's
    service user), ``.seeded.bills["monthly"]`` / ``.seeded.jobs["pending"]`` (ids by name; also
    ``.bill_ids``, ``.statement_job_ids``), ``.clock`` (the ``ManualClock``: ``.now()``, ``.advance(s)``;
    ``.manual_clock`` is the same, typed as a ``ManualClock``), ``.advance(seconds)`` (move time: jobs
    progress, tokens and URLs expire; a ``sleep=`` for the client), ``.approve_bill(id)``,
    ``.faults.*`` (``server_errors``, ``rate_limited``, ``unknown_enum_values``, ...), ``.requests`` (what
    was received). Also the sandbox behind ``m3ter_mock`` and ``m3ter_server`` in the same test.

    The client's ``M3TER_*`` settings variables are unset for the test (``M3TER_LOG`` is kept), by a fixture
    of their own that ``m3ter_mock`` and ``m3ter_server`` use too (overriding this one keeps it).
    """
    from .sandbox import ManualClock, Sandbox

    return Sandbox(clock=ManualClock(), rate_limit=None)


@pytest.fixture
def m3ter_mock(m3ter_sandbox: Sandbox, _m3ter_environment: _Environment) -> Iterator[Sandbox]:
    """Yields the ``Sandbox`` of ``m3ter_sandbox``, answering every httpx request to https://api.m3ter.com
    (respx) during the test: pass ``m3ter_mock.credentials`` to the client, no ``base_url``.

    Sync and async httpx clients are both routed, the statement downloads included. The yielded object is
    the same ``Sandbox`` as ``m3ter_sandbox`` (``.credentials``, ``.seeded``, ``.advance``, ``.faults``).
    ``M3TER_BASE_URL`` is set to https://api.m3ter.com, the base URL the mock intercepts (unless the test
    uses ``m3ter_server`` too: then it is the server's URL).

    httpx requests to other hosts on this machine (``m3ter_server``, the team's own local services) go to the
    network as usual, or to the test's own respx router (``respx_mock``) when it has one; requests to any
    other host fail, naming the base URL the mock intercepts (``mock_m3ter(pass_through=True)`` lets them
    go).

    httpx only: a client on the aiohttp backend (``AsyncM3terBilling(http_backend="aiohttp")``) is refused
    with ``UnmockedBackendError`` before it connects (it would otherwise reach the real base URL); use
    ``m3ter_server`` for that backend.
    """
    from .sandbox import DEFAULT_BASE_URL, mock_m3ter

    _m3ter_environment.mocked(DEFAULT_BASE_URL)
    with mock_m3ter(m3ter_sandbox, base_url=DEFAULT_BASE_URL) as sandbox:
        yield sandbox


@pytest.fixture
def m3ter_server(m3ter_sandbox: Sandbox, _m3ter_environment: _Environment) -> Iterator[SandboxServer[Sandbox]]:
    """Yields a ``SandboxServer`` serving ``m3ter_sandbox`` on 127.0.0.1 (a free port) during the test:
    ``m3ter_server.url`` is the ``base_url``, ``m3ter_server.sandbox.credentials`` the credentials.

    For clients that are not httpx, or that run in another process. The ``SandboxServer``: ``.url``
    (``http://127.0.0.1:PORT``), ``.port``, and ``.sandbox`` (the ``Sandbox``: ``.credentials``,
    ``.seeded``, ``.advance``, ``.faults``, ...). ``M3TER_BASE_URL`` is set to ``.url`` for the test, so a
    client (or a child process) built without ``base_url=`` reaches the server, never https://api.m3ter.com.
    """
    from .sandbox import SandboxServer

    with SandboxServer(m3ter_sandbox) as server:
        _m3ter_environment.served(server.url)
        yield server
