"""The pytest plugin's fixtures (registered by the harness's ``pytest11`` entry point: no import here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from m3ter_billing import M3terBilling
from m3ter_contract.sandbox import DEFAULT_BASE_URL, Sandbox, SandboxServer


def test_the_three_fixtures_share_one_sandbox(
    m3ter_sandbox: Sandbox, m3ter_mock: Sandbox, m3ter_server: SandboxServer[Sandbox]
) -> None:
    assert m3ter_mock is m3ter_sandbox
    assert m3ter_server.sandbox is m3ter_sandbox
    assert m3ter_server.url.startswith("http://127.0.0.1:")


def test_the_mock_answers_the_default_base_url(m3ter_mock: Sandbox) -> None:
    credentials = m3ter_mock.credentials
    client = M3terBilling(org_id=credentials.org_id, api_key=credentials.api_key, api_secret=credentials.api_secret)
    bill_id = m3ter_mock.seeded.bills["monthly"]
    assert client.bills.retrieve(bill_id).id == bill_id
    assert m3ter_mock.requests[-1].path.endswith(f"/bills/{bill_id}")


def test_the_server_serves_the_sandbox_on_loopback(m3ter_server: SandboxServer[Sandbox]) -> None:
    credentials = m3ter_server.sandbox.credentials
    with M3terBilling(
        base_url=m3ter_server.url,
        org_id=credentials.org_id,
        api_key=credentials.api_key,
        api_secret=credentials.api_secret,
    ) as client:
        job_id = m3ter_server.sandbox.seeded.jobs["pending"]
        assert client.statement_jobs.retrieve(job_id).id == job_id
    assert m3ter_server.sandbox.requests[-1].path.endswith(f"/statementjobs/{job_id}")


def test_loading_the_plugin_imports_no_sandbox() -> None:
    # Pytest loads the plugin in every run where the harness is installed; only a fixture imports the sandbox.
    script = (
        "import sys, m3ter_contract.pytest_plugin\n"
        "heavy = ('m3ter_contract.sandbox', 'm3ter_billing', 'respx')\n"
        "loaded = sorted(n for n in sys.modules if n.startswith(heavy))\n"
        "print(loaded)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


EXPORTED_ORGANIZATION = {
    "M3TER_BASE_URL": "http://127.0.0.1:9",  # the README's "check a real org" step exports these
    "M3TER_ORG_ID": "real-org",
    "M3TER_API_KEY": "real-key",
    "M3TER_API_SECRET": "real-secret",
    "M3TER_API_TOKEN": "real-token",
}
TESTS_WITH_AN_EXPORTED_ORGANIZATION = """
import os
import httpx
from m3ter_billing import M3terBilling

SECRETS = sorted(name for name in {names!r} if name != "M3TER_BASE_URL")

def test_mock(m3ter_mock):
    assert not any(name in os.environ for name in SECRETS)
    assert os.environ["M3TER_BASE_URL"] == "https://api.m3ter.com"  # what the mock intercepts
    creds = m3ter_mock.credentials
    with M3terBilling(org_id=creds.org_id, api_key=creds.api_key, api_secret=creds.api_secret) as client:
        bill_id = m3ter_mock.seeded.bills["monthly"]
        assert client.bills.retrieve(bill_id).id == bill_id

def test_server(m3ter_server):
    assert not any(name in os.environ for name in SECRETS)
    assert os.environ["M3TER_BASE_URL"] == m3ter_server.url
    creds = m3ter_server.sandbox.credentials
    with M3terBilling(org_id=creds.org_id, api_key=creds.api_key, api_secret=creds.api_secret) as client:
        job_id = m3ter_server.sandbox.seeded.jobs["pending"]  # no base_url: the server, from M3TER_BASE_URL
        assert client.statement_jobs.retrieve(job_id).id == job_id

def test_after_them():
    assert os.environ["M3TER_BASE_URL"] == "http://127.0.0.1:9"  # restored
"""
TEST_OF_THE_SANDBOX_ALONE = """
def test_sandbox(m3ter_sandbox):
    assert not any(name in os.environ for name in {names!r})
"""
OVERRIDING_CONFTEST = """
import pytest
from m3ter_contract.sandbox import ManualClock, Sandbox

@pytest.fixture
def m3ter_sandbox():
    return Sandbox(seed=7, clock=ManualClock(), rate_limit=5)
"""


def run_tests(tmp_path: Path, tests: str, conftest: str | None = None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "test_exported.py"
    script.write_text(tests.format(names=sorted(EXPORTED_ORGANIZATION)), encoding="utf-8")
    if conftest is not None:
        (tmp_path / "conftest.py").write_text(conftest, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("M3TER_")}, **EXPORTED_ORGANIZATION}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"]
    return subprocess.run(
        [*command, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_an_exported_organization_never_reaches_a_fixture_test(tmp_path: Path) -> None:
    """With a real base URL and credentials exported, a test of the fixtures builds its client as the README
    shows and reaches the sandbox alone: the credentials are unset and M3TER_BASE_URL names the sandbox (the
    mocked base URL, or the server's URL), and the variables are back for the next test."""
    result = run_tests(tmp_path, TESTS_WITH_AN_EXPORTED_ORGANIZATION + TEST_OF_THE_SANDBOX_ALONE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_overriding_m3ter_sandbox_keeps_the_environment_scrubbed(tmp_path: Path) -> None:
    """A conftest.py that replaces ``m3ter_sandbox`` (its own seed and rate limit) keeps the scrubbing, which
    ``m3ter_mock`` and ``m3ter_server`` take from a fixture of its own."""
    result = run_tests(tmp_path, TESTS_WITH_AN_EXPORTED_ORGANIZATION, OVERRIDING_CONFTEST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_the_server_url_wins_over_the_mocked_base_url(
    m3ter_mock: Sandbox, m3ter_server: SandboxServer[Sandbox]
) -> None:
    assert os.environ["M3TER_BASE_URL"] == m3ter_server.url


def test_the_mocked_base_url_is_exported(m3ter_mock: Sandbox) -> None:
    assert os.environ["M3TER_BASE_URL"] == DEFAULT_BASE_URL


def test_the_mock_lets_the_server_answer_in_the_same_test(
    m3ter_mock: Sandbox, m3ter_server: SandboxServer[Sandbox]
) -> None:
    with httpx.Client() as http:
        assert http.get(f"{m3ter_server.url}/oauth/token").status_code == 405  # not AllMockedAssertionError


TESTS_WITH_AN_UNUSED_FAULT = """
def test_fails(m3ter_mock):
    m3ter_mock.faults.server_errors(count=1, operation="GetStatementJob")
    assert False, "the client never asked for a job"

def test_passes(m3ter_mock):
    m3ter_mock.faults.server_errors(count=None, operation="GetStatementJob")
"""


def test_a_failed_test_reports_the_faults_that_never_acted(tmp_path: Path) -> None:
    """Only a failed test shows the section; a passing test with a fault left over passes, warnings being errors."""
    result = run_tests(tmp_path, TESTS_WITH_AN_UNUSED_FAULT)
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert "faults that never acted on a response: server_errors(operation='GetStatementJob')" in result.stdout
    assert result.stdout.count("faults that never acted") == 1
