"""Flatten an OpenAPI document into comparable facts, so two specs can be compared property by property.

Used by the spec-parity test: ``facts(upstream) `` and ``facts(curated)`` must agree everywhere except
where spec/deviations.yaml lists the difference with its reason. Both OpenAPI 3.0 and 3.1 idioms are
normalised (``exclusiveMinimum: true`` + ``minimum`` becomes ``exclusiveMinimum: <number>``; ``type`` is
always a sorted list; ``allOf`` is merged; a ``$ref`` records the referenced component's name).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CURATED_SPEC = ROOT / "spec" / "m3ter-billing.yaml"
# A committed copy of m3ter's published OpenAPI subset, so the parity test needs nothing outside the repo;
# a test checks it still equals ../shared/reference/ when that folder is present.
UPSTREAM_SPEC = ROOT / "spec" / "upstream" / "m3ter-upstream-subset.json"
# The shared reference folder beside the checkout (or beside the folder of worktrees it is one of).
SHARED_REFERENCE = next(
    (parent / "shared" / "reference" for parent in ROOT.parents if (parent / "shared" / "reference").is_dir()),
    ROOT.parent / "shared" / "reference",
)
SHARED_UPSTREAM_SPEC = SHARED_REFERENCE / "m3ter-upstream-subset.json"
DEVIATIONS = ROOT / "spec" / "deviations.yaml"

# The component schemas the curated spec must carry faithfully (issue 2).
COMPARED_SCHEMAS = (
    "BillResponse",
    "BillLineItem",
    "BillLineItemPricingBandUsage",
    "CurrencyConversion",
    "StatementJobResponse",
    "StatementJobFilters",
    "BearerAccessTokenRequest",
    "BearerAccessTokenResponse",
    "BillStatus",
    "BillingFrequency",
    "LineItemType",
    "StatementJobStatus",
    "StatementStatus",
)
_SCHEMA_KEYWORDS = ("format", "minLength", "maxItems", "minimum", "exclusiveMinimum", "default", "nullable")

Facts = dict[str, Any]


def load(path: Path) -> dict[str, Any]:
    """Load a JSON or YAML OpenAPI document."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][_ref_name(node["$ref"])]
    return node


def _merged(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of ``schema`` with every ``allOf`` part merged in."""
    properties: dict[str, Any] = {}
    required: set[str] = set()
    for part in schema.get("allOf", []):
        part_properties, part_required = _merged(doc, _resolve(doc, part))
        properties.update(part_properties)
        required |= part_required
    properties.update(schema.get("properties", {}))
    required |= set(schema.get("required", []))
    return properties, required


def _types(node: Mapping[str, Any]) -> list[str] | None:
    kind = node.get("type")
    if kind is None:
        return None
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if node.get("nullable") is True:
        kinds.append("null")
    return sorted(set(kinds))


def _schema_facts(doc: Mapping[str, Any], node: Mapping[str, Any], prefix: str, out: Facts) -> None:
    if "allOf" in node and "properties" not in node and len(node["allOf"]) <= 2:
        # `allOf: [{$ref}, {description}]` is how 3.0 documents put a description next to a $ref.
        refs = [part for part in node["allOf"] if "$ref" in part]
        if len(refs) == 1:
            node = refs[0]
    if "$ref" in node:
        target = _resolve(doc, node)
        if "enum" in target:  # a named enum and an inline one with the same values are the same contract
            out[f"{prefix}.enum"] = sorted(target["enum"])
            out[f"{prefix}.type"] = _types(target)
            for keyword in _SCHEMA_KEYWORDS:
                if keyword in target and keyword != "nullable":
                    out[f"{prefix}.{keyword}"] = target[keyword]
        else:
            out[f"{prefix}.$ref"] = _ref_name(node["$ref"])
        return
    out[f"{prefix}.type"] = _types(node)
    for keyword in _SCHEMA_KEYWORDS:
        if keyword in node and keyword != "nullable":
            out[f"{prefix}.{keyword}"] = node[keyword]
    if node.get("exclusiveMinimum") is True:  # OpenAPI 3.0 boolean form
        out[f"{prefix}.exclusiveMinimum"] = node.get("minimum")
        out.pop(f"{prefix}.minimum", None)
    if "enum" in node:
        out[f"{prefix}.enum"] = sorted(node["enum"])
    if "items" in node:
        _schema_facts(doc, node["items"], f"{prefix}[]", out)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        _schema_facts(doc, extra, f"{prefix}{{}}", out)
    elif extra is not None:
        out[f"{prefix}.additionalProperties"] = extra


def schema_facts(doc: Mapping[str, Any], name: str) -> Facts:
    """Facts about one component schema: its required set, and each property's type, format, enum..."""
    schema = doc["components"]["schemas"][name]
    out: Facts = {}
    if "enum" in schema:
        out[f"{name}.enum"] = sorted(schema["enum"])
        out[f"{name}.type"] = _types(schema)
        return out
    properties, required = _merged(doc, schema)
    out[f"{name}.required"] = sorted(required)
    out[f"{name}.properties"] = sorted(properties)
    for prop, node in properties.items():
        _schema_facts(doc, node, f"{name}.{prop}", out)
    return out


def operation_facts(doc: Mapping[str, Any]) -> Facts:
    """Facts about each operation: path, method, parameters, request bodies, response codes, security."""
    out: Facts = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            op = operation["operationId"]
            out[f"{op}.path"] = f"{method.upper()} {path}"
            for param in operation.get("parameters", []):
                key = f"{op}.param.{param['name']}"
                out[f"{key}.in"] = param["in"]
                out[f"{key}.required"] = bool(param.get("required", False))
                out[f"{key}.style"] = param.get("style", "form" if param["in"] == "query" else "simple")
                out[f"{key}.explode"] = param.get("explode", out[f"{key}.style"] == "form")
                out[f"{key}.deprecated"] = bool(param["schema"].get("deprecated", False))
                _schema_facts(doc, param["schema"], f"{key}.schema", out)
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                _schema_facts(doc, content["schema"], f"{op}.requestBody.{media}", out)
            out[f"{op}.responses"] = sorted(operation["responses"])
            success = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
            if "schema" in success:
                _schema_facts(doc, success["schema"], f"{op}.responses.200", out)
            security = operation.get("security", doc.get("security", []))
            out[f"{op}.security"] = sorted(name for requirement in security for name in requirement)
    return out


def security_facts(doc: Mapping[str, Any]) -> Facts:
    out: Facts = {}
    for name, scheme in doc["components"].get("securitySchemes", {}).items():
        out[f"securityScheme.{name}.type"] = scheme["type"]
        for flow, details in scheme.get("flows", {}).items():
            out[f"securityScheme.{name}.flows.{flow}.tokenUrl"] = details.get("tokenUrl")
            out[f"securityScheme.{name}.flows.{flow}.scopes"] = sorted(details.get("scopes", {}))
    return out


def facts(doc: Mapping[str, Any]) -> Facts:
    """Every comparable fact of a document."""
    out: Facts = {}
    for name in COMPARED_SCHEMAS:
        out.update(schema_facts(doc, name))
    out.update(operation_facts(doc))
    out.update(security_facts(doc))
    return out


def differences(upstream: Mapping[str, Any], curated: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{fact: (upstream value, curated value)}`` for every fact on which the two documents disagree."""
    a, b = facts(upstream), facts(curated)
    return {key: (a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)}
