"""The spec the responses are judged against, loaded once: OpenAPI 3.0.x or 3.1, the curated one or m3ter's own.

The response schemas are found through the two operations' 200 responses (``components.schemas.BillResponse``
and ``StatementJobResponse`` when a document has no such path) and read as JSON Schema Draft 2020-12: an
OpenAPI 3.0 document's ``nullable: true`` adds ``"null"`` to its ``type``, a boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` becomes the number form, the siblings of a 3.0 ``$ref`` are ignored (as 3.0 says), and
``example`` / ``examples`` values are examples, never schema (whatever keys they hold). Only the schemas the
two responses reach are read, so a whole published document (hundreds of other schemas) loads too.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .drift import Pointer
from .vocabulary import ENDPOINTS, SCHEMAS, EntityKind

SPEC_ENV = "M3TER_SPEC_PATH"
SPEC_URI = "urn:m3ter-billing-spec"
_COMPONENTS = "#/components/schemas/"
# The validation keywords the schema rules know how to name (see schema.py).
KNOWN_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "required",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minProperties",
        "maxProperties",
    }
)
# Keywords that structure a schema or annotate it: never a finding of their own.
STRUCTURE = frozenset({"properties", "items", "additionalProperties", "$ref", "allOf"})
ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "discriminator",
        "xml",
        "externalDocs",
        "$comment",
        "$schema",
        "$id",
        "contentMediaType",
        "contentEncoding",
    }
)
# Values that are data, not schema: never walked for keywords, whatever keys they hold.
_DATA = frozenset({"example", "examples", "default", "enum", "const"})


class SpecError(Exception):
    """The spec cannot be found, is not OpenAPI 3.0/3.1, or uses a keyword the rules cannot name."""


def default_spec_path() -> Path:
    """``$M3TER_SPEC_PATH``, else ``spec/m3ter-billing.yaml`` in the checkout this package lives in, else the
    copy a wheel of this package carries (``m3ter_contract/_spec/``)."""
    env = os.environ.get(SPEC_ENV)
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "spec" / "m3ter-billing.yaml"
        if candidate.is_file():
            return candidate
    bundled = Path(__file__).resolve().parent.parent / "_spec" / "m3ter-billing.yaml"
    if bundled.is_file():
        return bundled
    raise SpecError(f"spec/m3ter-billing.yaml not found above {Path(__file__).parent}; set {SPEC_ENV}")


def to_json_schema(node: Any) -> Any:
    """An OpenAPI Schema Object (3.0 or 3.1) as JSON Schema 2020-12 (see the module docstring)."""
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        return {"$ref": node["$ref"]}  # 3.0: "any properties added SHALL be ignored"; 3.1 docs here use none
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("example", "examples", "nullable"):
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [to_json_schema(part) for part in value]
        else:
            out[key] = value
    if node.get("nullable") is True and "type" in node:
        kinds = [node["type"]] if isinstance(node["type"], str) else list(node["type"])
        out["type"] = [*kinds, "null"] if "null" not in kinds else kinds
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # the OpenAPI 3.0 (draft 4) boolean form: true makes the bound exclusive, false changes nothing
        if isinstance(out.get(exclusive), bool) and out.pop(exclusive) and bound in out:
            out[exclusive] = out.pop(bound)
    return out


@dataclass(slots=True)
class Shape:
    """What an object schema allows once ``$ref`` and ``allOf`` are followed."""

    properties: dict[str, Any] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    additional: Any = None
    items: Any = None
    component: str | None = None


class Spec:
    """The loaded OpenAPI document with one Draft 2020-12 validator per response schema."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        version = str(document.get("openapi", ""))
        if not version.startswith(("3.0.", "3.1.")):
            raise SpecError(f"the spec says openapi {version or '(missing)'}; OpenAPI 3.0.x and 3.1.x are supported")
        self.document = document
        self.openapi = version
        source = document["components"]["schemas"]
        self.components: Mapping[str, Any] = {name: to_json_schema(schema) for name, schema in source.items()}
        self.responses: dict[EntityKind, str] = {kind: self._response_component(kind) for kind in EntityKind}
        reached = self.reachable(self.responses.values())
        unknown = sorted(
            keyword
            for name in reached
            for keyword in schema_keywords(self.components[name])
            if keyword not in KNOWN_KEYWORDS | STRUCTURE | ANNOTATIONS and not keyword.startswith("x-")
        )
        if unknown:
            raise SpecError(f"the spec uses keywords no schema rule names: {', '.join(sorted(set(unknown)))}")
        normalised = {**document, "components": {**document["components"], "schemas": dict(self.components)}}
        resource: Resource[Any] = Resource.from_contents(normalised, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._format_checker = FormatChecker(formats=["date", "date-time"])
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}
        self._shapes: dict[str | int, tuple[Mapping[str, Any], Shape]] = {}

    def _response_component(self, kind: EntityKind) -> str:
        method, path = ENDPOINTS[kind].split(" ", 1)
        operation = self.document.get("paths", {}).get(path, {}).get(method.lower(), {})
        success = operation.get("responses", {}).get("200", {})
        schema = success.get("content", {}).get("application/json", {}).get("schema", {})
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if isinstance(ref, str) and ref.startswith(_COMPONENTS) and ref.removeprefix(_COMPONENTS) in self.components:
            return ref.removeprefix(_COMPONENTS)
        if SCHEMAS[kind] in self.components:
            return SCHEMAS[kind]
        raise SpecError(
            f"the spec has no 200 application/json schema for {ENDPOINTS[kind]} (a $ref to a component) and no "
            f"components.schemas.{SCHEMAS[kind]}"
        )

    @classmethod
    def load(cls, path: Path | None = None) -> Spec:
        return _load(str(path or default_spec_path()))

    def reachable(self, names: Any) -> set[str]:
        """The components ``names`` reach through ``$ref`` (themselves included)."""
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.components:
                continue
            seen.add(name)
            todo.extend(_refs(self.components[name]))
        return seen

    def validator(self, component: str) -> Draft202012Validator:
        validator = self._validators.get(component)
        if validator is None:
            schema = {"$ref": f"{SPEC_URI}{_COMPONENTS}{component}"}
            validator = Draft202012Validator(schema, registry=self._registry, format_checker=self._format_checker)
            self._validators[component] = validator
        return validator

    def response_validator(self, kind: EntityKind) -> Draft202012Validator:
        return self.validator(self.responses[kind])

    def _fast_validator(self, component: str) -> Any:
        """The component compiled once by ``jsonschema_rs`` (Rust), formats checked; None when it cannot
        compile the schema (then every body takes the detailed path)."""
        if component not in self._fast:
            root = {"$ref": f"{_COMPONENTS}{component}", "components": {"schemas": dict(self.components)}}
            try:
                self._fast[component] = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
            except (ValueError, jsonschema_rs.ValidationError):
                self._fast[component] = None
        return self._fast[component]

    def response_errors(self, kind: EntityKind, body: Any) -> list[ValidationError]:
        """Every validation error of ``body`` against the response schema of ``kind`` (jsonschema's, which the
        schema rules turn into findings). A body the compiled validator accepts has none, so only a failing body
        pays for the detailed walk; the compiled one is never trusted to say a body fails (its formats are
        stricter than the two this tool checks): jsonschema decides then."""
        component = self.responses[kind]
        fast = self._fast_validator(component)
        if fast is not None and _fast_accepts(fast, body):
            return []
        return list(self.validator(component).iter_errors(body))

    def resolve(self, schema: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        """Follow a component ``$ref``: (component name or None, the schema it names)."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENTS):
            name = ref.removeprefix(_COMPONENTS)
            return name, self.components[name]
        return None, schema

    def shape(self, schema: Mapping[str, Any]) -> Shape:
        """Properties, required names, additionalProperties and items of ``schema``, ``$ref`` and ``allOf``
        followed (later parts win, as they add to the earlier ones). Computed once per schema node (a bare
        ``$ref`` once per target); treat the result as read-only."""
        ref = schema.get("$ref")
        key: str | int = ref if isinstance(ref, str) and len(schema) == 1 else id(schema)
        hit = self._shapes.get(key)
        if hit is not None and (isinstance(key, str) or hit[0] is schema):
            return hit[1]
        if len(self._shapes) > 10_000:  # only ever reached by callers passing fresh dicts
            self._shapes.clear()
        out = self._shape(schema)
        self._shapes[key] = (schema, out)
        return out

    def _shape(self, schema: Mapping[str, Any]) -> Shape:
        name, resolved = self.resolve(schema)
        out = Shape(component=name)
        for part in resolved.get("allOf", []):
            if isinstance(part, Mapping):
                inner = self.shape(part)
                out.properties.update(inner.properties)
                out.required |= inner.required
                out.additional = inner.additional if inner.additional is not None else out.additional
                out.items = inner.items if inner.items is not None else out.items
        properties = resolved.get("properties")
        if isinstance(properties, Mapping):
            out.properties.update(properties)
        out.required |= set(resolved.get("required", []))
        if "additionalProperties" in resolved:
            out.additional = resolved["additionalProperties"]
        if isinstance(resolved.get("items"), Mapping):
            out.items = resolved["items"]
        return out

    def place(self, schema: Mapping[str, Any], pointer: Pointer | None) -> Pointer | None:
        """Where in the document the schema ``schema`` (reached at ``pointer``) is written: its component when
        it is a ``$ref`` to one, else ``pointer``."""
        name, _ = self.resolve(schema)
        return ("components", "schemas", name) if name is not None else pointer

    def child(
        self, schema: Mapping[str, Any], pointer: Pointer | None, name: str | None
    ) -> tuple[Mapping[str, Any] | None, Pointer | None]:
        """The subschema of property ``name`` (``None``: the array items) of ``schema`` written at ``pointer``,
        and where it is written: None when no single place holds it (it comes from an ``allOf`` part)."""
        shape = self.shape(schema)
        sub = shape.items if name is None else shape.properties.get(name)
        if not isinstance(sub, Mapping):
            return None, None
        here = self.place(schema, pointer)
        _, resolved = self.resolve(schema)
        if here is None:
            return sub, None
        if name is None:
            return sub, (*here, "items") if resolved.get("items") is sub else None
        own = resolved.get("properties")
        return sub, (*here, "properties", name) if isinstance(own, Mapping) and own.get(name) is sub else None

    def locate(self, kind: EntityKind, path: tuple[str | int, ...]) -> tuple[Mapping[str, Any] | None, Pointer | None]:
        """The schema of the value at the body's JSON ``path`` and where the document writes it (see
        :meth:`child`); (None, None) when the spec has no schema there."""
        node: Mapping[str, Any] | None = {"$ref": f"{_COMPONENTS}{self.responses[kind]}"}
        pointer: Pointer | None = None
        for part in path:
            if node is None:
                return None, None
            node, pointer = self.child(node, pointer, None if isinstance(part, int) else part)
        if node is None:
            return None, None
        return node, self.place(node, pointer)

    def is_optional_property(self, kind: EntityKind, path: tuple[str | int, ...]) -> bool:
        """True when the JSON ``path`` (from the body) names a property its object schema declares and does
        not require; False for a required property, an array item, a map value or the body itself."""
        if not path or not isinstance(path[-1], str):
            return False
        node: Mapping[str, Any] = {"$ref": f"{_COMPONENTS}{self.responses[kind]}"}
        for part in path[:-1]:
            shape = self.shape(node)
            nxt = shape.items if isinstance(part, int) else shape.properties.get(part, shape.additional)
            if not isinstance(nxt, Mapping):
                return False
            node = nxt
        shape = self.shape(node)
        return path[-1] in shape.properties and path[-1] not in shape.required

    def component_named(self, schema: Mapping[str, Any]) -> str | None:
        """The name of the component ``schema`` is (by identity, then equality)."""
        for name, candidate in self.components.items():
            if candidate is schema:
                return name
        for name, candidate in self.components.items():
            if candidate == schema:
                return name
        return None


def _fast_accepts(fast: Any, body: Any) -> bool:
    """True when the compiled validator accepts ``body``. It raises ValueError ("Unsupported type") when it
    reads a value of a Python type it does not know, such as the float subclass the wire decoder gives ``NaN``
    and ``Infinity`` (wire.JSONLiteral) in a string field or as the whole body, or the int subclass of an
    integer too long to convert (wire.HugeInteger): that is no answer about the body, so jsonschema, which takes
    any float or int, judges it (response.json-literal reports a literal itself)."""
    try:
        return bool(fast.is_valid(body))
    except ValueError:
        return False


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Spec:
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        raise SpecError(f"cannot read the spec {path}: {exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError(f"the spec {path} is not a YAML/JSON document ({exc}): pass an OpenAPI file to --spec") from exc
    components = document.get("components") if isinstance(document, Mapping) else None
    if not isinstance(components, Mapping) or not isinstance(components.get("schemas"), Mapping):
        raise SpecError(f"the spec {path} is not an OpenAPI document with components.schemas: pass one to --spec")
    try:
        return Spec(document)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from exc


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _DATA:
                continue
            if key == "$ref" and isinstance(value, str) and value.startswith(_COMPONENTS):
                yield value.removeprefix(_COMPONENTS)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def schema_keywords(node: Any) -> Iterator[str]:
    """Every keyword a (JSON Schema) node uses, descending into subschemas only: property names, and the
    values of ``example``, ``examples``, ``default``, ``enum`` and ``const`` are data, never keywords."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            if key == "properties" and isinstance(value, Mapping):
                for sub in value.values():
                    yield from schema_keywords(sub)
            elif key in ("items", "additionalProperties", "not"):
                yield from schema_keywords(value)
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                for part in value:
                    yield from schema_keywords(part)


def top_level_keywords(components: Mapping[str, Any]) -> set[str]:
    """Every keyword the component schemas use (for the test that pins :data:`KNOWN_KEYWORDS`)."""
    return {keyword for schema in components.values() for keyword in schema_keywords(schema)}


__all__ = [
    "ANNOTATIONS",
    "KNOWN_KEYWORDS",
    "SPEC_ENV",
    "STRUCTURE",
    "Shape",
    "Spec",
    "SpecError",
    "default_spec_path",
    "schema_keywords",
    "to_json_schema",
    "top_level_keywords",
]
