"""Open string enums: m3ter adds enum values over time, and a client must not fail on them."""

from __future__ import annotations

import enum
import threading
from typing import Any

# Unknown values are cached so each is one object; past this many, new ones are not cached (a server
# sending a new value in every response must not grow memory without bound).
MAX_UNKNOWN = 1024

_unknown_lock = threading.Lock()
_unknown_members: dict[tuple[type[OpenStrEnum], str], OpenStrEnum] = {}


class OpenStrEnum(enum.StrEnum):
    """A ``str`` enum that accepts values it does not list.

    ``LineItemType("NEW_KIND")`` returns a pseudo-member whose ``value`` is ``"NEW_KIND"`` and whose
    ``is_known`` is False. It compares equal to its string, encodes back to the same string and is
    the same object each time the same value is seen (for the first ``MAX_UNKNOWN`` unknown values; later
    ones are equal to each other but not cached). Known members behave like any ``StrEnum``.
    """

    @classmethod
    def _missing_(cls, value: object) -> OpenStrEnum | None:
        if not isinstance(value, str):
            return None
        key = (cls, value)
        member = _unknown_members.get(key)
        if member is None:
            with _unknown_lock:
                member = _unknown_members.get(key)
                if member is None:
                    member = str.__new__(cls, value)
                    member._value_ = value
                    member._name_ = value
                    if len(_unknown_members) < MAX_UNKNOWN:
                        _unknown_members[key] = member
        return member

    @property
    def is_known(self) -> bool:
        """True when the value is one the spec lists; False for a value m3ter added later."""
        return type(self).__members__.get(self._name_) is self

    def __str__(self) -> str:
        return str(self._value_)

    def __repr__(self) -> str:
        if self.is_known:
            return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"
        return f"<{type(self).__name__} unknown value {self._value_!r}>"

    def __reduce_ex__(self, proto: Any) -> Any:
        return type(self), (self._value_,)


__all__ = ["OpenStrEnum"]
