"""Open enums: m3ter adds enum values over time, and a client must not fail on them."""

from __future__ import annotations

import enum
import threading
from typing import Any

# Unknown values are cached so each is one object; past this many, new ones are not cached (a server
# sending a new value in every response must not grow memory without bound).
MAX_UNKNOWN = 1024

_unknown_lock = threading.Lock()
_unknown_members: dict[tuple[type, object], Any] = {}


class _Open:
    """What an open enum adds to its ``Enum`` base: pseudo-members for values it does not list."""

    _value_: Any
    _name_: str

    @classmethod
    def _missing_(cls, value: object) -> Any:
        member_type: Any = cls._member_type_  # type: ignore[attr-defined]
        # A JSON string for a string enum, a JSON integer (not a boolean) for an integer enum.
        if not isinstance(value, member_type) or isinstance(value, bool):
            return None
        key = (cls, value)
        member = _unknown_members.get(key)
        if member is None:
            with _unknown_lock:
                member = _unknown_members.get(key)
                if member is None:
                    member = member_type.__new__(cls, value)
                    member._value_ = value
                    member._name_ = str(value)
                    if len(_unknown_members) < MAX_UNKNOWN:
                        _unknown_members[key] = member
        return member

    @property
    def is_known(self) -> bool:
        """True when the value is one the spec lists; False for a value m3ter added later."""
        return type(self).__members__.get(self._name_) is self  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return str(self._value_)

    def __repr__(self) -> str:
        if self.is_known:
            return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"
        return f"<{type(self).__name__} unknown value {self._value_!r}>"

    def __reduce_ex__(self, proto: Any) -> Any:
        return type(self), (self._value_,)


class OpenStrEnum(_Open, enum.StrEnum):
    """A ``str`` enum that accepts values it does not list.

    ``LineItemType("NEW_KIND")`` returns a pseudo-member whose ``value`` is ``"NEW_KIND"`` and whose
    ``is_known`` is False. It compares equal to its string, encodes back to the same string and is
    the same object each time the same value is seen (for the first ``MAX_UNKNOWN`` unknown values; later
    ones are equal to each other but not cached). Known members behave like any ``StrEnum``.
    """


class OpenIntEnum(_Open, enum.IntEnum):
    """An ``int`` enum that accepts values it does not list, as :class:`OpenStrEnum` does strings.

    For a schema of ``type: integer`` with an ``enum`` (none in the m3ter spec today); a boolean is refused.
    """


__all__ = ["OpenIntEnum", "OpenStrEnum"]
