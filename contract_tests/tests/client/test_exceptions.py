"""Every outcome has its typed exception, carrying the status and the server's message."""

from __future__ import annotations

import base64
import pickle
from typing import Any

import httpx
import pytest
import respx
from m3ter_billing import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    M3terError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    StatementURLRefusedError,
    UnexpectedStatusError,
    UnprocessableEntityError,
    errors,
)
from m3ter_billing.types import Response

from .support import API_KEY, API_SECRET, BASE_URL, ORG_ID, TOKEN, AsyncClientFactory, ClientFactory

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"
JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"

CASES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (413, UnexpectedStatusError),
    (418, UnexpectedStatusError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
    (504, InternalServerError),
    (520, InternalServerError),
]


@pytest.mark.parametrize(("status", "cls"), CASES)
def test_status_maps_to_its_exception_with_status_and_message(
    router: respx.Router, make_client: ClientFactory, status: int, cls: type[APIStatusError]
) -> None:
    router.get(BILL_PATH).respond(status, json={"message": f"server says {status}"}, headers={"X-Request-Id": "r1"})
    with pytest.raises(cls) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    err = info.value
    assert type(err) is cls
    assert isinstance(err, APIStatusError)
    assert isinstance(err, M3terError)
    assert err.status_code == status
    assert err.message == f"server says {status}"
    assert f"server says {status}" in str(err)
    assert str(status) in str(err)
    assert err.headers["x-request-id"] == "r1"


@pytest.mark.parametrize(("status", "cls"), [(403, PermissionDeniedError), (520, InternalServerError)])
async def test_async_statement_job_errors_are_typed(
    router: respx.Router, make_async_client: AsyncClientFactory, status: int, cls: type[APIStatusError]
) -> None:
    router.get(JOB_PATH).respond(status, json={"message": "nope"})
    with pytest.raises(cls) as info:
        await make_async_client(max_retries=0).statement_jobs.retrieve("job-1")
    assert info.value.status_code == status
    assert info.value.message == "nope"


def test_non_iana_status_is_named_non_standard(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(520, json={"message": "Unknown Error"})
    with pytest.raises(APIStatusError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.status_code == 520
    assert "520" in str(info.value)
    assert "Unknown Error" in str(info.value)


def test_error_body_that_is_not_m3ter_shaped_is_quoted(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(502, text="<html>Bad Gateway</html>")
    with pytest.raises(InternalServerError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.message == "<html>Bad Gateway</html>"


def test_empty_error_body(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(404)
    with pytest.raises(NotFoundError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.message == "(empty body)"


def test_long_error_body_is_truncated(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(400, text="x" * 10_000)
    with pytest.raises(BadRequestError) as info:
        make_client().bills.retrieve("bill-1")
    assert len(info.value.message) < 400


def test_rate_limit_error_exposes_retry_after(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(429, json={"message": "slow down"}, headers={"Retry-After": "12"})
    with pytest.raises(RateLimitError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"id": "bill-1", "billTotal": "lots"}', "$.billTotal"),
        (b'{"id": "bill-1", "dtCreated": "not a date"}', "$.dtCreated"),
        (b'{"id": "bill-1", "lineItems": [{"description": "d"}]}', "$.lineItems[0]"),
        (b'{"version": 1}', "$"),
        (b"<html>", "$"),
    ],
)
def test_2xx_with_unparseable_body_names_the_field_path(
    router: respx.Router, make_client: ClientFactory, body: bytes, path: str
) -> None:
    router.get(BILL_PATH).respond(200, content=body, headers={"Content-Type": "application/json"})
    with pytest.raises(ResponseValidationError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == 200
    assert info.value.path == path
    assert path in str(info.value)
    assert info.value.body == body


def test_an_error_body_over_a_mib_is_kept_as_text_not_decoded(router: respx.Router, make_client: ClientFactory) -> None:
    # Decoded, "[[],[],...]" takes some 30 times its size in memory: past 1 MiB the body stays text.
    hostile = b"[" + b"[]," * 400_000 + b"[]]"
    small = b'{"message": "Bad request", "errors": [[], []]}'
    router.get(BILL_PATH).mock(side_effect=[httpx.Response(400, content=hostile), httpx.Response(400, content=small)])
    client = make_client()
    with pytest.raises(BadRequestError) as info:
        client.bills.retrieve("bill-1")
    assert info.value.body == hostile.decode()
    assert info.value.message == hostile[:300].decode() + "..."
    with pytest.raises(BadRequestError) as info:
        client.bills.retrieve("bill-1")
    assert info.value.body == {"message": "Bad request", "errors": [[], []]}
    assert info.value.message == "Bad request"


def test_connection_error_is_typed(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).mock(side_effect=httpx.RemoteProtocolError("peer closed"))
    with pytest.raises(APIConnectionError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert "peer closed" in str(info.value)
    assert info.value.method == "GET"
    assert info.value.url.endswith(BILL_PATH)
    assert not hasattr(info.value, "request")  # an httpx.Request's repr would show the full URL


# -- connection errors built the official SDK's way (user code, test doubles) ------------------------------

SIGNED = "https://robot:pa55w0rd-secret@statements.example/job-1.json?X-Amz-Signature=sig-secret-99&part=2"


def _signed_request() -> httpx.Request:
    return httpx.Request("GET", SIGNED, headers={"Authorization": f"Bearer {TOKEN}"})


def _official_style_errors(request: httpx.Request) -> dict[str, APIConnectionError]:
    return {
        "APITimeoutError(request)": APITimeoutError(request),
        "APITimeoutError(request=)": APITimeoutError(request=request),
        "APIConnectionError(request=)": APIConnectionError(request=request),
        "APIConnectionError(message=, request=)": APIConnectionError(message="link down", request=request),
    }


def test_connection_errors_take_the_official_sdks_arguments() -> None:
    errors = _official_style_errors(_signed_request())
    # The official SDK's default messages.
    assert [error.message for error in errors.values()] == [
        "Request timed out.",
        "Request timed out.",
        "Connection error.",
        "link down",
    ]
    assert [str(error) for error in errors.values()] == [error.message for error in errors.values()]
    for name, error in errors.items():
        assert isinstance(error, APITimeoutError) == name.startswith("APITimeoutError"), name
        assert error.method == "GET", name
        # The request's URL, without its password or its signature; its other query values stay.
        assert error.url == "https://[REDACTED]@statements.example/job-1.json?X-Amz-Signature=[REDACTED]&part=2"
        assert error.body is None
    assert APITimeoutError(_signed_request()).total_timeout is None
    assert APITimeoutError(_signed_request(), total_timeout=2.5).total_timeout == 2.5


def test_a_connection_error_built_from_a_request_keeps_none_of_its_secrets() -> None:
    request = _signed_request()
    for name, error in _official_style_errors(request).items():
        shown = [str(error), repr(error), error.url, *map(repr, error.args), *map(repr, vars(error).values())]
        for secret in ("pa55w0rd-secret", "sig-secret-99", TOKEN):
            assert not any(secret in text for text in shown), (name, secret)
        # Nothing on the error is the request (its repr shows the URL, its headers the token).
        assert not any(isinstance(value, httpx.Request) for value in vars(error).values()), name
        with pytest.raises(AttributeError):
            error.request  # type: ignore[attr-defined]  # noqa: B018
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"  # the caller's request is left alone


def test_the_earlier_connection_error_arguments_still_work() -> None:
    connection = APIConnectionError("connection failed: ConnectError", method="GET", url=SIGNED)
    assert (str(connection), connection.method) == ("connection failed: ConnectError", "GET")
    assert "sig-secret-99" not in connection.url
    assert "pa55w0rd-secret" not in connection.url
    timeout = APITimeoutError("the total timeout (3.0 s) ran out", method="GET", url=SIGNED, total_timeout=3.0)
    assert (str(timeout), timeout.total_timeout) == ("the total timeout (3.0 s) ran out", 3.0)
    assert (APIConnectionError().message, APITimeoutError().message) == ("Connection error.", "Request timed out.")
    assert (APIConnectionError().method, APIConnectionError().url) == ("", "")


def test_a_connection_error_refuses_ambiguous_arguments() -> None:
    request = _signed_request()
    with pytest.raises(TypeError, match="request= or method= and url=, not both"):
        APIConnectionError(request=request, url="https://other.example/")
    with pytest.raises(TypeError, match="request= or method= and url=, not both"):
        APITimeoutError(request=request, method="POST")
    with pytest.raises(TypeError, match="the request twice"):
        APITimeoutError(request, request=request)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"request= must be an httpx\.Request, not str"):
        APIConnectionError(request=SIGNED)  # type: ignore[arg-type]


def test_a_test_double_raising_the_official_way_reaches_the_caller(
    router: respx.Router, make_client: ClientFactory
) -> None:
    """A mocked route that raises ``APITimeoutError(request=request)``, as a team's own test double might."""

    def timing_out(request: httpx.Request) -> httpx.Response:
        raise APITimeoutError(request=request)

    route = router.get(BILL_PATH).mock(side_effect=timing_out)
    with pytest.raises(APITimeoutError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert (info.value.message, info.value.method) == ("Request timed out.", "GET")
    assert info.value.url == f"{BASE_URL}{BILL_PATH}"
    assert route.call_count == 1


def test_errors_module_reexports_every_exception() -> None:
    for name in ("APIStatusError", "NotFoundError", "ResponseValidationError", "StatementDownloadError"):
        assert hasattr(errors, name)


def test_exception_hierarchy() -> None:
    from m3ter_billing import (
        ConfigurationError,
        InvalidParameterError,
        StatementDownloadError,
        StatementError,
        StatementJobTimeoutError,
        StatementNotReadyError,
    )

    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InvalidParameterError, ValueError)
    for statement_error in (StatementDownloadError, StatementJobTimeoutError, StatementNotReadyError):
        assert issubclass(statement_error, StatementError)
    for cls in (APIConnectionError, APIStatusError, ResponseValidationError, StatementError, ConfigurationError):
        assert issubclass(cls, M3terError)


def _not_gzip(request: httpx.Request) -> httpx.Response:
    """A body that does not match its Content-Encoding (decoded only when the client reads it)."""
    return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"this is not gzip"))


def test_undecodable_response_encoding_is_typed(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).mock(side_effect=_not_gzip)
    with pytest.raises(M3terError) as info:
        make_client().bills.retrieve("bill-1")
    assert isinstance(info.value, APIConnectionError)


async def test_async_undecodable_response_encoding_is_typed(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(BILL_PATH).mock(side_effect=_not_gzip)
    with pytest.raises(APIConnectionError):
        await make_async_client().bills.retrieve("bill-1")


def test_error_body_nested_too_deeply_still_gives_the_typed_error(
    router: respx.Router, make_client: ClientFactory
) -> None:
    from m3ter_billing import NotFoundError

    router.get(BILL_PATH).respond(404, content=b"[" * 200_000)
    with pytest.raises(NotFoundError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.message.startswith("[[[")


def test_validation_error_carries_the_request_and_the_whole_response(
    router: respx.Router, make_client: ClientFactory
) -> None:
    body = b'{"id": "bill-1", "version": "one", "pad": "' + b"x" * 70_000 + b'"}'
    router.get(BILL_PATH).respond(200, content=body, headers={"Content-Type": "application/json", "X-Request-Id": "r9"})
    with pytest.raises(ResponseValidationError) as info:
        make_client().bills.retrieve("bill-1")
    err = info.value
    assert (err.method, err.url) == ("GET", f"{BASE_URL}{BILL_PATH}")
    assert err.headers["x-request-id"] == "r9"
    assert err.response is not None
    assert err.response.status_code == 200
    assert err.response.content == body  # the whole body; err.body keeps its first 64 KiB
    assert err.body == body[: len(err.body)]
    assert len(err.body) < err.body_length == len(body)


async def test_async_validation_error_carries_the_request(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(JOB_PATH).respond(200, content=b'{"id": 1}')
    with pytest.raises(ResponseValidationError) as info:
        await make_async_client().statement_jobs.retrieve("job-1")
    assert (info.value.method, info.value.url) == ("GET", f"{BASE_URL}{JOB_PATH}")
    assert info.value.response is not None
    assert info.value.response.content == b'{"id": 1}'


def test_a_bad_token_response_names_the_token_request_and_keeps_its_body_out(
    router: respx.Router, make_client: ClientFactory
) -> None:
    secret = "token-in-a-bad-body-do-not-leak"
    router.routes["token"].respond(200, json={"access_token": secret, "expires_in": "soon"}, headers={"X-Id": "t1"})
    with pytest.raises(ResponseValidationError) as info:
        make_client().bills.retrieve("bill-1")
    err = info.value
    assert (err.method, err.url) == ("POST", f"{BASE_URL}/oauth/token")
    assert err.headers["x-id"] == "t1"
    assert err.response is None
    assert err.body == b""
    assert secret not in f"{err!s} {err!r} {err.message}"


def test_status_error_names_its_request(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(404, json={"message": "no such bill"})
    with pytest.raises(NotFoundError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert (info.value.method, info.value.url) == ("GET", f"{BASE_URL}{BILL_PATH}")
    assert info.value.response is not None
    assert info.value.response.status_code == 404


@pytest.mark.parametrize("status", [200, 500])
def test_a_signature_in_the_request_url_never_reaches_the_error(
    router: respx.Router, make_client: ClientFactory, status: int
) -> None:
    signature = "sig-do-not-leak-4b5c"
    router.get(BILL_PATH).respond(status, json={"id": 1})
    with pytest.raises((ResponseValidationError, APIStatusError)) as info:
        make_client(max_retries=0).bills.retrieve("bill-1", extra_query={"X-Amz-Signature": signature})
    err = info.value
    assert isinstance(err, ResponseValidationError | APIStatusError)
    assert err.url.startswith(f"{BASE_URL}{BILL_PATH}?")
    assert "X-Amz-Signature=" in err.url
    for text in (err.url, str(err), repr(err), err.message):
        assert signature not in text


def _credentials_left(err: APIStatusError | ResponseValidationError) -> list[str]:
    """The credential header values of the request kept on ``err.response``."""
    assert err.response is not None
    headers = err.response.request.headers
    return [headers[name] for name in ("authorization", "proxy-authorization") if name in headers]


@pytest.mark.parametrize("status", [200, 404])
def test_an_errors_response_keeps_no_bearer_token(
    router: respx.Router, make_client: ClientFactory, status: int
) -> None:
    router.get(BILL_PATH).respond(status, json={"id": 1})  # 200: a body that does not match
    with pytest.raises((ResponseValidationError, NotFoundError)) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert isinstance(info.value, ResponseValidationError | APIStatusError)
    assert _credentials_left(info.value) == ["[REDACTED]"]
    assert router.routes["token"].call_count == 1  # the request itself was sent with the token
    assert info.value.response is not None
    assert info.value.response.request.url == f"{BASE_URL}{BILL_PATH}"


async def test_an_async_errors_response_keeps_no_bearer_token(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(JOB_PATH).respond(404, json={"message": "no such job"})
    client = make_async_client(max_retries=0)
    for _ in range(2):  # the second call: the aiohttp backend's quick lane, with the token cached
        with pytest.raises(NotFoundError) as info:
            await client.statement_jobs.retrieve("job-1")
        assert _credentials_left(info.value) == ["[REDACTED]"]


def test_a_token_request_error_keeps_no_basic_credentials(router: respx.Router, make_client: ClientFactory) -> None:
    router.routes["token"].respond(500, json={"message": "down"})
    with pytest.raises(APIStatusError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.status_code == 500
    assert _credentials_left(info.value) == ["[REDACTED]"]


# -- nothing of the token exchange reachable from a response handed out -------------------------------------

CREDENTIALS = (TOKEN, API_SECRET, base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode())


def _credentials_reachable(response: httpx.Response | None) -> list[str]:
    """Every credential a program can read from ``response``: the headers of its request, of the request
    ``next_request`` would send, and of each earlier response in its ``history`` (with their bodies)."""
    assert response is not None
    texts: list[str] = []
    for kept in [response, *response.history]:
        requests = [kept.request] + ([kept.next_request] if kept.next_request is not None else [])
        texts += [str(dict(request.headers)) for request in requests]
        texts.append(kept.content.decode("latin-1"))
    return [secret for secret in CREDENTIALS for text in texts if secret in text]


def _scenario(router: respx.Router, name: str) -> None:
    token = router.routes["token"]
    if name == "refused-token":  # every token makes the API answer 401: a refresh, then the error
        router.get(BILL_PATH).respond(401, json={"message": "expired"})
    elif name == "api-redirect":  # httpx builds next_request (with the bearer token) for a same-origin 3xx
        router.get(BILL_PATH).respond(307, headers={"Location": f"{BASE_URL}/elsewhere"})
    elif name == "token-redirect":  # ... and for the token request, with the HTTP Basic credentials
        token.respond(307, headers={"Location": f"{BASE_URL}/oauth/token2"})
    else:  # "not-found": the first call fetches a token, then fails
        router.get(BILL_PATH).respond(404, json={"message": "Not found"})


SCENARIOS = ["not-found", "refused-token", "api-redirect", "token-redirect"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_failed_calls_response_keeps_nothing_of_the_token_exchange(
    router: respx.Router, make_client: ClientFactory, scenario: str
) -> None:
    _scenario(router, scenario)
    with pytest.raises(APIStatusError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.response.history == []
    assert _credentials_reachable(info.value.response) == []
    if "redirect" in scenario:  # still there, to be read: where it points
        assert info.value.response.next_request is not None
        assert info.value.response.next_request.headers["authorization"] == "[REDACTED]"


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_an_async_failed_calls_response_keeps_nothing_of_the_token_exchange(
    router: respx.Router, make_async_client: AsyncClientFactory, scenario: str
) -> None:
    _scenario(router, scenario)
    client = make_async_client(max_retries=0)
    for _ in range(2):  # the second call: the aiohttp backend's quick lane, with a token cached (if any)
        with pytest.raises(APIStatusError) as info:
            await client.bills.retrieve("bill-1")
        assert info.value.response.history == []
        assert _credentials_reachable(info.value.response) == []


def test_a_raw_response_keeps_nothing_of_the_token_exchange(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json={"id": "bill-1"})
    client = make_client()
    raw: Response[Any] = client.bills.with_raw_response.retrieve("bill-1")  # the call that fetched the token
    assert raw.parse().id == "bill-1"
    assert raw.http_response is not None
    assert raw.http_request is not None
    assert raw.http_response.history == []
    assert raw.http_request.headers["authorization"] == "[REDACTED]"
    assert _credentials_reachable(raw.http_response) == []


async def test_an_async_raw_response_keeps_nothing_of_the_token_exchange(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(BILL_PATH).respond(200, json={"id": "bill-1"})
    client = make_async_client()
    for _ in range(2):
        raw = await client.bills.with_raw_response.retrieve("bill-1")
        assert (await raw.parse()).id == "bill-1"
        assert _credentials_reachable(raw.http_response) == []


@pytest.mark.parametrize("location", ["http://xn--/", "https://xn--ls8h.la/x"])
def test_a_redirect_to_a_host_that_is_no_idna_name_is_a_typed_error(
    router: respx.Router, make_client: ClientFactory, location: str
) -> None:
    router.get(BILL_PATH).respond(302, headers={"Location": location})
    with pytest.raises(APIConnectionError, match="invalid URL"):
        make_client(max_retries=0).bills.retrieve("bill-1")


async def test_an_async_redirect_to_a_host_that_is_no_idna_name_is_a_typed_error(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(BILL_PATH).respond(302, headers={"Location": "http://xn--/"})
    with pytest.raises(APIConnectionError, match="invalid URL"):
        await make_async_client(max_retries=0).bills.retrieve("bill-1")


# -- every error survives pickling (a ProcessPoolExecutor worker hands its exception back pickled) --------


def _status_error(router: respx.Router, make_client: ClientFactory) -> M3terError:
    router.get(BILL_PATH).respond(404, json={"message": "Not found"}, headers={"X-Trace": "t-1"})
    with pytest.raises(NotFoundError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    return info.value


def _validation_error(router: respx.Router, make_client: ClientFactory) -> M3terError:
    router.get(BILL_PATH).respond(200, json={"id": 1})
    with pytest.raises(ResponseValidationError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    return info.value


def _too_large(router: respx.Router, make_client: ClientFactory) -> M3terError:
    router.get(BILL_PATH).respond(200, content=b" " * 2048)
    with pytest.raises(ResponseTooLargeError) as info:
        make_client(max_retries=0, max_response_bytes=1024).bills.retrieve("bill-1")
    return info.value


def _refused_url(router: respx.Router, make_client: ClientFactory) -> M3terError:
    return StatementURLRefusedError("a loopback address", url="https://127.0.0.1/x?X-Amz-Signature=abc")


def _connection(router: respx.Router, make_client: ClientFactory) -> M3terError:
    return APITimeoutError(httpx.Request("GET", f"{BASE_URL}{BILL_PATH}"), total_timeout=3.0)


@pytest.mark.parametrize("make", [_status_error, _validation_error, _too_large, _refused_url, _connection])
def test_every_error_survives_pickling(router: respx.Router, make_client: ClientFactory, make: Any) -> None:
    error = make(router, make_client)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    for name, value in vars(error).items():
        kept = getattr(copy, name)
        if isinstance(value, httpx.Response):
            assert (kept.status_code, kept.content, kept.request.url) == (
                value.status_code,
                value.content,
                value.request.url,
            )
        else:
            assert kept == value, name
