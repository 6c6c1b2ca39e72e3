"""The entry points: ``M3terBilling`` and ``AsyncM3terBilling``, the same surface sync and async.

    client = M3terBilling()                      # or M3terBilling(org_id=..., api_key=..., api_secret=...)
    bill = client.bills.retrieve("bill-id", additional=["lineItems"])
    job = client.statement_jobs.wait("job-id")
    statement = client.statement_jobs.download(job)

Both build an httpx client with OAuth2 client credentials (``_auth``), default timeouts (60 s, 5 s to
connect), retries (``_retry``) and bounded bodies (``_transport``), and send the requests the generated
endpoint modules in ``api/`` describe, each with the limits of its call (``_deadline``).
"""

from __future__ import annotations

import asyncio
import copy
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx
from httpx_retries import Retry

from ._arguments import check_headers, check_query, check_text
from ._auth import TOKEN_PATH, ClientCredentialsAuth, FixedTokenAuth
from ._backends import HttpBackend, async_network_transport, checked_backend, opening_network
from ._deadline import (
    DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_RESPONSE_BYTES,
    Deadline,
    as_timeout,
    check_max_response_bytes,
    check_seconds,
    derived_total,
)
from ._direct import DirectSender
from ._exceptions import (
    APITimeoutError,
    ConfigurationError,
    EventLoopMismatchError,
    InvalidParameterError,
    translated_transport_errors,
)
from ._http_client import adopted_timeout, borrowed
from ._network import PINNED, Pinned, network_stack
from ._redact import install_log_redaction
from ._retry import DEFAULT_MAX_RETRIES, MAX_RETRIES, M3terRetry, backoff_budget, retry_stack, retrying_transport
from ._settings import DEFAULT_TIMEOUT, Settings
from ._statement_urls import Resolver, check_statement_url, system_resolver
from ._statements import Fetch, Plan, Retrieve, Sleep, Statement, statement_plan, wait_plan
from ._transport import ACCEPT_ENCODING, THIRD_PARTY
from ._version import __version__
from .api.bill import get_bill
from .api.statement_job import get_statement_job
from .client import Client
from .models.bill_response import BillResponse
from .models.statement_job_response import StatementJobResponse
from .types import UNSET, AsyncResponse, Response, Unset

DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_MAX_POLL_INTERVAL = 30.0


def _additional(additional: Sequence[str] | str | None) -> list[str] | Unset:
    if additional is None:
        return UNSET
    values = [additional] if isinstance(additional, str) else list(additional)
    for value in values:
        if not isinstance(value, str):
            raise InvalidParameterError(f"additional must hold strings, got {type(value).__name__}")
        check_text("additional", value)
    return values


class NotGiven:
    """The default of an option left as the client (or ``with_options``) set it."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN = NotGiven()
TimeoutArg = httpx.Timeout | float | None
Headers = Mapping[str, str]
Query = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class _Options:
    """The per-call options of one client view (``with_options`` makes another view, same pool)."""

    timeout: httpx.Timeout
    total_timeout: float | NotGiven | None  # NOT_GIVEN: derived from the timeout and the retries
    retry: Retry
    max_response_bytes: int
    allow_private_statement_hosts: bool
    default_headers: Headers = field(default_factory=dict)
    default_query: Query = field(default_factory=dict)
    _total: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = self.total_timeout
        if isinstance(total, NotGiven):
            total = derived_total(self.timeout, self.retry.total, backoff_budget(self.retry))
        object.__setattr__(self, "_total", total)

    def total(self) -> float | None:
        return self._total

    def within(self, seconds: float | None) -> _Options:
        """These options for a call that must also be done within ``seconds`` (None: no further bound)."""
        if seconds is None or (self._total is not None and self._total <= seconds):
            return self
        return replace(self, total_timeout=seconds)

    def api_request(
        self, kwargs: dict[str, Any], extra_headers: Headers | None, extra_query: Query | None
    ) -> dict[str, Any]:
        """An API call's request with the default and per-call headers and query parameters (per-call win;
        the operation's own parameters win over the defaults). Never applied to statement downloads."""
        if not (extra_headers or extra_query or self.default_headers or self.default_query):
            return kwargs  # the common call: nothing to add
        check_headers("extra_headers", extra_headers)
        check_query("extra_query", extra_query)
        headers = {**self.default_headers, **(extra_headers or {})}
        query = {**self.default_query, **kwargs.get("params", {}), **(extra_query or {})}
        if headers:
            kwargs = {**kwargs, "headers": headers}
        if query:
            kwargs = {**kwargs, "params": query}
        return kwargs

    def request_args(self, timeout: TimeoutArg | NotGiven = NOT_GIVEN) -> dict[str, Any]:
        """The ``timeout`` and ``extensions`` of one call's request: its deadline starts now."""
        options = self if isinstance(timeout, NotGiven) else replace(self, timeout=as_timeout(timeout))
        deadline = Deadline.after(options.total())
        retry = options.retry.until(deadline) if isinstance(options.retry, M3terRetry) else options.retry
        return {
            "timeout": options.timeout,
            "extensions": {"retry": retry, DEADLINE: deadline, MAX_RESPONSE_BYTES: options.max_response_bytes},
        }

    def changed(
        self,
        *,
        timeout: TimeoutArg | NotGiven,
        total_timeout: float | NotGiven | None,
        max_retries: int | NotGiven,
        max_response_bytes: int | NotGiven,
        allow_private_statement_hosts: bool | NotGiven,
        default_headers: Headers | None = None,
        default_query: Query | None = None,
    ) -> _Options:
        options = self
        check_headers("default_headers", default_headers)
        check_query("default_query", default_query)
        if default_headers is not None:
            options = replace(options, default_headers={**options.default_headers, **default_headers})
        if default_query is not None:
            options = replace(options, default_query={**options.default_query, **default_query})
        if not isinstance(timeout, NotGiven):
            options = replace(options, timeout=as_timeout(timeout))
        if not isinstance(total_timeout, NotGiven):
            options = replace(options, total_timeout=check_seconds("total_timeout", total_timeout, allow_none=True))
        if not isinstance(max_retries, NotGiven):
            options = replace(options, retry=options.retry.copy_with(total=_check_retries(max_retries)))
        if not isinstance(max_response_bytes, NotGiven):
            options = replace(options, max_response_bytes=check_max_response_bytes(max_response_bytes))
        if not isinstance(allow_private_statement_hosts, NotGiven):
            options = replace(options, allow_private_statement_hosts=_check_flag(allow_private_statement_hosts))
        return options


def _check_retries(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_RETRIES:
        return value
    shown = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else "a larger int"
    raise InvalidParameterError(f"max_retries must be an int from 0 to {MAX_RETRIES}, got {shown}")


def _check_flag(value: object) -> bool:
    """``allow_private_statement_hosts``: True or False only (``bool("false")`` is True, and this flag
    opens the statement downloads to loopback and private addresses)."""
    if isinstance(value, bool):
        return value
    raise InvalidParameterError(f"allow_private_statement_hosts must be True or False, got {value!r}")


def _borrow(
    http_client: httpx.Client | httpx.AsyncClient, transport: Any, *, is_async: bool, trust_env: bool
) -> tuple[Any, dict[str, Any]]:
    if transport is not None:
        raise ConfigurationError("pass transport= or http_client=, not both")
    return borrowed(http_client, is_async=is_async, trust_env=trust_env)


def _initial_timeout(timeout: TimeoutArg | NotGiven, http_client: object) -> TimeoutArg:
    """A constructor's ``timeout``: the one given; else the ``http_client``'s own when it set one other than
    httpx's default that bounds every phase (``adopted_timeout``); else ours (60 s, 5 s to connect)."""
    if not isinstance(timeout, NotGiven):
        return timeout
    adopted = adopted_timeout(http_client)
    return DEFAULT_TIMEOUT if adopted is None else adopted


def _with_carried(options: dict[str, Any], carried: dict[str, Any]) -> dict[str, Any]:
    """The httpx client options with what a caller's ``http_client`` brings (its headers beneath ours)."""
    if not carried:
        return options
    headers = httpx.Headers(carried["headers"])
    headers.update(options["headers"])
    return {**options, "event_hooks": carried["event_hooks"], "headers": headers}


_View = TypeVar("_View", bound="_Base")
_T = TypeVar("_T")


class _Base:
    """What both facades share: settings, auth, the httpx client options and the per-call options."""

    def __init__(
        self,
        *,
        base_url: str | httpx.URL | None,
        org_id: str | None,
        api_key: str | None,
        api_secret: str | None,
        token: str | None,
        default_headers: Headers | None,
        default_query: Query | None,
        timeout: TimeoutArg,
        total_timeout: float | NotGiven | None,
        max_retries: int,
        retry: Retry | None,
        max_response_bytes: int,
        allow_private_statement_hosts: bool,
        custom_transport: bool,
        resolve_host: Resolver | None,
        clock: Callable[[], float],
        policy: Callable[[int], Retry],
    ) -> None:
        install_log_redaction()
        self._settings = Settings.resolve(
            base_url=str(base_url) if isinstance(base_url, httpx.URL) else base_url,  # the official SDK takes both
            org_id=org_id,
            api_key=api_key,
            api_secret=api_secret,
            token=token,
        )
        self._clock = clock
        self._options = _Options(
            timeout=as_timeout(timeout),
            total_timeout=NOT_GIVEN,
            retry=retry if retry is not None else policy(_check_retries(max_retries)),
            max_response_bytes=check_max_response_bytes(max_response_bytes),
            allow_private_statement_hosts=_check_flag(allow_private_statement_hosts),
        ).changed(
            timeout=NOT_GIVEN,
            total_timeout=total_timeout,
            max_retries=NOT_GIVEN,
            max_response_bytes=NOT_GIVEN,
            allow_private_statement_hosts=NOT_GIVEN,
            default_headers=default_headers,
            default_query=default_query,
        )
        self._resolve_host = resolve_host if resolve_host is not None or custom_transport else system_resolver
        policy_ = self._options.retry
        self.auth: ClientCredentialsAuth | FixedTokenAuth
        if self._settings.token is not None:
            self.auth = FixedTokenAuth(self._settings.token.reveal())
        else:
            self.auth = ClientCredentialsAuth(
                token_url=self._settings.base_url + TOKEN_PATH,
                api_key=self._settings.api_key,
                api_secret=self._settings.api_secret.reveal(),
                clock=clock,
                # Asking for a client-credentials token again is harmless, so its POST is retried like a GET.
                token_retry=policy_.copy_with(allowed_methods=["POST"]),
                default_total=self._options.total(),
            )
        self._client_options: dict[str, Any] = {
            "base_url": self._settings.base_url,
            "auth": self.auth,
            "timeout": self._options.timeout,
            "headers": {
                "User-Agent": f"m3ter-billing/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            "follow_redirects": False,
        }

    @property
    def org_id(self) -> str:
        return self._settings.org_id

    @property
    def base_url(self) -> str:
        """The base URL, a ``str`` without a trailing slash (the official SDK's is an ``httpx.URL``)."""
        return self._settings.base_url

    @property
    def timeout(self) -> httpx.Timeout:
        """The socket timeouts of each request (``with_options`` or ``timeout=`` on a call change them)."""
        return self._options.timeout

    @property
    def total_timeout(self) -> float | None:
        """Seconds one call may take in all (token request, retries, waits, body); None: no limit."""
        return self._options.total()

    @property
    def max_retries(self) -> int:
        return self._options.retry.total

    @property
    def max_response_bytes(self) -> int:
        return self._options.max_response_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, org_id={self.org_id!r})"

    def _view(
        self: _View,
        *,
        timeout: TimeoutArg | NotGiven,
        total_timeout: float | NotGiven | None,
        max_retries: int | NotGiven,
        max_response_bytes: int | NotGiven,
        allow_private_statement_hosts: bool | NotGiven,
        default_headers: Headers | None,
        default_query: Query | None,
    ) -> _View:
        view = copy.copy(self)
        view._options = self._options.changed(
            timeout=timeout,
            total_timeout=total_timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            allow_private_statement_hosts=allow_private_statement_hosts,
            default_headers=default_headers,
            default_query=default_query,
        )
        view._attach()
        return view

    def _attach(self) -> None:
        raise NotImplementedError

    def _check_statement_url(self, url: str) -> Pinned | None:
        """Vet ``url`` (``StatementURLRefusedError`` when refused); the addresses its connection must use."""
        addresses = check_statement_url(
            url,
            base_url=self.base_url,
            allow_private=self._options.allow_private_statement_hosts,
            resolve=self._resolve_host,
        )
        return None if addresses is None else Pinned.of(url, addresses)

    def _poll(self, action: Retrieve) -> tuple[dict[str, Any], _Options]:
        """The request and the options of a plan's job read: the client's, bounded by ``action.within``."""
        return _job_kwargs(self, action.job_id, None, None, None), self._options.within(action.within)

    def _statement_request(self, url: str, pinned: Pinned | None, timeout: TimeoutArg | NotGiven) -> httpx.Request:
        """The request of a statement download, to send with ``auth=None``: the client's own headers alone
        (the presigned host is a third party: not the headers of a caller's ``http_client`` or of
        ``default_headers``, nor the cookies of the API host; the cookies it sets are not kept either), the
        call's limits, and the vetted addresses the client's own network connects to (``_network``)."""
        args = self._options.request_args(timeout)
        extensions = args["extensions"]
        extensions["timeout"] = args["timeout"].as_dict()
        extensions[THIRD_PARTY] = True
        if pinned is not None:
            extensions[PINNED] = pinned
        return httpx.Request("GET", url, headers=self._client_options["headers"], extensions=extensions)


class M3terBilling(_Base):
    """The m3ter billing client (sync). Thread-safe; close it, or use it as a context manager.

    Arguments not given are read from ``M3TER_BASE_URL`` (default ``https://api.m3ter.com``),
    ``M3TER_ORG_ID``, ``M3TER_API_KEY`` and ``M3TER_API_SECRET``.

    - ``timeout``: socket timeouts of each request (seconds or an ``httpx.Timeout``; default 60 s, 5 s
      to connect, or the ``http_client``'s own timeout when it set one other than httpx's default, with no
      phase unbounded).
      ``total_timeout``: seconds one call may take in all, token request, retries, waits and body
      included (default: the longest socket timeout once per attempt plus the longest backoff, 181.5 s).
    - ``max_retries`` (default 2) or ``retry`` (an ``httpx_retries.Retry``; default :class:`M3terRetry`).
    - ``max_response_bytes``: the largest (decompressed) body accepted, default 256 MiB.
    - ``trust_env``: honour ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` as httpx does
      (default True).
    - ``allow_private_statement_hosts``: let ``statement_jobs.download()`` fetch from loopback, private
      and link-local addresses (default False). ``resolve_host(host, port)`` resolves statement hosts
      for that check (default ``socket.getaddrinfo``).
    - ``transport`` replaces httpx's network transport (a respx mock, the sandbox, ``httpx.MockTransport``);
      the size limit, deadline and retries wrap it, proxies do not apply.

    The official SDK's switches: ``token`` (or ``M3TER_API_TOKEN``) is a fixed bearer token (no token
    requests; ``api_key``/``api_secret`` not needed; 401/403 raise at once); ``default_headers`` and
    ``default_query`` go on every API request (not on statement downloads); ``http_client`` is a caller's
    ``httpx.Client`` whose transport, headers (on API requests only) and event hooks are kept under our
    auth, retries, limits and redaction, with the proxies httpx read from the environment for it (dropped
    with ``trust_env=False``); ``ConfigurationError`` when it has its own auth, or a ``proxy=`` or
    ``mounts=`` of its own (see ``_http_client``).
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL | None = None,
        org_id: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        default_headers: Headers | None = None,
        default_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: Retry | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        trust_env: bool = True,
        allow_private_statement_hosts: bool = False,
        resolve_host: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            base_url=base_url,
            org_id=org_id,
            api_key=api_key,
            api_secret=api_secret,
            token=token,
            default_headers=default_headers,
            default_query=default_query,
            timeout=_initial_timeout(timeout, http_client),
            total_timeout=total_timeout,
            max_retries=max_retries,
            retry=retry,
            max_response_bytes=max_response_bytes,
            allow_private_statement_hosts=allow_private_statement_hosts,
            custom_transport=transport is not None,
            resolve_host=resolve_host,
            clock=clock,
            policy=lambda total: M3terRetry(total, sleep=sleep),
        )
        self._sleep = sleep
        carried: dict[str, Any] = {}
        if http_client is not None:
            transport, carried = _borrow(http_client, transport, is_async=False, trust_env=trust_env)
        self.http = httpx.Client(
            transport=retrying_transport(
                transport if transport is not None else network_stack(is_async=False, trust_env=trust_env),
                self._options.retry,
                is_async=False,
                trust_env=trust_env,
                max_response_bytes=self._options.max_response_bytes,
            ),
            trust_env=trust_env,
            **_with_carried(self._client_options, carried),
        )
        self._client = Client(httpx_client=self.http)
        self._attach()

    def _attach(self) -> None:
        self.bills = Bills(self)
        self.statement_jobs = StatementJobs(self)
        self.statements = Statements(self.statement_jobs)
        self.with_raw_response = WithRawResponse(self.bills.with_raw_response, self.statement_jobs.with_raw_response)

    def with_options(
        self,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        max_response_bytes: int | NotGiven = NOT_GIVEN,
        allow_private_statement_hosts: bool | NotGiven = NOT_GIVEN,
        default_headers: Headers | None = None,
        default_query: Query | None = None,
    ) -> M3terBilling:
        """This client with other per-call options; it shares the connection pool and the token cache
        (closing either closes both). ``default_headers`` / ``default_query`` are added to the client's."""
        return self._view(
            timeout=timeout,
            total_timeout=total_timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            allow_private_statement_hosts=allow_private_statement_hosts,
            default_headers=default_headers,
            default_query=default_query,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> M3terBilling:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(
        self, kwargs: dict[str, Any], timeout: TimeoutArg | NotGiven, options: _Options | None = None
    ) -> httpx.Response:
        with translated_transport_errors():
            return self.http.request(**kwargs, **(options or self._options).request_args(timeout))

    def _run(self, plan: Plan[_T], timeout: TimeoutArg | NotGiven = NOT_GIVEN) -> _T:
        """Carry out a statement plan with blocking I/O. A call that times out is thrown into the plan,
        which tells the wait's timeout from the client's."""
        result: object = None
        error: APITimeoutError | None = None
        try:
            while True:
                action = plan.send(result) if error is None else plan.throw(error)
                result = error = None
                try:
                    if isinstance(action, Retrieve):
                        kwargs, options = self._poll(action)
                        result = get_statement_job._parse_response(self._send(kwargs, timeout, options))
                    elif isinstance(action, Fetch):
                        pinned = self._check_statement_url(action.url)
                        with translated_transport_errors():
                            result = self.http.send(self._statement_request(action.url, pinned, timeout), auth=None)
                    elif isinstance(action, Sleep):
                        self._sleep(action.seconds)
                except APITimeoutError as exc:
                    error = exc
        except StopIteration as stop:
            return cast(_T, stop.value)  # the plan's return value: a _T by its type


async def _closed_with_the_loop(http: httpx.AsyncClient) -> AsyncIterator[None]:
    """Suspended for as long as the loop runs; ``loop.shutdown_asyncgens()`` (``asyncio.run`` and
    ``asyncio.Runner`` call it before closing the loop) resumes it, and it closes ``http`` on its own loop."""
    try:
        yield
    finally:
        await http.aclose()


class _AsyncHttp:
    """The ``httpx.AsyncClient`` of an async client and the event loop its connections belong to; shared
    by every ``with_options`` view. Its connections are closed when that loop shuts down, and the next
    loop gets a fresh client."""

    def __init__(self, build: Callable[[], tuple[httpx.AsyncClient, DirectSender | None]]) -> None:
        self._build = build
        self.client, self.direct = build()
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._closer: AsyncIterator[None] | None = None
        self.closed = False  # by ``close()``: for good, on every loop (a loop shutting down only ends its own)

    def serves_running_loop(self) -> bool:
        """Whether ``client`` is already the one of the running loop (no await needed to get it)."""
        loop = self._loop
        return loop is not None and loop() is asyncio.get_running_loop()

    async def for_running_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        first = self._loop() if self._loop is not None else None
        if first is not loop:
            if self.closed:
                return self.client  # closed: sending through it raises "the client has been closed"
            if first is not None and not first.is_closed():
                raise EventLoopMismatchError(
                    "this AsyncM3terBilling is in use on another event loop that is still open; "
                    "create one client per event loop"
                )
            if self._loop is not None:
                # The connections belonged to a loop that has closed: they cannot be used from this one.
                self.client, self.direct = self._build()
            self._loop = weakref.ref(loop)
            self._closer = _closed_with_the_loop(self.client)
            await anext(self._closer)
        return self.client


class AsyncM3terBilling(_Base):
    """The m3ter billing client (asyncio): the same surface and options as :class:`M3terBilling`, awaited.

    Use it from one event loop at a time: its connections are closed when that loop shuts down (as
    ``asyncio.run`` does) and the next loop gets new ones; while the first loop is still open, another
    loop gets :class:`EventLoopMismatchError`.

    ``http_backend="aiohttp"`` sends requests over aiohttp (the ``m3ter-billing[aiohttp]`` extra; several
    times the throughput under fan-out) with every other behaviour unchanged; ``"httpx"`` is the default.
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL | None = None,
        org_id: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Headers | None = None,
        default_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: Retry | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        trust_env: bool = True,
        allow_private_statement_hosts: bool = False,
        resolve_host: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        http_backend: HttpBackend = "httpx",
    ) -> None:
        backend = checked_backend(http_backend)
        super().__init__(
            base_url=base_url,
            org_id=org_id,
            api_key=api_key,
            api_secret=api_secret,
            token=token,
            default_headers=default_headers,
            default_query=default_query,
            timeout=_initial_timeout(timeout, http_client),
            total_timeout=total_timeout,
            max_retries=max_retries,
            retry=retry,
            max_response_bytes=max_response_bytes,
            allow_private_statement_hosts=allow_private_statement_hosts,
            custom_transport=transport is not None,
            resolve_host=resolve_host,
            clock=clock,
            policy=lambda total: M3terRetry(total, async_sleep=sleep),
        )
        self._sleep = sleep
        policy = self._options.retry
        limit = self._options.max_response_bytes
        carried: dict[str, Any] = {}
        if http_client is not None:
            transport, carried = _borrow(http_client, transport, is_async=True, trust_env=trust_env)
        client_options = _with_carried(self._client_options, carried)

        def build() -> tuple[httpx.AsyncClient, DirectSender | None]:
            network = transport if transport is not None else async_network_transport(backend, trust_env=trust_env)
            stack, bounded = retry_stack(network, policy, max_response_bytes=limit)
            client = httpx.AsyncClient(transport=stack, trust_env=trust_env, **client_options)
            if backend != "aiohttp":
                return client, None
            # The aiohttp backend sends API calls below httpx.AsyncClient, through the same stack (_direct),
            # and a plain retrieve() through the quick lane when the network is its own aiohttp transport.
            opening = opening_network(network) if transport is None else None
            return client, DirectSender(client, stack, None if opening is None else (bounded, opening))

        self._http = _AsyncHttp(build)
        self._attach()

    @property
    def http(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through (a new one after the event loop changed)."""
        return self._http.client

    @property
    def _client(self) -> Client:
        return Client(async_httpx_client=self._http.client)

    def _attach(self) -> None:
        self.bills = AsyncBills(self)
        self.statement_jobs = AsyncStatementJobs(self)
        self.statements = AsyncStatements(self.statement_jobs)
        self.with_raw_response = AsyncWithRawResponse(
            self.bills.with_raw_response, self.statement_jobs.with_raw_response
        )

    def with_options(
        self,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        total_timeout: float | NotGiven | None = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        max_response_bytes: int | NotGiven = NOT_GIVEN,
        allow_private_statement_hosts: bool | NotGiven = NOT_GIVEN,
        default_headers: Headers | None = None,
        default_query: Query | None = None,
    ) -> AsyncM3terBilling:
        """This client with other per-call options; see :meth:`M3terBilling.with_options`."""
        return self._view(
            timeout=timeout,
            total_timeout=total_timeout,
            max_retries=max_retries,
            max_response_bytes=max_response_bytes,
            allow_private_statement_hosts=allow_private_statement_hosts,
            default_headers=default_headers,
            default_query=default_query,
        )

    async def close(self) -> None:
        self._http.closed = True
        await self._http.client.aclose()

    async def __aenter__(self) -> AsyncM3terBilling:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _send(
        self, kwargs: dict[str, Any], timeout: TimeoutArg | NotGiven, options: _Options | None = None
    ) -> httpx.Response:
        http = self._http.client if self._http.serves_running_loop() else await self._http.for_running_loop()
        direct = self._http.direct
        args = (options or self._options).request_args(timeout)
        with translated_transport_errors():
            if direct is not None and direct.handles(kwargs):
                return await direct.request(**kwargs, **args)
            return await http.request(**kwargs, **args)

    async def _retrieve(
        self,
        kwargs: dict[str, Any],
        timeout: TimeoutArg | NotGiven,
        success: int,
        decode: Callable[[bytes], _T],
        options: _Options | None = None,
    ) -> _T | httpx.Response:
        """:meth:`_send` for a call whose ``success`` body ``decode`` makes into its result: on the aiohttp
        backend that result itself when the call ends so (``DirectSender.retrieve``), else the response."""
        direct = self._http.direct
        if direct is None or not direct.handles(kwargs):
            return await self._send(kwargs, timeout, options)
        if not self._http.serves_running_loop():
            await self._http.for_running_loop()
            direct = self._http.direct
            assert direct is not None
        with translated_transport_errors():
            return await direct.retrieve(success, decode, kwargs, (options or self._options).request_args(timeout))

    async def _run(self, plan: Plan[_T], timeout: TimeoutArg | NotGiven = NOT_GIVEN) -> _T:
        """Carry out a statement plan with asyncio I/O (a call that times out is thrown into the plan, as
        the sync client's ``_run`` does)."""
        result: object = None
        error: APITimeoutError | None = None
        try:
            while True:
                action = plan.send(result) if error is None else plan.throw(error)
                result = error = None
                try:
                    if isinstance(action, Retrieve):
                        kwargs, options = self._poll(action)
                        success, decode = get_statement_job.SUCCESS_STATUS, get_statement_job._parse_success
                        got = await self._retrieve(kwargs, timeout, success, decode, options)
                        result = get_statement_job._parse_response(got) if isinstance(got, httpx.Response) else got
                    elif isinstance(action, Fetch):
                        if self._resolve_host is None:
                            pinned = self._check_statement_url(action.url)
                        else:  # resolving a name blocks: not on the event loop
                            pinned = await asyncio.to_thread(self._check_statement_url, action.url)
                        http = await self._http.for_running_loop()
                        with translated_transport_errors():
                            request = self._statement_request(action.url, pinned, timeout)
                            result = await http.send(request, auth=None)
                    elif isinstance(action, Sleep):
                        await self._sleep(action.seconds)
                except APITimeoutError as exc:
                    error = exc
        except StopIteration as stop:
            return cast(_T, stop.value)  # the plan's return value: a _T by its type


# -- bills ----------------------------------------------------------------------------------------------
# Every call takes the official SDK's per-call arguments: ``org_id`` (instead of the client's),
# ``extra_headers`` and ``extra_query`` (added to this request only; they win over the defaults) and
# ``timeout`` (replaces the client's socket timeouts, and the total derived from them, for this call).


def _org(owner: _Base, org_id: str | None) -> str:
    """A call's org id: the client's when not given (None); any other value as given, so that an empty one
    is refused (``InvalidParameterError``, before anything is sent) rather than replaced by the client's."""
    return owner.org_id if org_id is None else org_id


def _bill_kwargs(
    owner: _Base,
    id: str,
    org_id: str | None,
    additional: Sequence[str] | str | None,
    extra_headers: Headers | None,
    extra_query: Query | None,
) -> dict[str, Any]:
    kwargs = get_bill._get_kwargs(org_id=_org(owner, org_id), id=id, additional=_additional(additional))
    return owner._options.api_request(kwargs, extra_headers, extra_query)


def _job_kwargs(
    owner: _Base, id: str, org_id: str | None, extra_headers: Headers | None, extra_query: Query | None
) -> dict[str, Any]:
    kwargs = get_statement_job._get_kwargs(org_id=_org(owner, org_id), id=id)
    return owner._options.api_request(kwargs, extra_headers, extra_query)


class BillsWithRawResponse:
    """``client.bills.with_raw_response``: the same calls, returning :class:`Response` (status, headers)."""

    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner

    def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        additional: Sequence[str] | str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> Response[BillResponse]:
        owner = self._owner
        kwargs = _bill_kwargs(owner, id, org_id, additional, extra_headers, extra_query)
        return get_bill._build_response(owner._send(kwargs, timeout))


class Bills:
    """``client.bills``: Retrieve Bill."""

    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = BillsWithRawResponse(owner)

    def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        additional: Sequence[str] | str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> BillResponse:
        """Retrieve the Bill ``id`` (GET /organizations/{orgId}/bills/{id}).

        ``additional`` names additional fields to include; it is sent as one comma-joined value.
        ``timeout`` replaces the client's socket timeouts for this call (and the total timeout derived
        from them).
        """
        # The model alone: what the raw response's ``parsed`` would be, without building the response.
        kwargs = _bill_kwargs(self._owner, id, org_id, additional, extra_headers, extra_query)
        return get_bill._parse_response(self._owner._send(kwargs, timeout))


class AsyncBillsWithRawResponse:
    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner

    async def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        additional: Sequence[str] | str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> AsyncResponse[BillResponse]:
        owner = self._owner
        kwargs = _bill_kwargs(owner, id, org_id, additional, extra_headers, extra_query)
        return AsyncResponse.of(get_bill._build_response(await owner._send(kwargs, timeout)))


class AsyncBills:
    """``client.bills`` (async): Retrieve Bill."""

    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = AsyncBillsWithRawResponse(owner)

    async def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        additional: Sequence[str] | str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> BillResponse:
        """Retrieve the Bill ``id``; see :meth:`Bills.retrieve`."""
        kwargs = _bill_kwargs(self._owner, id, org_id, additional, extra_headers, extra_query)
        got = await self._owner._retrieve(kwargs, timeout, get_bill.SUCCESS_STATUS, get_bill._parse_success)
        return get_bill._parse_response(got) if isinstance(got, httpx.Response) else got


# -- statement jobs ---------------------------------------------------------------------------------------


class StatementJobsWithRawResponse:
    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner

    def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> Response[StatementJobResponse]:
        owner = self._owner
        kwargs = _job_kwargs(owner, id, org_id, extra_headers, extra_query)
        return get_statement_job._build_response(owner._send(kwargs, timeout))


class StatementJobs:
    """``client.statement_jobs`` (also ``client.statements.statement_jobs``): Get StatementJob, waiting for
    a job, downloading its statement."""

    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = StatementJobsWithRawResponse(owner)

    def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> StatementJobResponse:
        """Get the StatementJob ``id`` (GET /organizations/{orgId}/statementjobs/{id})."""
        kwargs = _job_kwargs(self._owner, id, org_id, extra_headers, extra_query)
        return get_statement_job._parse_response(self._owner._send(kwargs, timeout))

    def wait(
        self,
        id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> StatementJobResponse:
        """Poll until the job is COMPLETE, FAILED or CANCELLED and return it.

        ``timeout`` here is the whole wait, polls included: each poll is a call with the client's own limits
        that must also be done within the time the wait has left (at least ``POLL_GRACE``, 10 s, so that
        ``timeout=0`` still checks the job once).

        Raises:
            StatementJobTimeoutError: still PENDING or RUNNING after ``timeout`` seconds, or a poll could not
                finish within the time the wait had left (a ``Retry-After`` longer than that, say).
            APITimeoutError: a poll ran out of the client's own limits with time left to wait.
            ResponseValidationError: a poll was answered with another job (``path`` ``$.id``).
        """
        plan = wait_plan(
            id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            clock=self._owner._clock,
        )
        return self._owner._run(plan)

    def download(self, job: StatementJobResponse | str, *, timeout: TimeoutArg | NotGiven = NOT_GIVEN) -> Statement:
        """Download a COMPLETE job's JSON statement and, with ``includeCsvFormat``, its CSV statement.

        A job given by its id is fetched first. A presigned URL that has expired makes the helper re-fetch
        the job (the id given, or the job's own) once for fresh URLs. Each GET is a call with the client's
        limits (``timeout`` replaces its socket timeouts); the URLs are vetted first and fetched without
        credentials.

        Raises:
            InvalidParameterError: ``job`` is neither a ``StatementJobResponse`` nor a job id string (before
                anything is sent).
            ResponseValidationError: a job fetched is another job than the one named (``path`` ``$.id``).
            StatementNotReadyError: the job is not COMPLETE or has no URL for a format.
            StatementURLRefusedError: a URL is not one the client fetches (``reason`` says why).
            StatementDownloadError: the download failed even with fresh URLs.
        """
        return self._owner._run(statement_plan(job), timeout)


class AsyncStatementJobsWithRawResponse:
    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner

    async def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> AsyncResponse[StatementJobResponse]:
        owner = self._owner
        kwargs = _job_kwargs(owner, id, org_id, extra_headers, extra_query)
        return AsyncResponse.of(get_statement_job._build_response(await owner._send(kwargs, timeout)))


class AsyncStatementJobs:
    """``client.statement_jobs`` (async): the same calls as :class:`StatementJobs`, awaited."""

    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = AsyncStatementJobsWithRawResponse(owner)

    async def retrieve(
        self,
        id: str,
        *,
        org_id: str | None = None,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> StatementJobResponse:
        """Get the StatementJob ``id``; see :meth:`StatementJobs.retrieve`."""
        kwargs = _job_kwargs(self._owner, id, org_id, extra_headers, extra_query)
        got = await self._owner._retrieve(
            kwargs, timeout, get_statement_job.SUCCESS_STATUS, get_statement_job._parse_success
        )
        return get_statement_job._parse_response(got) if isinstance(got, httpx.Response) else got

    async def wait(
        self,
        id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> StatementJobResponse:
        """Poll until the job is terminal; see :meth:`StatementJobs.wait`."""
        plan = wait_plan(
            id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            clock=self._owner._clock,
        )
        return await self._owner._run(plan)

    async def download(
        self, job: StatementJobResponse | str, *, timeout: TimeoutArg | NotGiven = NOT_GIVEN
    ) -> Statement:
        """Download the job's statements; see :meth:`StatementJobs.download`."""
        return await self._owner._run(statement_plan(job), timeout)


# -- the official SDK's namespaces --------------------------------------------------------------------------


class StatementsWithRawResponse:
    """``client.with_raw_response.statements`` and ``client.statements.with_raw_response``."""

    def __init__(self, statement_jobs: StatementJobsWithRawResponse) -> None:
        self.statement_jobs = statement_jobs


class AsyncStatementsWithRawResponse:
    """``client.with_raw_response.statements`` and ``client.statements.with_raw_response`` (async)."""

    def __init__(self, statement_jobs: AsyncStatementJobsWithRawResponse) -> None:
        self.statement_jobs = statement_jobs


class Statements:
    """``client.statements``: the official SDK's path to the same :class:`StatementJobs`
    (``client.statements.statement_jobs is client.statement_jobs``)."""

    def __init__(self, statement_jobs: StatementJobs) -> None:
        self.statement_jobs = statement_jobs
        self.with_raw_response = StatementsWithRawResponse(statement_jobs.with_raw_response)


class AsyncStatements:
    """``client.statements`` (async); see :class:`Statements`."""

    def __init__(self, statement_jobs: AsyncStatementJobs) -> None:
        self.statement_jobs = statement_jobs
        self.with_raw_response = AsyncStatementsWithRawResponse(statement_jobs.with_raw_response)


class WithRawResponse:
    """``client.with_raw_response``: ``.bills.retrieve(...)`` and ``.statements.statement_jobs.retrieve(...)``
    returning :class:`Response`, as in the official SDK."""

    def __init__(self, bills: BillsWithRawResponse, statement_jobs: StatementJobsWithRawResponse) -> None:
        self.bills = bills
        self.statement_jobs = statement_jobs
        self.statements = StatementsWithRawResponse(statement_jobs)


class AsyncWithRawResponse:
    """``client.with_raw_response`` (async); see :class:`WithRawResponse`."""

    def __init__(self, bills: AsyncBillsWithRawResponse, statement_jobs: AsyncStatementJobsWithRawResponse) -> None:
        self.bills = bills
        self.statement_jobs = statement_jobs
        self.statements = AsyncStatementsWithRawResponse(statement_jobs)


__all__ = ["NOT_GIVEN", "AsyncM3terBilling", "M3terBilling", "NotGiven"]
