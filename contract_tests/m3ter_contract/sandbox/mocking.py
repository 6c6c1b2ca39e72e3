"""``mock_m3ter``: a sandbox behind respx for the duration of a ``with`` block (the pytest plugin's
``m3ter_mock`` fixture uses it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .core import Sandbox
from .messages import DEFAULT_BASE_URL
from .respx_adapter import respx_router


@contextmanager
def mock_m3ter(
    sandbox: Sandbox | None = None, *, base_url: str = DEFAULT_BASE_URL, **sandbox_options: Any
) -> Iterator[Sandbox]:
    """Route httpx traffic for ``base_url`` to a sandbox (a new one built from ``sandbox_options`` unless
    given) for the duration of the ``with`` block::

        with mock_m3ter(clock=ManualClock(), rate_limit=None) as sandbox:
            creds = sandbox.credentials  # org_id, api_key, api_secret for your client
    """
    if sandbox is None:
        sandbox = Sandbox(**sandbox_options)
    elif sandbox_options:
        raise TypeError("pass either a sandbox or options to build one, not both")
    with respx_router(sandbox, base_url):
        yield sandbox


__all__ = ["mock_m3ter"]
