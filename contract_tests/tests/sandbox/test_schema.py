"""Every response of the clean sandbox validates against spec/ (schemathesis), over every way in: the
ASGI app (schemathesis' in-process ASGI transport), the respx router (httpx) and real HTTP on loopback
(schemathesis' own transport); positive and negative data."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from m3ter_contract.sandbox import DEFAULT_BASE_URL, ManualClock, Sandbox, SandboxServer, mock_m3ter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SPEC = Path(__file__).resolve().parents[3] / "spec" / "m3ter-billing.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
BILL = "/organizations/{orgId}/bills/{id}"
JOB = "/organizations/{orgId}/statementjobs/{id}"


@pytest.fixture
def schema() -> Any:
    """A fresh schema per test: operations remember the app they were first built with."""
    return schemathesis.openapi.from_path(str(SPEC))


def send_with_httpx(case: Any) -> httpx.Response:
    """Send a schemathesis case through httpx (so respx answers it)."""
    kwargs = case.as_transport_kwargs(base_url=DEFAULT_BASE_URL)
    with httpx.Client() as client:
        return client.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            content=kwargs.get("data") if isinstance(kwargs.get("data"), (bytes, str)) else None,
            data=kwargs.get("data") if isinstance(kwargs.get("data"), dict) else None,
            json=kwargs.get("json"),
        )


def every_case(schema: Any, sandbox: Sandbox) -> list[Any]:
    """Cases for every seeded entity of both Organizations and each way in: good token, none, wrong token,
    unknown id, foreign org, `additional`, and the token call with form and JSON bodies."""
    cases: list[Any] = []
    bill_op, job_op = schema[BILL]["GET"], schema[JOB]["GET"]
    for creds in sandbox.seeded.credentials:
        auth = {"Authorization": f"Bearer {sandbox.issue_token(creds.org_id)}"}
        for bill in sandbox.state.org_bills(creds.org_id):
            params = {"orgId": creds.org_id, "id": bill.id}
            cases.append(bill_op.Case(path_parameters=params, headers=auth))
            cases.append(bill_op.Case(path_parameters=params, headers=auth, query={"additional": ["a", "b"]}))
        for job in sandbox.state.jobs.values():
            if job.org_id == creds.org_id:
                cases.append(job_op.Case(path_parameters={"orgId": creds.org_id, "id": job.id}, headers=auth))
        cases.append(bill_op.Case(path_parameters={"orgId": creds.org_id, "id": "missing"}, headers=auth))
        cases.append(job_op.Case(path_parameters={"orgId": creds.org_id, "id": "missing"}, headers=auth))
    some_bill = sandbox.seeded.bills["monthly"]
    cases.append(bill_op.Case(path_parameters={"orgId": sandbox.org_id, "id": some_bill}))
    cases.append(
        bill_op.Case(path_parameters={"orgId": sandbox.org_id, "id": some_bill}, headers={"Authorization": "Bearer x"})
    )
    cases.append(
        bill_op.Case(
            path_parameters={"orgId": sandbox.seeded.other_org_id, "id": some_bill},
            headers={"Authorization": f"Bearer {sandbox.issue_token()}"},
        )
    )
    token_op = schema["/oauth/token"]["POST"]
    creds = sandbox.credentials
    basic = {"Authorization": "Basic " + base64.b64encode(f"{creds.api_key}:{creds.api_secret}".encode()).decode()}
    for media_type in ("application/x-www-form-urlencoded", "application/json"):
        cases.append(token_op.Case(body={"grant_type": "client_credentials"}, media_type=media_type, headers=basic))
    cases.append(token_op.Case(body={"grant_type": "client_credentials"}, media_type="application/json"))
    return cases


def sandbox_through_a_lifecycle() -> tuple[Sandbox, ManualClock]:
    clock = ManualClock()
    return Sandbox(clock=clock, rate_limit=None, large_bill_line_items=200), clock


def test_every_response_validates_over_asgi(schema: Any) -> None:
    sandbox, clock = sandbox_through_a_lifecycle()
    schema.app = sandbox.asgi_app()
    statuses: set[int] = set()
    try:
        for step in (0, 2, 10, 4_000):  # pending, running, complete, URLs renewed
            clock.advance(step)
            for case in every_case(schema, sandbox):
                response = case.call()
                case.validate_response(response, checks=CHECKS)
                statuses.add(response.status_code)
    finally:
        schema.app = None
    assert statuses == {200, 401, 403, 404}


def test_every_response_validates_over_respx(schema: Any) -> None:
    sandbox, clock = sandbox_through_a_lifecycle()
    statuses: set[int] = set()
    with mock_m3ter(sandbox):
        for step in (0, 2, 10, 4_000):
            clock.advance(step)
            for case in every_case(schema, sandbox):
                response = send_with_httpx(case)
                case.validate_response(response, checks=CHECKS)
                statuses.add(response.status_code)
    assert statuses == {200, 401, 403, 404}


@pytest.mark.parametrize("adapter", ["asgi", "respx"])
def test_generated_requests_validate(schema: Any, adapter: str) -> None:
    """Hypothesis-generated requests (ids and `additional` drawn by schemathesis; half aimed at real
    entities), each answer checked against the spec."""
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    token = sandbox.issue_token()
    real_ids = {BILL: sandbox.bill_ids, JOB: sandbox.statement_job_ids}
    if adapter == "asgi":
        schema.app = sandbox.asgi_app()

    strategies = [schema[path]["GET"].as_strategy() for path in (BILL, JOB)]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=st.one_of(strategies), use_real=st.booleans(), data=st.data())
    def check(case: Any, use_real: bool, data: st.DataObject) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        if use_real:
            path = case.operation.path
            case.path_parameters = {"orgId": sandbox.org_id, "id": data.draw(st.sampled_from(real_ids[path]))}
        response = case.call() if adapter == "asgi" else send_with_httpx(case)
        case.validate_response(response, checks=CHECKS)
        if use_real:
            assert response.status_code == 200

    try:
        if adapter == "respx":
            with mock_m3ter(sandbox):
                check()
        else:
            check()
    finally:
        schema.app = None


def test_every_response_validates_over_real_http(schema: Any) -> None:
    """The third way in: schemathesis' own HTTP transport against the uvicorn server on 127.0.0.1."""
    sandbox, clock = sandbox_through_a_lifecycle()
    statuses: set[int] = set()
    with SandboxServer(sandbox) as server:
        for step in (0, 2, 10, 4_000):
            clock.advance(step)
            for case in every_case(schema, sandbox):
                response = case.call(base_url=server.url)
                case.validate_response(response, checks=CHECKS)
                statuses.add(response.status_code)
    assert statuses == {200, 401, 403, 404}


@pytest.mark.parametrize("adapter", ["asgi", "http"])
def test_negative_requests_get_documented_errors_not_server_errors(schema: Any, adapter: str) -> None:
    """Schemathesis' negative mode (requests that break the spec: wrong types, missing or malformed
    parameters and bodies, for the token call too) never makes the sandbox fail, and every answer it gives
    is one the spec documents."""
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    token = sandbox.issue_token()
    creds = sandbox.credentials
    basic = "Basic " + base64.b64encode(f"{creds.api_key}:{creds.api_secret}".encode()).decode()
    if adapter == "asgi":
        schema.app = sandbox.asgi_app()  # before the operations are built: they keep the app they saw
    operations = [schema[BILL]["GET"], schema[JOB]["GET"], schema["/oauth/token"]["POST"]]
    strategies = [operation.as_strategy(GenerationMode.NEGATIVE) for operation in operations]
    seen: set[int] = set()

    def run(call: Any) -> None:
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=st.one_of(strategies), authorized=st.booleans())
        def check(case: Any, authorized: bool) -> None:
            if case.operation.method.upper() == "POST":
                # Valid credentials, so the malformed token bodies reach the body checks (else: 401).
                case.headers = {**(case.headers or {}), "Authorization": basic}
            elif authorized:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            response = call(case)
            case.validate_response(
                response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
            )
            seen.add(response.status_code)

        check()

    if adapter == "asgi":
        try:
            run(lambda case: case.call())
        finally:
            schema.app = None
    else:
        with SandboxServer(sandbox) as server:
            run(lambda case: case.call(base_url=server.url))
    assert seen, "no request was sent"
    assert all(status < 500 for status in seen)
    assert 400 in seen, f"negative token bodies should be refused with 400, saw {sorted(seen)}"
