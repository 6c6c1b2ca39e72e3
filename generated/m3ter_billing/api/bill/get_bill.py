from typing import Any

import httpx

from ..._exceptions import error_for_response
from ..._paths import path_segment
from ...client import Client
from ...models.bill_response import BillResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    org_id: str,
    id: str,
    *,
    additional: list[str] | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}
    if not isinstance(additional, Unset):
        params["additional"] = ",".join(additional)

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/organizations/{org_id}/bills/{id}".format(
            org_id=path_segment("orgId", org_id),
            id=path_segment("id", id),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(response: httpx.Response) -> BillResponse:
    """Return the parsed 200 body, or raise the typed error for any other status."""
    if response.status_code == 200:
        return BillResponse.from_json(response.content, status_code=response.status_code)
    raise error_for_response(response)


def _build_response(response: httpx.Response) -> Response[BillResponse]:
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
    additional: list[str] | Unset = UNSET,
) -> Response[BillResponse]:
    """Retrieve Bill: the parsed body with the status code and headers.

    Raises:
        m3ter_billing.M3terError: a typed subclass for every non-success status, transport failure or
            body that does not match the spec.
    """
    kwargs = _get_kwargs(
        org_id=org_id,
        id=id,
        additional=additional,
    )
    response = client.get_httpx_client().request(**kwargs)
    return _build_response(response)


def sync(
    org_id: str,
    id: str,
    *,
    client: Client,
    additional: list[str] | Unset = UNSET,
) -> BillResponse:
    """Retrieve Bill.

    Retrieve the Bill with the given UUID.

    This endpoint retrieves the Bill with the given unique identifier (UUID) and specific Organization.
    """
    return sync_detailed(
        org_id=org_id,
        id=id,
        client=client,
        additional=additional,
    ).parsed


async def asyncio_detailed(
    org_id: str,
    id: str,
    *,
    client: Client,
    additional: list[str] | Unset = UNSET,
) -> Response[BillResponse]:
    """Async twin of :func:`sync_detailed`."""
    kwargs = _get_kwargs(
        org_id=org_id,
        id=id,
        additional=additional,
    )
    response = await client.get_async_httpx_client().request(**kwargs)
    return _build_response(response)


async def asyncio(
    org_id: str,
    id: str,
    *,
    client: Client,
    additional: list[str] | Unset = UNSET,
) -> BillResponse:
    """Async twin of :func:`sync`."""
    return (
        await asyncio_detailed(
            org_id=org_id,
            id=id,
            client=client,
            additional=additional,
        )
    ).parsed
