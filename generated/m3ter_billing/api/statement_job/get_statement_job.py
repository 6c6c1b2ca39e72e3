from typing import Any

import httpx

from ..._exceptions import error_for_response
from ..._paths import path_segment
from ...client import Client
from ...models.statement_job_response import StatementJobResponse
from ...types import Response


def _get_kwargs(
    org_id: str,
    id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/organizations/{org_id}/statementjobs/{id}".format(
            org_id=path_segment("orgId", org_id),
            id=path_segment("id", id),
        ),
    }

    return _kwargs


def _parse_response(response: httpx.Response) -> StatementJobResponse:
    """Return the parsed 200 body, or raise the typed error for any other status."""
    if response.status_code == 200:
        return StatementJobResponse.from_json(response.content, status_code=response.status_code)
    raise error_for_response(response)


def _build_response(response: httpx.Response) -> Response[StatementJobResponse]:
    return Response(
        status_code=response.status_code,
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(response),
    )


def sync_detailed(
    org_id: str,
    id: str,
    *,
    client: Client,
) -> Response[StatementJobResponse]:
    """Get StatementJob: the parsed body with the status code and headers.

    Raises:
        m3ter_billing.M3terError: a typed subclass for every non-success status, transport failure or
            body that does not match the spec.
    """
    kwargs = _get_kwargs(
        org_id=org_id,
        id=id,
    )
    response = client.get_httpx_client().request(**kwargs)
    return _build_response(response)


def sync(
    org_id: str,
    id: str,
    *,
    client: Client,
) -> StatementJobResponse:
    """Get StatementJob.

    Retrieves the details of a specific StatementJob using its UUID.

    Use this call to obtain the time-bound pre-signed download URL for the generated Bill Statement if
    the initial Create StatementJob returned a response showing the `statementJobStatus` not yet
    complete and as `PENDING` or `RUNNING`. While the job is PENDING or RUNNING the response carries no
    pre-signed URL.
    """
    return sync_detailed(
        org_id=org_id,
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    org_id: str,
    id: str,
    *,
    client: Client,
) -> Response[StatementJobResponse]:
    """Async twin of :func:`sync_detailed`."""
    kwargs = _get_kwargs(
        org_id=org_id,
        id=id,
    )
    response = await client.get_async_httpx_client().request(**kwargs)
    return _build_response(response)


async def asyncio(
    org_id: str,
    id: str,
    *,
    client: Client,
) -> StatementJobResponse:
    """Async twin of :func:`sync`."""
    return (
        await asyncio_detailed(
            org_id=org_id,
            id=id,
            client=client,
        )
    ).parsed
