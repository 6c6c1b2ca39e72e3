from typing import Any

import httpx

from ..._exceptions import error_for_response
from ...client import Client
from ...models.bearer_access_token_request import BearerAccessTokenRequest
from ...models.bearer_access_token_response import BearerAccessTokenResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: BearerAccessTokenRequest | BearerAccessTokenRequest | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/oauth/token",
    }

    if isinstance(body, BearerAccessTokenRequest):
        _kwargs["data"] = body.to_dict()

        headers["Content-Type"] = "application/x-www-form-urlencoded"
    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(response: httpx.Response) -> BearerAccessTokenResponse:
    """Return the parsed 200 body, or raise the typed error for any other status."""
    if response.status_code == 200:
        return BearerAccessTokenResponse.from_json(response.content, status_code=response.status_code)
    raise error_for_response(response)


def _build_response(response: httpx.Response) -> Response[BearerAccessTokenResponse]:
    return Response(
        status_code=response.status_code,
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(response),
    )


def sync_detailed(
    *,
    client: Client,
    body: BearerAccessTokenRequest | BearerAccessTokenRequest | Unset = UNSET,
) -> Response[BearerAccessTokenResponse]:
    """Get Token: the parsed body with the status code and headers.

    Raises:
        m3ter_billing.M3terError: a typed subclass for every non-success status, transport failure or
            body that does not match the spec.
    """
    kwargs = _get_kwargs(
        body=body,
    )
    response = client.get_httpx_client().request(**kwargs)
    return _build_response(response)


def sync(
    *,
    client: Client,
    body: BearerAccessTokenRequest | BearerAccessTokenRequest | Unset = UNSET,
) -> BearerAccessTokenResponse:
    """Get Token.

    OAuth 2.0 client credentials: HTTP Basic with `access key id : api secret`. The token lives
    `expires_in` seconds (18,000: 5 hours).
    """
    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: Client,
    body: BearerAccessTokenRequest | BearerAccessTokenRequest | Unset = UNSET,
) -> Response[BearerAccessTokenResponse]:
    """Async twin of :func:`sync_detailed`."""
    kwargs = _get_kwargs(
        body=body,
    )
    response = await client.get_async_httpx_client().request(**kwargs)
    return _build_response(response)


async def asyncio(
    *,
    client: Client,
    body: BearerAccessTokenRequest | BearerAccessTokenRequest | Unset = UNSET,
) -> BearerAccessTokenResponse:
    """Async twin of :func:`sync`."""
    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
