"""The curated spec, loaded once: component schemas, their validators and the property lists drift needs."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ENV = "M3TER_SPEC_PATH"
SPEC_URI = "urn:m3ter-billing-spec"
_COMPONENTS = "#/components/schemas/"
# The validation keywords the spec uses and the schema rules know how to name (see schema.py).
KNOWN_KEYWORDS = frozenset(
    {"type", "format", "required", "enum", "minLength", "maxItems", "exclusiveMinimum", "minimum"}
)
_ANNOTATIONS = frozenset(
    {"description", "examples", "default", "properties", "items", "additionalProperties", "$ref", "x-m3ter-rule"}
)


class SpecError(Exception):
    """The spec cannot be found or uses a keyword the rules cannot name."""


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


class Spec:
    """The loaded OpenAPI document with one Draft 2020-12 validator per response schema."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.components: Mapping[str, Any] = document["components"]["schemas"]
        unknown = sorted(top_level_keywords(self.components) - KNOWN_KEYWORDS - _ANNOTATIONS)
        if unknown:
            raise SpecError(f"the spec uses keywords no schema rule names: {', '.join(unknown)}")
        resource: Resource[Any] = Resource.from_contents(dict(document), default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._format_checker = FormatChecker(formats=["date", "date-time"])
        self._validators: dict[str, Draft202012Validator] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> Spec:
        return _load(str(path or default_spec_path()))

    def validator(self, component: str) -> Draft202012Validator:
        validator = self._validators.get(component)
        if validator is None:
            schema = {"$ref": f"{SPEC_URI}{_COMPONENTS}{component}"}
            validator = Draft202012Validator(schema, registry=self._registry, format_checker=self._format_checker)
            self._validators[component] = validator
        return validator

    def resolve(self, schema: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        """Follow a component ``$ref``: (component name or None, the schema it names)."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_COMPONENTS):
            name = ref.removeprefix(_COMPONENTS)
            return name, self.components[name]
        return None, schema

    def component_named(self, schema: Mapping[str, Any]) -> str | None:
        """The name of the component ``schema`` is (by identity, then equality)."""
        for name, candidate in self.components.items():
            if candidate is schema:
                return name
        for name, candidate in self.components.items():
            if candidate == schema:
                return name
        return None


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
    return Spec(document)


def _keywords(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "properties" and isinstance(value, Mapping):
                for sub in value.values():
                    yield from _keywords(sub)
                continue
            if key in ("examples", "default", "description"):
                continue
            yield str(key)
            if isinstance(value, Mapping) or key == "items":
                yield from _keywords(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keywords(item)


def top_level_keywords(components: Mapping[str, Any]) -> set[str]:
    """Every keyword the component schemas use (for the test that pins :data:`KNOWN_KEYWORDS`)."""
    out: set[str] = set()
    for schema in components.values():
        out.update(_keywords(schema))
    return out


__all__ = ["KNOWN_KEYWORDS", "SPEC_ENV", "Spec", "SpecError", "default_spec_path", "top_level_keywords"]
