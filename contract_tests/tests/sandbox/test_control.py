"""The control plane of ``m3ter-sandbox serve --control`` over HTTP on 127.0.0.1: only its token opens it, only
``/_sandbox/`` reaches it, every refusal is a typed JSON 4xx naming what is wrong, and what it does (advance,
faults, reset) is what the Python API does."""

from __future__ import annotations

import inspect
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from m3ter_contract.conformance.cli import main as conformance
from m3ter_contract.sandbox import FaultPresets, ManualClock, Sandbox, SandboxServer
from m3ter_contract.sandbox.control import PRESETS, ControlPlane, new_token

Served = tuple[SandboxServer[ControlPlane], str]


@pytest.fixture
def served(sandbox: Sandbox) -> Iterator[Served]:
    token = new_token()
    with SandboxServer(ControlPlane(sandbox, token)) as server:
        yield server, token


@pytest.fixture
def control(served: Served) -> Iterator[httpx.Client]:
    server, token = served
    with httpx.Client(base_url=server.url + "/_sandbox", headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _api(server: SandboxServer[ControlPlane]) -> httpx.Client:
    sandbox = server.sandbox.sandbox
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {sandbox.issue_token()}"})


def _refused(response: httpx.Response, status: int, code: str, *says: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert all(part in body["message"] for part in says), body["message"]
    assert "Traceback" not in response.text
    return body


ENDPOINTS = [("GET", "summary"), ("POST", "advance"), ("GET", "faults"), ("POST", "faults"), ("DELETE", "faults")]
ENDPOINTS += [("POST", "reset"), ("GET", "nowhere")]


@pytest.mark.parametrize(("method", "endpoint"), ENDPOINTS)
def test_the_token_is_required(served: Served, sandbox: Sandbox, method: str, endpoint: str) -> None:
    server, token = served
    sandbox.approve_bill(sandbox.seeded.bills["empty"])
    url = f"{server.url}/_sandbox/{endpoint}"
    body = {"seconds": 60}
    missing = httpx.request(method, url, json=body)
    _refused(missing, 401, "unauthorized", "Authorization: Bearer")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    _refused(httpx.request(method, url, json=body, auth=("control", token)), 401, "unauthorized")  # Basic
    wrong = ("y" if token.startswith("x") else "x") + token[1:]  # differs in its first character, always
    refused = httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {wrong}"})
    _refused(refused, 403, "forbidden")
    assert wrong not in refused.text
    m3ter_token = {"Authorization": f"Bearer {sandbox.issue_token()}"}  # the API's tokens open only the API
    _refused(httpx.request(method, url, json=body, headers=m3ter_token), 403, "forbidden")
    assert sandbox.bill(sandbox.seeded.bills["empty"])["status"] == "APPROVED"  # nothing was reset
    assert sandbox.clock.now() == ManualClock().now()  # nor advanced


def test_a_server_without_control_refuses_it(sandbox: Sandbox) -> None:
    with SandboxServer(ControlPlane(sandbox, None)) as server:
        answer = httpx.post(server.url + "/_sandbox/reset", headers={"Authorization": "Bearer " + "t" * 43})
        _refused(answer, 404, "control_disabled", "--control")
        assert httpx.get(server.url + "/nope").json() == {"message": "Not found"}  # the API as ever
    with pytest.raises(ValueError, match="at least 16 printable ASCII"):
        ControlPlane(sandbox, "short")


@pytest.mark.parametrize(
    "path",
    [
        "/%5Fsandbox/reset",
        "/_SANDBOX/reset",
        "/organizations/_sandbox/reset",
        "/organizations/{org}/bills/_sandbox",
        "/organizations/{org}/statementjobs/%2F_sandbox%2Freset",
        "/oauth/token/../../_sandbox/reset",
        "/_statements/_sandbox/reset",
    ],
)
def test_no_api_path_reaches_the_control_plane(served: Served, sandbox: Sandbox, path: str) -> None:
    """Sent byte for byte (an HTTP client would remove the dot segments itself): the raw path decides."""
    server, token = served
    sandbox.approve_bill(sandbox.seeded.bills["empty"])
    target = path.format(org=sandbox.org_id)
    request = f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"{request}Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] in (b"404", b"405"), head
    assert json.loads(body) in ({"message": "Not found"}, {"message": "Method Not Allowed"})  # the API's
    assert sandbox.bill(sandbox.seeded.bills["empty"])["status"] == "APPROVED"


def test_control_requests_are_not_api_requests(control: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.server_errors(count=1)
    assert control.get("/summary").status_code == 200
    assert control.post("/advance", json={"seconds": 1}).status_code == 200
    assert sandbox.requests == []  # not recorded
    assert sandbox.faults.unused() == ["server_errors()"]  # and no fault consumed


def test_summary_names_what_was_seeded(control: httpx.Client, sandbox: Sandbox) -> None:
    answer = control.get("/summary")
    assert answer.headers["cache-control"] == "no-store"  # it holds the credentials
    summary = answer.json()
    assert {key: summary[key] for key in sandbox.summary()} == sandbox.summary()
    assert summary["seeded"] == {
        "other_org_id": sandbox.seeded.other_org_id,
        "bills": sandbox.seeded.bills,
        "jobs": sandbox.seeded.jobs,
    }
    assert summary["clock"] == {"now": "2025-01-15T12:00:00.000Z", "epoch": sandbox.clock.now(), "manual": True}


def test_advance_moves_job_states(served: Served, control: httpx.Client, sandbox: Sandbox) -> None:
    server, _ = served
    job = f"/organizations/{sandbox.org_id}/statementjobs/{sandbox.seeded.jobs['pending']}"
    started = sandbox.clock.now()
    with _api(server) as api:
        assert api.get(job).json()["statementJobStatus"] == "PENDING"
        moved = control.post("/advance", json={"seconds": 3})
        assert moved.json() == {"now": "2025-01-15T12:00:03.000Z", "epoch": started + 3}
        assert api.get(job).json()["statementJobStatus"] == "RUNNING"
        assert control.post("/advance", json={"seconds": 60.5}).status_code == 200
        assert api.get(job).json()["statementJobStatus"] == "COMPLETE"
    assert sandbox.clock.now() == started + 63.5


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "null"),
        ({"seconds": -1}, "N >= 0; not -1"),
        ({"seconds": "60"}, 'not "60"'),
        ({"seconds": True}, "not true"),
        ({"seconds": 10**400}, "not 1000000"),
        ({"seconds": 1e300}, "would move the clock past 9000-01-01"),
        ({"seconds": 1, "minutes": 1}, "advance takes seconds, not 'minutes'"),
    ],
)
def test_advance_refuses_what_is_not_a_duration(
    control: httpx.Client, sandbox: Sandbox, body: dict[str, Any], says: str
) -> None:
    before = sandbox.clock.now()
    _refused(control.post("/advance", json=body), 400, "bad_request", says)
    assert sandbox.clock.now() == before


def test_advance_needs_a_manual_clock() -> None:
    token = new_token()
    with SandboxServer(ControlPlane(Sandbox(rate_limit=None, large_bill_line_items=5), token)) as server:
        answer = httpx.post(
            server.url + "/_sandbox/advance", json={"seconds": 1}, headers={"Authorization": f"Bearer {token}"}
        )
    _refused(answer, 409, "no_manual_clock", "SystemClock()", "--manual-clock")


def test_the_presets_over_http_are_all_but_those_taking_a_function() -> None:
    public = {name for name, member in vars(FaultPresets).items() if inspect.isfunction(member) and name[0] != "_"}
    assert set(PRESETS) == public - {"clear", "unused", "rewrite_body"}


def test_an_unknown_preset_is_400_naming_the_known_ones(control: httpx.Client, sandbox: Sandbox) -> None:
    body = _refused(control.post("/faults", json={"preset": "explode"}), 400, "unknown_preset", '"explode"')
    assert body["known"] == sorted(PRESETS)
    assert "server_errors" in body["message"]
    assert "rewrite_body" not in body["message"]
    _refused(control.post("/faults", json={"args": {}}), 400, "unknown_preset", "name a preset", "version_zero")
    _refused(control.post("/faults", json={"preset": ["server_errors"]}), 400, "unknown_preset")
    _refused(control.post("/faults", json={"preset": "rewrite_body"}), 400, "unknown_preset")
    assert sandbox.faults.unused() == []


@pytest.mark.parametrize(
    ("preset", "args", "status", "code", "says"),
    [
        (
            "server_errors",
            {"counts": 2},
            400,
            "bad_request",
            "server_errors takes no argument 'counts'; it takes: count",
        ),
        ("server_errors", {"count": "2"}, 400, "bad_request", 'count must be a whole number or null, not "2"'),
        ("server_errors", {"count": True}, 400, "bad_request", "not true"),
        ("server_errors", {"count": 0}, 400, "bad_request", "server_errors: count must be at least 1"),
        ("server_errors", {"status": 404}, 400, "bad_request", "5xx"),
        ("server_errors", {"operation": "GetBills"}, 400, "bad_request", 'one of "GenerateToken", "GetBill"'),
        ("server_errors", [], 400, "bad_request", '"args" is a JSON object'),
        ("wrong_content_type", {"content_type": "text/plain\r\nX-Evil: 1"}, 400, "bad_request", "control character"),
        ("slow", {"seconds": 60}, 400, "bad_request", "at most 5"),
        ("version_zero", {}, 400, "bad_request", "version_zero needs entity_id"),
        ("version_zero", {"entity_id": "nope"}, 404, "unknown_entity", "unknown entity 'nope'"),
        ("mislabelled_statement", {"job_id": "j", "fmt": "xml"}, 400, "bad_request", 'one of "json", "csv"'),
        ("complete_job_without_csv_url", {"job_id": "{complete_json}"}, 400, "refused", "has no CSV format"),
    ],
)
def test_preset_arguments_are_checked(
    control: httpx.Client, sandbox: Sandbox, preset: str, args: Any, status: int, code: str, says: str
) -> None:
    if isinstance(args, dict):
        args = {
            key: value.format(**sandbox.seeded.jobs) if isinstance(value, str) else value for key, value in args.items()
        }
    _refused(control.post("/faults", json={"preset": preset, "args": args}), status, code, says)
    assert sandbox.faults.unused() == []


def test_faults_are_queued_listed_and_cleared(served: Served, control: httpx.Client, sandbox: Sandbox) -> None:
    server, _ = served
    bill = sandbox.seeded.bills["monthly"]
    queued = control.post("/faults", json={"preset": "server_errors", "args": {"count": 1, "operation": "GetBill"}})
    assert queued.json() == {"queued": "server_errors", "unused": ["server_errors(operation='GetBill')"]}
    assert control.post("/faults", json={"preset": "version_zero", "args": {"entity_id": bill}}).status_code == 200
    listed = control.get("/faults").json()
    assert listed["unused"] == ["server_errors(operation='GetBill')", f"mutation(entity_id={bill!r})"]
    assert listed["presets"]["version_zero"] == {"entity_id": "a string (required)"}
    with _api(server) as api:
        assert api.get(f"/organizations/{sandbox.org_id}/bills/{bill}").status_code == 503
        assert api.get(f"/organizations/{sandbox.org_id}/bills/{bill}").json()["version"] == 0
        assert control.get("/faults").json()["unused"] == []
        assert control.delete("/faults").json() == {"unused": []}
        assert api.get(f"/organizations/{sandbox.org_id}/bills/{bill}").json() == sandbox.bill(bill)


def test_reset_restores_the_seed(served: Served, control: httpx.Client, sandbox: Sandbox) -> None:
    server, _ = served
    before = control.get("/summary").json()
    bill, job = sandbox.seeded.bills["empty"], sandbox.seeded.jobs["pending"]
    sandbox.approve_bill(bill)
    sandbox.create_bill()
    control.post("/advance", json={"seconds": 600})
    control.post("/faults", json={"preset": "version_zero", "args": {"entity_id": bill}})
    with _api(server) as api:
        assert (
            api.get(f"/organizations/{sandbox.org_id}/statementjobs/{job}").json()["statementJobStatus"] == "COMPLETE"
        )
        after = control.post("/reset").json()
        assert {key: after[key] for key in before if key != "clock"} == {
            key: before[key] for key in before if key != "clock"
        }
        assert after["clock"]["epoch"] == before["clock"]["epoch"] + 600  # time does not go back
        restored = api.get(f"/organizations/{sandbox.org_id}/bills/{bill}").json()  # the API token still works
        assert (restored["status"], restored["version"]) == ("PENDING", 1)  # and the fault is gone
        assert api.get(f"/organizations/{sandbox.org_id}/statementjobs/{job}").json()["statementJobStatus"] == "PENDING"
    assert control.get("/faults").json()["unused"] == []
    assert sandbox.bill_ids == before["bill_ids"]
    assert [record.path.rsplit("/", 2)[1] for record in sandbox.requests] == ["bills", "statementjobs"]
    _refused(control.post("/reset", json={"seed": 2}), 400, "bad_request", "reset takes no member, not 'seed'")


def test_conformance_passes_against_the_served_sandbox_after_a_reset(
    served: Served, control: httpx.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    server, _ = served
    control.post("/faults", json={"preset": "version_zero", "args": {"entity_id": sandbox.seeded.bills["monthly"]}})
    control.post("/advance", json={"seconds": 30})

    def check(name: str) -> int:
        ids = [arg for bill in sandbox.bill_ids for arg in ("--bill-id", bill)]
        ids += [arg for job in sandbox.statement_job_ids for arg in ("--statement-job-id", job)]
        args = ["--base-url", server.url, *ids, "--rate", "50", "--no-state", "--quiet"]
        creds = sandbox.credentials
        environ = {"M3TER_ORG_ID": creds.org_id, "M3TER_API_KEY": creds.api_key, "M3TER_API_SECRET": creds.api_secret}
        return conformance([*args, "--report-json", str(tmp_path / f"{name}.json")], environ=environ)

    assert check("broken") == 1
    findings = json.loads((tmp_path / "broken.json").read_text(encoding="utf-8"))["findings"]
    assert {finding["rule"] for finding in findings} == {"version.minimum"}
    assert control.post("/reset").status_code == 200
    assert check("reset") == 0
    assert all(not record.path.startswith("/_sandbox") for record in sandbox.requests)


@pytest.mark.parametrize(
    ("method", "endpoint", "content", "status", "code", "says"),
    [
        ("POST", "advance", b"{not json", 400, "bad_json", "the body is not JSON"),
        ("POST", "advance", b'{"\xff": 1}', 400, "bad_json", "the body is not JSON"),
        ("POST", "advance", b'{"seconds": 1, "seconds": 2}', 400, "bad_json", "member 'seconds' given twice"),
        ("POST", "advance", b"[60]", 400, "bad_request", "the body is a JSON object, not list"),
        ("PUT", "reset", b"", 405, "method_not_allowed", "/_sandbox/reset takes POST"),
        ("GET", "nowhere", b"", 404, "not_found", "no control endpoint /_sandbox/nowhere; the endpoints: GET"),
        ("GET", "", b"", 404, "not_found", "POST /_sandbox/reset"),
    ],
)
def test_bad_requests_are_typed_json_errors(
    control: httpx.Client, method: str, endpoint: str, content: bytes, status: int, code: str, says: str
) -> None:
    answer = control.request(method, f"/{endpoint}", content=content)
    body = _refused(answer, status, code, says)
    if status == 405:
        assert answer.headers["allow"] == "POST"
        assert body["allow"] == ["POST"]


def test_a_body_nested_deeper_than_the_parser_goes_is_400(control: httpx.Client) -> None:
    """5,000 levels: past the parser's recursion limit on 3.11 ("nested too deep"), within it on 3.13 (then
    "seconds" is no number). A typed 400 either way, never a 500."""
    answer = control.post("/advance", content=b'{"seconds": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    body = _refused(answer, 400, "bad_json" if "nested too deep" in answer.text else "bad_request")
    assert "nested too deep" in body["message"] or "advance takes" in body["message"]


def test_an_oversized_body_is_refused_before_reading() -> None:
    token = new_token()
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5, max_request_body=64)
    with SandboxServer(ControlPlane(sandbox, token)) as server:
        answer = httpx.post(
            server.url + "/_sandbox/advance", content=b" " * 65, headers={"Authorization": f"Bearer {token}"}
        )
    _refused(answer, 413, "too_large")


def test_a_failure_inside_is_a_json_500_without_details(
    control: httpx.Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("some internal detail")

    monkeypatch.setattr(sandbox, "reset", broken)
    answer = control.post("/reset")
    _refused(answer, 500, "internal_error", "RuntimeError")
    assert "some internal detail" not in answer.text
