"""The pytest plugin's fixtures (registered by the harness's ``pytest11`` entry point: no import here)."""

from __future__ import annotations

import subprocess
import sys

from m3ter_billing import M3terBilling
from m3ter_contract.sandbox import Sandbox, SandboxServer


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
