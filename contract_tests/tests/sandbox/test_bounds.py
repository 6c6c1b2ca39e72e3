"""The sandbox's memory stays bounded: tokens are evicted and capped per service user, request bodies are
capped (413) and read only when the token call is authenticated, encoded bodies are cached per entity version
(not per Host header), and large bodies are streamed intact."""

from __future__ import annotations

import base64
import json
import socket

import httpx
import msgspec
import pytest
from m3ter_contract.sandbox import DEFAULT_BASE_URL, ManualClock, Sandbox, SandboxServer, mock_m3ter
from m3ter_contract.sandbox.api import ENCODED_PER_VERSION
from m3ter_contract.sandbox.messages import Request


def _token(client: httpx.Client, sandbox: Sandbox) -> str:
    creds = sandbox.credentials
    response = client.post(
        "/oauth/token", auth=(creds.api_key, creds.api_secret), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    value: str = response.json()["access_token"]
    return value


def _get_bill(client: httpx.Client, sandbox: Sandbox, token: str) -> httpx.Response:
    path = f"/organizations/{sandbox.org_id}/bills/{sandbox.bill_ids[0]}"
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_user_holds_at_most_the_capped_number_of_tokens_the_oldest_stops_working() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5, max_tokens_per_user=3)
    with mock_m3ter(sandbox), httpx.Client(base_url=DEFAULT_BASE_URL) as client:
        tokens = [_token(client, sandbox) for _ in range(5)]
        assert len(sandbox.state.tokens) == 3
        for retired in tokens[:2]:
            response = _get_bill(client, sandbox, retired)
            assert response.status_code == 403
            assert response.json() == {"message": "Forbidden"}
        for live in tokens[2:]:
            assert _get_bill(client, sandbox, live).status_code == 200


def test_expired_tokens_are_forgotten_yet_still_answered_as_expired() -> None:
    clock = ManualClock()
    sandbox = Sandbox(clock=clock, rate_limit=None, large_bill_line_items=5, token_lifetime=100)
    with mock_m3ter(sandbox), httpx.Client(base_url=DEFAULT_BASE_URL) as client:
        old = [_token(client, sandbox) for _ in range(10)]
        clock.advance(100)
        fresh = _token(client, sandbox)  # issuing forgets the user's expired tokens
        assert list(sandbox.state.tokens) == [fresh]
        for value in old:
            response = _get_bill(client, sandbox, value)
            assert response.status_code == 403
            assert response.json() == {"message": "The incoming token has expired"}
        assert _get_bill(client, sandbox, fresh).status_code == 200
        clock.advance(100)
        assert sandbox.state.evict_expired_tokens() == 1
        assert sandbox.state.tokens == {}


def test_a_forged_expired_looking_token_is_forbidden_not_expired() -> None:
    clock = ManualClock()
    sandbox = Sandbox(clock=clock, rate_limit=None, large_bill_line_items=5, token_lifetime=100)
    with mock_m3ter(sandbox), httpx.Client(base_url=DEFAULT_BASE_URL) as client:
        header, payload, signature = _token(client, sandbox).split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["exp"] = 0
        forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        response = _get_bill(client, sandbox, f"{header}.{forged_payload}.{signature}")
        assert response.status_code == 403
        assert response.json() == {"message": "Forbidden"}
        assert _get_bill(client, sandbox, "a.b.c").json() == {"message": "Forbidden"}


def test_max_tokens_per_user_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens_per_user"):
        Sandbox(clock=ManualClock(), max_tokens_per_user=0)


def test_oversized_token_request_is_413_in_process_and_over_http() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5, max_request_body=100)
    creds = sandbox.credentials
    big = {"grant_type": "client_credentials", "padding": "x" * 200}
    with mock_m3ter(sandbox), httpx.Client(base_url=DEFAULT_BASE_URL) as client:
        response = client.post("/oauth/token", auth=(creds.api_key, creds.api_secret), data=big)
        assert response.status_code == 413
        assert response.json() == {"message": "Request body too large"}
    with SandboxServer(sandbox) as server, httpx.Client(base_url=server.url) as client:
        response = client.post("/oauth/token", auth=(creds.api_key, creds.api_secret), data=big)
        assert response.status_code == 413
        # Streamed in chunks without a Content-Length: counted while reading.
        chunks = (b"grant_type=client_credentials&padding=" + b"x" * 60 for _ in range(3))
        response = client.post(
            "/oauth/token",
            auth=(creds.api_key, creds.api_secret),
            content=chunks,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413
        assert _token(client, sandbox)  # a normal token call still works on the same server
    assert [record.status for record in sandbox.requests] == [413, 413, 413, 200]


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Send ``request`` (headers only; the declared body never follows) and read the answer's head."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_unauthenticated_and_oversized_bodies_are_refused_before_reading(server: SandboxServer[Sandbox]) -> None:
    # Both requests declare 100 MB and never send it: the answer comes without the body being read.
    unauthenticated = _raw_exchange(
        server.url,
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000000\r\n\r\n",
    )
    assert unauthenticated.startswith(b"HTTP/1.1 401 ")
    basic = base64.b64encode(b"key:secret")
    declared_too_large = _raw_exchange(
        server.url,
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basic + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n",
    )
    assert declared_too_large.startswith(b"HTTP/1.1 413 ")
    get_with_body = _raw_exchange(server.url, b"GET /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    assert get_with_body.startswith(b"HTTP/1.1 404 ")


def test_bill_bodies_are_cached_once_per_version_whatever_the_host(sandbox: Sandbox) -> None:
    token = sandbox.issue_token()
    bill_id = sandbox.seeded.bills["monthly"]
    path = f"/organizations/{sandbox.org_id}/bills/{bill_id}"
    headers = {"authorization": f"Bearer {token}"}
    bodies = {
        sandbox.handle(Request("GET", path, headers=headers, base_url=f"http://host-{n}:8080")).body for n in range(50)
    }
    assert len(bodies) == 1
    bill = sandbox.state.bill(bill_id)
    assert len(bill.encoded) == 1
    sandbox.approve_bill(bill_id)
    after = sandbox.handle(Request("GET", path, headers=headers, base_url="http://host-0:8080")).body
    assert msgspec.json.decode(after)["version"] == msgspec.json.decode(bodies.pop())["version"] + 1


def test_bodies_with_presigned_urls_keep_a_few_hosts_and_stay_correct(sandbox: Sandbox) -> None:
    token = sandbox.issue_token()
    job_id = sandbox.seeded.jobs["complete_csv"]
    path = f"/organizations/{sandbox.org_id}/statementjobs/{job_id}"
    headers = {"authorization": f"Bearer {token}"}
    for round_ in range(2):
        for n in range(ENCODED_PER_VERSION * 3):
            base = f"http://host-{n}:8080"
            body = msgspec.json.decode(sandbox.handle(Request("GET", path, headers=headers, base_url=base)).body)
            assert body["presignedJsonStatementUrl"].startswith(base + "/_statements/"), round_
            assert body["presignedCsvStatementUrl"].startswith(base + "/_statements/")
    assert len(sandbox.state.job(job_id).encoded) <= ENCODED_PER_VERSION


def test_a_large_body_is_streamed_intact(server: SandboxServer[Sandbox], sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["large"]
    expected = sandbox.bill(bill_id)
    with httpx.Client(base_url=server.url) as client:
        token = _token(client, sandbox)
        with client.stream(
            "GET", f"/organizations/{sandbox.org_id}/bills/{bill_id}", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            raw = b"".join(response.iter_raw())
    assert int(response.headers["content-length"]) == len(raw) > 64 * 1024
    assert msgspec.json.decode(raw) == expected
