"""Fixtures of the client tests (defined in support.py, shared with the test modules)."""

from .support import (  # noqa: F401
    async_sleeps,
    clock,
    make_async_client,
    make_client,
    router,
    sleeps,
)
