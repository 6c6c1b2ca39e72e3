"""The wire behaviour through the respx adapter: auth, errors, limits, statements, `additional`."""

from __future__ import annotations

import httpx
import pytest
from m3ter_contract.sandbox import DEFAULT_BASE_URL, ManualClock, Sandbox, mock_m3ter, parse_additional

BASE = DEFAULT_BASE_URL


def bill_path(sandbox: Sandbox, bill_id: str | None = None) -> str:
    return f"/organizations/{sandbox.org_id}/bills/{bill_id or sandbox.seeded.bills['monthly']}"


def job_path(sandbox: Sandbox, job_id: str) -> str:
    return f"/organizations/{sandbox.org_id}/statementjobs/{job_id}"


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["message"]
    assert isinstance(body["message"], str)
    assert body["message"]


def test_token_with_basic_and_form_body(mocked: Sandbox) -> None:
    creds = mocked.credentials
    response = httpx.post(
        f"{BASE}/oauth/token", auth=(creds.api_key, creds.api_secret), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 18_000
    assert body["scope"] is None
    bill = httpx.get(BASE + bill_path(mocked), headers={"Authorization": f"Bearer {body['access_token']}"})
    assert bill.status_code == 200


def test_token_with_json_body(mocked: Sandbox) -> None:
    creds = mocked.credentials
    response = httpx.post(
        f"{BASE}/oauth/token", auth=(creds.api_key, creds.api_secret), json={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token_type", "access_token", "expires_in", "scope"}


@pytest.mark.parametrize("body", [b'{"\xff": 1}', b"[" * 5000 + b"]" * 5000], ids=["bad-utf8", "nested-deep"])
def test_a_token_body_json_cannot_read_is_400(mocked: Sandbox, body: bytes) -> None:
    creds = mocked.credentials
    response = httpx.post(
        f"{BASE}/oauth/token",
        auth=(creds.api_key, creds.api_secret),
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)
    # Nested 5,000 deep is past the parser's recursion limit on 3.11, within it on 3.13 (then no object).
    assert response.json()["message"] in ("Request body is not valid JSON", "Request body must be a JSON object")


def test_each_token_is_new(mocked: Sandbox) -> None:
    assert mocked.issue_token() != mocked.issue_token()


@pytest.mark.parametrize(
    ("auth", "body", "status"),
    [
        (None, {"grant_type": "client_credentials"}, 401),
        (("nobody", "nothing"), {"grant_type": "client_credentials"}, 403),
        ("right", {"grant_type": "password"}, 400),
        ("right", {}, 400),
    ],
)
def test_token_errors(mocked: Sandbox, auth: object, body: dict[str, str], status: int) -> None:
    creds = mocked.credentials
    basic = (creds.api_key, creds.api_secret) if auth == "right" else auth
    response = httpx.post(f"{BASE}/oauth/token", auth=basic, data=body)  # type: ignore[arg-type]
    assert_error(response, status)


def test_token_rejects_other_content_types(mocked: Sandbox) -> None:
    creds = mocked.credentials
    response = httpx.post(
        f"{BASE}/oauth/token",
        auth=(creds.api_key, creds.api_secret),
        content=b"grant_type=client_credentials",
        headers={"content-type": "text/plain"},
    )
    assert_error(response, 400)


def test_missing_token_is_401(mocked: Sandbox) -> None:
    assert_error(httpx.get(BASE + bill_path(mocked)), 401)
    assert_error(httpx.get(BASE + bill_path(mocked), headers={"Authorization": "Basic abc"}), 401)


def test_wrong_token_is_403(mocked: Sandbox) -> None:
    assert_error(httpx.get(BASE + bill_path(mocked), headers={"Authorization": "Bearer not-a-token"}), 403)


def test_expired_token_is_403(mocked: Sandbox, clock: ManualClock) -> None:
    headers = {"Authorization": f"Bearer {mocked.issue_token()}"}
    assert httpx.get(BASE + bill_path(mocked), headers=headers).status_code == 200
    clock.advance(18_000)
    response = httpx.get(BASE + bill_path(mocked), headers=headers)
    assert_error(response, 403)
    assert "expired" in response.json()["message"]


def test_unknown_and_foreign_orgs_are_403(api: httpx.Client, mocked: Sandbox) -> None:
    bill_id = mocked.seeded.bills["monthly"]
    assert_error(api.get(f"/organizations/no-such-org/bills/{bill_id}"), 403)
    other = mocked.seeded.other_org_id
    assert_error(api.get(f"/organizations/{other}/bills/{mocked.seeded.bills['arrears_monthly']}"), 403)


def test_unknown_ids_are_404(api: httpx.Client, mocked: Sandbox) -> None:
    assert_error(api.get(bill_path(mocked, "no-such-bill")), 404)
    assert_error(api.get(job_path(mocked, "no-such-job")), 404)
    # an id of the other org is unknown in this one
    assert_error(api.get(bill_path(mocked, mocked.seeded.bills["arrears_monthly"])), 404)
    assert_error(api.get("/organizations/x/invoices/y"), 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_undeclared_methods_are_405(api: httpx.Client, mocked: Sandbox, method: str) -> None:
    response = api.request(method, bill_path(mocked))
    assert_error(response, 405)
    assert response.headers["allow"] == "GET"
    assert_error(api.get("/oauth/token"), 405)


def test_bill_and_job_bodies(api: httpx.Client, mocked: Sandbox) -> None:
    bill = api.get(bill_path(mocked))
    assert bill.status_code == 200
    assert bill.headers["content-type"] == "application/json"
    assert bill.json() == mocked.bill(mocked.seeded.bills["monthly"])
    job = api.get(job_path(mocked, mocked.seeded.jobs["complete_csv"])).json()
    assert job["statementJobStatus"] == "COMPLETE"
    for key in ("presignedJsonStatementUrl", "presignedCsvStatementUrl"):
        url = httpx.URL(job[key])
        assert str(url).startswith(f"{BASE}/_statements/")
        for param in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature"):
            assert param in url.params
    json_only = api.get(job_path(mocked, mocked.seeded.jobs["complete_json"])).json()
    assert "presignedJsonStatementUrl" in json_only
    assert "presignedCsvStatementUrl" not in json_only


def test_statement_documents_match_the_bill(api: httpx.Client, mocked: Sandbox) -> None:
    job = api.get(job_path(mocked, mocked.seeded.jobs["complete_csv"])).json()
    bill = mocked.bill(job["billId"])
    document = httpx.get(job["presignedJsonStatementUrl"])
    assert document.status_code == 200
    assert document.headers["content-type"] == "application/json"
    statement = document.json()
    assert statement["billId"] == bill["id"]
    assert statement["billTotal"] == bill["billTotal"]
    assert [item["id"] for item in statement["lineItems"]] == [item["id"] for item in bill["lineItems"]]
    csv = httpx.get(job["presignedCsvStatementUrl"])
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    rows = csv.text.strip().split("\r\n")
    assert rows[0].startswith("lineItemId,lineItemType")
    assert len(rows) == len(bill["lineItems"]) + 1


def test_meter_filter_limits_usage_items(api: httpx.Client, mocked: Sandbox) -> None:
    job = api.get(job_path(mocked, mocked.seeded.jobs["complete_json"])).json()
    statement = httpx.get(job["presignedJsonStatementUrl"]).json()
    meters = set(job["filters"]["meterIds"])
    assert {item["meterId"] for item in statement["lineItems"] if "meterId" in item} == meters
    bill = mocked.bill(job["billId"])
    assert len(statement["lineItems"]) < len(bill["lineItems"])


def test_presigned_urls_expire_like_s3_and_are_renewed(api: httpx.Client, mocked: Sandbox, clock: ManualClock) -> None:
    path = job_path(mocked, mocked.seeded.jobs["complete_csv"])
    job = api.get(path).json()
    clock.advance(3_600)
    expired = httpx.get(job["presignedJsonStatementUrl"])
    assert expired.status_code == 403
    assert "Request has expired" in expired.text
    assert expired.headers["content-type"] == "application/xml"
    renewed = api.get(path).json()
    assert renewed["version"] == job["version"] + 1
    assert renewed["statementJobStatus"] == "COMPLETE"
    assert renewed["presignedJsonStatementUrl"] != job["presignedJsonStatementUrl"]
    assert httpx.get(renewed["presignedJsonStatementUrl"]).status_code == 200
    assert api.get(path).json() == renewed


def test_tampered_and_unknown_statement_urls(api: httpx.Client, mocked: Sandbox) -> None:
    job = api.get(job_path(mocked, mocked.seeded.jobs["complete_csv"])).json()
    tampered = job["presignedJsonStatementUrl"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(tampered).status_code == 403
    assert httpx.get(job["presignedJsonStatementUrl"].split("?")[0]).status_code == 403
    signature = httpx.URL(job["presignedJsonStatementUrl"]).params["X-Amz-Signature"]
    logged = [r.query for r in mocked.requests if r.path.startswith("/_statements/")]
    assert len(logged) == 2
    assert not any(signature in query for query in logged)
    assert "X-Amz-Signature=REDACTED" in logged[0]


def test_rate_limit_is_50_per_second_per_org(clock: ManualClock) -> None:
    sandbox = Sandbox(clock=clock, large_bill_line_items=10)
    with mock_m3ter(sandbox):
        headers = {"Authorization": f"Bearer {sandbox.issue_token()}"}
        statuses = [httpx.get(BASE + bill_path(sandbox), headers=headers).status_code for _ in range(51)]
        assert statuses[:50] == [200] * 50
        assert statuses[50] == 429
        limited = httpx.get(BASE + bill_path(sandbox), headers=headers)
        assert_error(limited, 429)
        assert "retry-after" not in limited.headers
        other = {"Authorization": f"Bearer {sandbox.issue_token(sandbox.seeded.other_org_id)}"}
        other_bill = (
            f"{BASE}/organizations/{sandbox.seeded.other_org_id}/bills/{sandbox.seeded.bills['arrears_monthly']}"
        )
        assert httpx.get(other_bill, headers=other).status_code == 200
        clock.advance(1)
        assert httpx.get(BASE + bill_path(sandbox), headers=headers).status_code == 200


def test_rate_limit_can_be_disabled(mocked: Sandbox, api: httpx.Client) -> None:
    assert mocked.rate_limit is None
    assert {api.get(bill_path(mocked)).status_code for _ in range(120)} == {200}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("additional=a%2Cb", ("a", "b")),
        ("additional=a,b", ("a", "b")),
        ("additional=", ()),
        ("additional=a&additional=b", ("a", "b")),
        ("", None),
    ],
)
def test_additional_is_accepted_comma_joined(
    api: httpx.Client, mocked: Sandbox, query: str, expected: tuple[str, ...] | None
) -> None:
    assert parse_additional(query) == expected
    response = api.get(f"{bill_path(mocked)}?{query}")
    assert response.status_code == 200
    assert mocked.requests[-1].additional == expected


def test_async_clients_work_too(mocked: Sandbox) -> None:
    import asyncio

    async def fetch() -> int:
        headers = {"Authorization": f"Bearer {mocked.issue_token()}"}
        async with httpx.AsyncClient(base_url=BASE, headers=headers) as client:
            return (await client.get(bill_path(mocked))).status_code

    assert asyncio.run(fetch()) == 200


def test_other_hosts_are_not_mocked(sandbox: Sandbox) -> None:
    import respx

    # By default they go to the network (test_mocking.py, against a loopback server); without pass-through
    # they fail, naming what the mock intercepts.
    with mock_m3ter(sandbox, pass_through=False), pytest.raises(respx.models.AllMockedAssertionError, match=BASE):
        httpx.get("https://example.invalid/")


def test_source_ip_limit_is_20000_per_rolling_5_minutes() -> None:
    from m3ter_contract.sandbox import ManualClock, Request, Sandbox

    clock = ManualClock()
    sandbox = Sandbox(clock=clock, rate_limit=50, ip_rate_limit=120)
    sandbox.rate_limit = 10_000  # keep the per-org limit out of the way
    assert Sandbox(clock=ManualClock()).ip_rate_limit == 20_000
    token = sandbox.issue_token()
    bill = sandbox.bill_ids[0]

    def get(client: str) -> int:
        request = Request(
            "GET",
            f"/organizations/{sandbox.org_id}/bills/{bill}",
            headers={"authorization": f"Bearer {token}"},
            client=client,
        )
        return sandbox.handle(request).status

    for _ in range(4):  # 4 x 30 = 120 requests spread over the window
        assert {get("10.0.0.1") for _ in range(30)} == {200}
        clock.advance(60)
    assert get("10.0.0.1") == 429  # 120 within the last 5 minutes
    assert get("10.0.0.2") == 200  # another source is not affected
    clock.advance(61)  # the first 30 fall out of the rolling window
    assert {get("10.0.0.1") for _ in range(30)} == {200}
    assert get("10.0.0.1") == 429


def test_disabling_the_rate_limit_disables_the_ip_limit_too() -> None:
    from m3ter_contract.sandbox import ManualClock, Sandbox

    assert Sandbox(clock=ManualClock(), rate_limit=None).ip_rate_limit is None


def test_a_token_call_refused_with_429_issues_no_token() -> None:
    with mock_m3ter(clock=ManualClock(), rate_limit=2, max_tokens_per_user=2) as sandbox:
        creds = sandbox.credentials

        def token_call() -> httpx.Response:
            return httpx.post(
                f"{BASE}/oauth/token",
                auth=(creds.api_key, creds.api_secret),
                data={"grant_type": "client_credentials"},
            )

        first = token_call()
        assert first.status_code == 200
        assert [token_call().status_code for _ in range(3)] == [200, 429, 429]
        assert len(sandbox.state.tokens) == 2  # the refused calls stored nothing
        sandbox.advance(1)  # a new rate-limit window
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        assert httpx.get(f"{BASE}{bill_path(sandbox)}", headers=headers).status_code == 200  # never retired
