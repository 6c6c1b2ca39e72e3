"""The low-level client the generated endpoint functions take.

Most code wants :class:`m3ter_billing.M3terBilling` instead: it builds this client with OAuth2 client
credentials, timeouts and retries already set up.
"""

import httpx


class Client:
    """Holds the httpx clients the endpoint functions send with: base URL, auth, timeouts and transport
    are whatever those clients were built with."""

    def __init__(
        self,
        httpx_client: httpx.Client | None = None,
        async_httpx_client: httpx.AsyncClient | None = None,
    ) -> None:
        if httpx_client is None and async_httpx_client is None:
            raise ValueError("Client needs an httpx.Client, an httpx.AsyncClient, or both")
        self._httpx_client = httpx_client
        self._async_httpx_client = async_httpx_client

    def get_httpx_client(self) -> httpx.Client:
        if self._httpx_client is None:
            raise RuntimeError("this Client was built without a sync httpx.Client")
        return self._httpx_client

    def get_async_httpx_client(self) -> httpx.AsyncClient:
        if self._async_httpx_client is None:
            raise RuntimeError("this Client was built without an httpx.AsyncClient")
        return self._async_httpx_client

    def __repr__(self) -> str:
        return "Client()"


__all__ = ["Client"]
