"""The HTTP sandbox: the thread runner, the `m3ter-sandbox serve` CLI, and the official m3ter SDK
reading bills and jobs from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, assert_type

import httpx
import pytest
import uvicorn
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer, cli
from m3ter_contract.sandbox.control import ControlPlane

ROOT = Path(__file__).resolve().parents[3]


def _details(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    """The JSON line ``serve --json`` prints first; a server that prints nothing fails the test, not hangs it."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        process.kill()
        _, err = process.communicate(timeout=10)
        pytest.fail(f"serve printed no details within {timeout} s; its stderr: {err[-2000:]}")
    details: dict[str, Any] = json.loads(lines[0])
    return details


def test_thread_server_serves_and_stops(server: SandboxServer[Sandbox], sandbox: Sandbox) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0
    assert assert_type(server.sandbox, Sandbox) is sandbox  # typed by the handler it serves (mypy checks)
    creds = sandbox.credentials
    with httpx.Client(base_url=server.url) as client:
        token = client.post(
            "/oauth/token", auth=(creds.api_key, creds.api_secret), data={"grant_type": "client_credentials"}
        )
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        bill = client.get(f"/organizations/{sandbox.org_id}/bills/{sandbox.seeded.bills['large']}", headers=headers)
        assert bill.status_code == 200
        assert bill.headers["content-type"] == "application/json"
        assert len(bill.json()["lineItems"]) == 300
        job = client.get(
            f"/organizations/{sandbox.org_id}/statementjobs/{sandbox.seeded.jobs['complete_csv']}", headers=headers
        ).json()
        assert job["presignedJsonStatementUrl"].startswith(f"{server.url}/_statements/")
        assert client.get(job["presignedCsvStatementUrl"]).status_code == 200
        assert client.delete(f"/organizations/{sandbox.org_id}/bills/x", headers=headers).status_code == 405
    url = server.url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/oauth/token", timeout=2)


def test_server_is_a_context_manager_and_restartable() -> None:
    sandbox = Sandbox(clock=ManualClock(), large_bill_line_items=5)
    with sandbox.serve() as first:
        assert httpx.get(first.url + "/nope").status_code == 404
    with SandboxServer(sandbox, port=0) as second:
        assert httpx.get(second.url + "/nope").json() == {"message": "Not found"}


def test_slow_fault_over_http_does_not_block_other_requests(server: SandboxServer[Sandbox], sandbox: Sandbox) -> None:
    sandbox.faults.slow(0.2, operation="GetStatementJob")
    import asyncio

    async def both() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        headers = {"Authorization": f"Bearer {sandbox.issue_token()}"}
        job = f"/organizations/{sandbox.org_id}/statementjobs/{sandbox.seeded.jobs['failed']}"
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:

            async def timed(path: str) -> float:
                started = loop.time()
                await client.get(path)
                return loop.time() - started

            slow, fast = await asyncio.gather(timed(job), timed("/nope"))
            return slow, fast

    slow, fast = asyncio.run(both())
    assert slow >= 0.2
    assert fast < 0.2


def test_cli_serve_json() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "contract_tests")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "m3ter_contract.sandbox.cli",
            "serve",
            "--port",
            "0",
            "--seed",
            "3",
            "--json",
            "--large-bill-line-items",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        details = _details(process)
        assert {"url", "org_id", "api_key", "api_secret", "bill_ids", "statement_job_ids"} <= set(details)
        assert details["url"].startswith("http://127.0.0.1:")
        expected = Sandbox(seed=3, clock=ManualClock(), large_bill_line_items=20)
        assert details["org_id"] == expected.org_id
        assert details["bill_ids"] == expected.bill_ids
        assert details["statement_job_ids"] == expected.statement_job_ids
        assert "control_token" not in details  # the control plane is off unless asked for
        token = httpx.post(
            details["url"] + "/oauth/token",
            auth=(details["api_key"], details["api_secret"]),
            data={"grant_type": "client_credentials"},
            timeout=5,
        )
        assert token.status_code == 200
        bill = httpx.get(
            f"{details['url']}/organizations/{details['org_id']}/bills/{details['bill_ids'][0]}",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=5,
        )
        assert bill.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_cli_serve_prints_human_readable_details(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from m3ter_contract.sandbox import cli

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    assert cli.main(["serve", "--port", "0", "--rate-limit", "0", "--large-bill-line-items", "1"]) == 0
    out = capsys.readouterr().out
    assert "m3ter sandbox serving at http://127.0.0.1:" in out
    assert "rate limit   disabled" in out
    assert "api_secret" in out


def test_official_m3ter_sdk_reads_bills_and_jobs(server: SandboxServer[Sandbox], sandbox: Sandbox) -> None:
    """Interop with a client we did not write, in its strict mode (every response validated against its
    own pydantic models)."""
    import m3ter

    creds = sandbox.credentials
    client = m3ter.M3ter(
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        org_id=creds.org_id,
        base_url=server.url,
        max_retries=0,
        _strict_response_validation=True,
    )
    try:
        for name, bill_id in sandbox.seeded.bills.items():
            if sandbox.state.bill(bill_id).org_id != sandbox.org_id:
                continue
            bill = client.bills.retrieve(bill_id, additional=["a", "b"])
            assert bill.id == bill_id, name
            assert bill.version == sandbox.bill(bill_id)["version"]
            assert len(bill.line_items or []) == len(sandbox.bill(bill_id)["lineItems"])
        assert sandbox.requests[-1].additional == ("a", "b")
        for job_id in sandbox.statement_job_ids:
            job = client.statements.statement_jobs.retrieve(job_id)
            assert job.id == job_id
            assert job.statement_job_status in ("PENDING", "RUNNING", "COMPLETE", "FAILED", "CANCELLED")
    finally:
        client.close()


def test_serve_prints_the_control_url_and_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[object] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self.config.app.handler))
    assert cli.main(["serve", "--port", "0", "--control", "--manual-clock", "--large-bill-line-items", "1"]) == 0
    out = capsys.readouterr().out
    assert "/_sandbox/ (Authorization: Bearer " in out
    assert "clock        manual, at 2025-01-15T12:00:00.000Z" in out
    (handler,) = served
    assert isinstance(handler, ControlPlane)
    assert "enabled=True" in repr(handler)
    assert cli.main(["serve", "--port", "0", "--large-bill-line-items", "1"]) == 0
    assert "_sandbox" not in capsys.readouterr().out
    assert "enabled=False" in repr(served[1])


def test_cli_serve_control_end_to_end() -> None:
    """Another process holding only the printed URL and token moves the served sandbox."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "contract_tests")}
    command = [sys.executable, "-m", "m3ter_contract.sandbox.cli", "serve", "--port", "0", "--json"]
    command += ["--control", "--manual-clock", "--rate-limit", "0", "--large-bill-line-items", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        details = _details(process)
        assert details["control_url"] == details["url"] + "/_sandbox/"
        headers = {"Authorization": f"Bearer {details['control_token']}"}
        with httpx.Client(base_url=details["control_url"], headers=headers, timeout=5) as control:
            summary = control.get("summary").json()
            assert summary["clock"]["manual"] is True
            assert summary["bill_ids"] == details["bill_ids"]
            assert control.post("advance", json={"seconds": 60}).json()["now"] == "2025-01-15T12:01:00.000Z"
            assert control.post("reset").json()["clock"]["now"] == "2025-01-15T12:01:00.000Z"
        assert httpx.get(details["control_url"] + "summary", timeout=5).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        errors = process.stderr.read() if process.stderr is not None else ""
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert details["control_token"] not in errors  # printed once, with the details; never logged
