"""Shared types: the UNSET marker (msgspec's own, so absent fields stay absent on the wire) and Response."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from msgspec import UNSET, UnsetType

Unset = UnsetType
"""The type of :data:`UNSET`: a field that was absent from the JSON body."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Response(Generic[T]):
    """A successful response: the status code, headers, raw body and the parsed model."""

    status_code: int
    content: bytes
    headers: Mapping[str, str]
    parsed: T

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, parsed={self.parsed!r})"


__all__ = ["UNSET", "Response", "Unset"]
