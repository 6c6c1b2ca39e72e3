"""What drift looked like: the shape of a field the spec lacks, and the enum values it lacks, kept as evidence.

The drift rules (``drift.unknown-field`` and ``schema.enum``, in :mod:`.schema`) attach a :class:`Drift` to
each finding: where in the spec document the change belongs (a JSON pointer as a tuple, e.g.
``("components", "schemas", "BillLineItem")``) and, for a field, a :class:`Sketch` of the value seen. A
sketch keeps types, string formats and the nesting of objects and arrays, never a value. The judge merges
every sketch of one field into a :class:`DriftLog` (every read and every array item, not only the first one a
finding keeps), and ``m3ter-conformance --suggest-overlay`` turns the log into an OpenAPI Overlay.

Merging is conservative: an integer and a number make a number; a value seen as null too becomes nullable;
two other types make no type at all (any value); a string format is kept only when every string had it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import FormatChecker

Pointer = tuple[str, ...]
"""A place in the spec document, as the keys leading to it: ``("components", "schemas", "BillResponse")``."""

MAX_DEPTH = 16
"""Nesting levels a sketch follows; deeper values are sketched by their type alone."""
MAX_PROPERTIES = 200
"""Members one sketched object keeps; an object with more is a free-form object (no properties listed)."""

_FORMATS = FormatChecker(formats=["date", "date-time"])
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# The formats a string can be recognised as, in the order one is chosen (they exclude each other).
FORMATS = ("date-time", "date", "uuid")


def _formats_of(text: str) -> frozenset[str]:
    found = {name for name in ("date-time", "date") if _FORMATS.conforms(text, name)}
    if _UUID.match(text):
        found.add("uuid")
    return frozenset(found)


def json_type(value: Any) -> str:
    """The JSON type of a decoded JSON value (``integer`` for a whole number, never for a boolean)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(frozen=True, slots=True)
class Sketch:
    """The shape of the values seen at one place: no value is kept.

    ``formats``: the string formats every string seen had (None: no string seen yet). ``properties``: the
    members seen in objects (None: no object seen, or one had too many members to list: then ``free`` is
    True). ``items``: every array item seen, merged (None: no item seen).
    """

    types: frozenset[str]
    formats: frozenset[str] | None = None
    properties: Mapping[str, Sketch] | None = None
    free: bool = False
    items: Sketch | None = None

    @classmethod
    def of(cls, value: Any, depth: int = 0) -> Sketch:
        """The sketch of one decoded JSON value."""
        kind = json_type(value)
        if kind == "string":
            return cls(frozenset({kind}), formats=_formats_of(value))
        if depth >= MAX_DEPTH or kind not in ("object", "array"):
            return cls(frozenset({kind}))
        if kind == "object":
            if len(value) > MAX_PROPERTIES:
                return cls(frozenset({kind}), free=True)
            return cls(
                frozenset({kind}), properties={str(k): cls.of(v, depth + 1) for k, v in value.items()}, free=False
            )
        items: Sketch | None = None
        for item in value:
            one = cls.of(item, depth + 1)
            items = one if items is None else items.merge(one)
        return cls(frozenset({kind}), items=items)

    def merge(self, other: Sketch) -> Sketch:
        """Both sketches as one: what is true of every value either saw."""
        if self.formats is None or other.formats is None:
            formats = self.formats if other.formats is None else other.formats
        else:
            formats = self.formats & other.formats
        free = self.free or other.free
        properties: Mapping[str, Sketch] | None = None
        if not free and (self.properties is not None or other.properties is not None):
            merged = dict(self.properties or {})
            for name, sketch in (other.properties or {}).items():
                merged[name] = merged[name].merge(sketch) if name in merged else sketch
            properties = None if len(merged) > MAX_PROPERTIES else merged
            free = properties is None
        if self.items is None or other.items is None:
            items = self.items if other.items is None else other.items
        else:
            items = self.items.merge(other.items)
        return Sketch(self.types | other.types, formats, properties, free, items)

    def schema(self, *, openapi: str = "3.1.0") -> dict[str, Any]:
        """The JSON Schema (as OpenAPI ``openapi`` writes it: 3.0 ``nullable``, 3.1 a ``"null"`` type) that
        every value seen satisfies, as narrow as the evidence allows."""
        kinds = set(self.types - {"null"})
        nullable = "null" in self.types
        if kinds == {"integer", "number"}:
            kinds = {"number"}
        if len(kinds) != 1:
            return {}  # only nulls, or values of different types: any value
        (kind,) = kinds
        out: dict[str, Any] = {}
        if nullable and openapi.startswith("3.0."):
            out["type"], out["nullable"] = kind, True
        else:
            out["type"] = [kind, "null"] if nullable else kind
        if kind == "string" and self.formats:
            out["format"] = next(name for name in FORMATS if name in self.formats)
        if kind == "object" and self.properties:
            out["properties"] = {
                name: self.properties[name].schema(openapi=openapi) for name in sorted(self.properties)
            }
        if kind == "array":  # no item seen: any items (generators want ``items`` on every array)
            out["items"] = {} if self.items is None else self.items.schema(openapi=openapi)
        return out

    def names(self) -> Iterator[str]:
        """Every member name the sketch holds, at any depth (for redaction)."""
        for name, sub in (self.properties or {}).items():
            yield name
            yield from sub.names()
        if self.items is not None:
            yield from self.items.names()

    def without(self, names: frozenset[str]) -> Sketch:
        """The sketch with the members called ``names`` left out, at any depth."""
        properties = (
            None
            if self.properties is None
            else {name: sub.without(names) for name, sub in self.properties.items() if name not in names}
        )
        items = None if self.items is None else self.items.without(names)
        return Sketch(self.types, self.formats, properties, self.free, items)


@dataclass(frozen=True, slots=True)
class Drift:
    """One piece of drift seen in one response: a ``field`` the spec's schema at ``pointer`` lacks (``name``,
    with the ``sketch`` of its value), or an ``enum`` value (``name``) the enum at ``pointer`` lacks.
    ``pointer`` is None when no single place of the spec document holds the schema (e.g. it is merged from
    an ``allOf``)."""

    kind: Literal["field", "enum"]
    pointer: Pointer | None
    name: str
    endpoint: str
    sketch: Sketch | None = None


@dataclass(slots=True)
class FieldDrift:
    sketch: Sketch
    seen: int = 1
    endpoints: set[str] = field(default_factory=set)


@dataclass(slots=True)
class DriftLog:
    """Every piece of drift of a run, merged by place: fields by (schema pointer, name), enum values by
    (enum pointer, value). ``unplaced``: drift no single place of the spec holds (JSON path -> count)."""

    openapi: str = "3.1.0"
    spec_title: str = ""
    spec_version: str = ""
    fields: dict[tuple[Pointer, str], FieldDrift] = field(default_factory=dict)
    enums: dict[tuple[Pointer, str], FieldDrift] = field(default_factory=dict)
    unplaced: dict[str, int] = field(default_factory=dict)

    def add(self, drift: Drift, path: str) -> None:
        """Count ``drift``, seen at the body's JSON ``path`` (array indexes as ``[*]``)."""
        if drift.pointer is None:
            self.unplaced[path] = self.unplaced.get(path, 0) + 1
            return
        key = (drift.pointer, drift.name)
        sketch = drift.sketch or Sketch(frozenset({"string"}))
        book = self.fields if drift.kind == "field" else self.enums
        known = book.get(key)
        if known is None:
            book[key] = FieldDrift(sketch, 1, {drift.endpoint})
        else:
            if drift.kind == "field" and known.sketch != sketch:
                known.sketch = known.sketch.merge(sketch)
            known.seen += 1
            known.endpoints.add(drift.endpoint)

    def merge(self, other: DriftLog) -> None:
        """Add ``other``'s drift (another organization's, judged by the same spec) to this log."""
        self.openapi, self.spec_title = other.openapi, self.spec_title or other.spec_title
        self.spec_version = self.spec_version or other.spec_version
        for mine, theirs in ((self.fields, other.fields), (self.enums, other.enums)):
            for key, seen in theirs.items():
                known = mine.get(key)
                if known is None:
                    mine[key] = FieldDrift(seen.sketch, seen.seen, set(seen.endpoints))
                else:
                    if known.sketch != seen.sketch:
                        known.sketch = known.sketch.merge(seen.sketch)
                    known.seen += seen.seen
                    known.endpoints |= seen.endpoints
        for path, count in other.unplaced.items():
            self.unplaced[path] = self.unplaced.get(path, 0) + count

    def __bool__(self) -> bool:
        return bool(self.fields or self.enums or self.unplaced)


__all__ = [
    "FORMATS",
    "MAX_DEPTH",
    "MAX_PROPERTIES",
    "Drift",
    "DriftLog",
    "FieldDrift",
    "Pointer",
    "Sketch",
    "json_type",
]
