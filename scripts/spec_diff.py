"""Classify the changes between two versions of the spec for consumers of the generated package.

    python scripts/spec_diff.py --base origin/main                 # a git revision against the working tree
    python scripts/spec_diff.py --base old.yaml --head new.yaml    # two files
    python scripts/spec_diff.py --base HEAD --markdown report.md --json report.json

Every change is one of three classes (the table RULES below, one row per kind of change):

* breaking    - code that uses the generated package may stop working or type-checking;
* announced   - existing code keeps working, but consumers may need to react (a new response enum value
                their ``match`` statements do not handle, a new status code, a moved endpoint);
* compatible  - nothing to do (a new optional field, a doc change).

A rule classifies by where the changed schema travels: only in requests (the client writes it), only in
responses (the client reads it) or both (the stricter class wins). The generated client is forward
compatible (open enums, unknown fields kept), so a response change is breaking only when the *generated
types* change: msgspec models are constructed by consumers too (in their tests), so a field that becomes
required (``X | Unset`` -> ``X``) or optional (``X`` -> ``X | Unset``) is breaking either way.

Exit status: 0 no breaking change (or the major of ``info.version`` was raised), 1 breaking change without
a major bump, 2 usage error (unreadable file, unknown revision, invalid YAML).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = "spec/m3ter-billing.yaml"
REPORT_MARKER = "<!-- m3ter-spec-change-report -->"

Classification = Literal["breaking", "announced", "compatible"]
Context = Literal["request", "response", "both"]
CLASSES: tuple[Classification, ...] = ("breaking", "announced", "compatible")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_KEYWORDS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "$comment"})
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
OTHER_CONSTRAINTS = ("pattern", "multipleOf", "uniqueItems", "contentEncoding", "contentMediaType")
# string formats openapi-python-client 0.29 maps to their own Python type; any other format is a plain str
STRING_FORMAT_TYPES = {"date-time": "datetime.datetime", "date": "datetime.date", "binary": "File", "uuid": "UUID"}


@dataclass(frozen=True)
class Rule:
    """How a kind of change is classified when the changed part is sent (request) or read (response)."""

    request: Classification
    response: Classification
    reason: str


def _rule(request: Classification, response: Classification | None, reason: str) -> Rule:
    return Rule(request, request if response is None else response, reason)


B: Classification = "breaking"
A: Classification = "announced"
C: Classification = "compatible"

RULES: dict[str, Rule] = {
    # operations
    "operation-removed": _rule(B, None, "its endpoint module and facade method disappear"),
    "operation-added": _rule(C, None, "a new endpoint module; existing code is unaffected"),
    "operation-moved": _rule(A, None, "same operationId (same generated function) at another path or method"),
    "operation-id-changed": _rule(B, None, "generated endpoint modules and functions are named after operationId"),
    "tags-changed": _rule(B, None, "generated endpoint modules live under api/<first tag>/: import paths change"),
    # parameters
    "parameter-removed": _rule(B, None, "callers passing the argument get a TypeError"),
    "parameter-added-required": _rule(B, None, "a new required argument: existing calls fail"),
    "parameter-added-optional": _rule(C, None, "a new keyword argument with a default"),
    "parameter-became-required": _rule(B, None, "the argument loses its default: calls without it fail"),
    "parameter-became-optional": _rule(C, None, "the argument gains a default: existing calls still work"),
    "parameter-serialization-changed": _rule(A, None, "same Python signature, another wire format (style/explode)"),
    # request bodies
    "request-body-removed": _rule(B, None, "the body argument disappears"),
    "request-body-added-required": _rule(B, None, "a new required body argument"),
    "request-body-added-optional": _rule(C, None, "a new optional body argument"),
    "request-body-became-required": _rule(B, None, "the body argument loses its default"),
    "request-body-became-optional": _rule(C, None, "the body argument gains a default"),
    # responses and media types
    "response-removed": _rule(B, None, "its parsed type leaves the return type; code handling it breaks"),
    "response-added": _rule(A, None, "the client may return or raise for a status code it never did before"),
    "media-type-removed": _rule(B, None, "no more generated code for that content type"),
    "media-type-added": _rule(C, A, "a response may come in a content type consumers never saw"),
    # component schemas (= generated model classes)
    "schema-removed": _rule(B, None, "the generated model class disappears"),
    "schema-added": _rule(C, None, "a new model class; existing code is unaffected"),
    "schema-renamed": _rule(B, None, "the generated model class is renamed (same structure, other name)"),
    "schema-ref-changed": _rule(
        A, None, "the schema now comes from another component or inline: the class name may change"
    ),
    # types
    "type-changed": _rule(B, None, "the generated Python type changes"),
    "nullable-added": _rule(C, B, "the type widens to `X | None`: readers must handle None"),
    "nullable-removed": _rule(B, B, "the type narrows: code passing or constructing None breaks"),
    "format-changed": _rule(B, None, "the format maps to another Python type (str, datetime, date, UUID, File)"),
    "format-changed-same-type": _rule(C, None, "both formats map to the same Python type"),
    "additional-properties-changed": _rule(B, None, "the generated map / model type changes"),
    "composition-changed": _rule(B, None, "allOf/anyOf/oneOf/not changed: the generated union or model changes"),
    # enums
    "enum-value-added": _rule(C, A, "open enums parse it, but consumers' `match` statements may need a case"),
    "enum-value-removed": _rule(B, None, "the enum member disappears; code referencing it breaks"),
    "enum-introduced": _rule(B, None, "a free value becomes an enum class"),
    "enum-dropped": _rule(B, None, "an enum class becomes a free value"),
    # properties (= model attributes)
    "property-removed": _rule(B, None, "the model attribute disappears"),
    "property-renamed": _rule(B, None, "removed + added with the same schema: the model attribute is renamed"),
    "property-added-optional": _rule(C, None, "a new attribute defaulting to UNSET"),
    "property-added-required": _rule(B, None, "a new required constructor argument (request models, test fixtures)"),
    "property-became-required": _rule(
        B, None, "the type narrows from `X | Unset` to `X`: constructing the model without it fails"
    ),
    "property-became-optional": _rule(C, B, "the type widens to `X | Unset`: readers must handle UNSET"),
    # validation keywords (not enforced by the generated client)
    "constraint-tightened": _rule(B, C, "the server rejects values it accepted; responses only get narrower"),
    "constraint-loosened": _rule(C, A, "requests may send more; responses may carry values never seen before"),
    "constraint-changed": _rule(B, A, "a pattern or similar changed: the accepted values differ"),
    # everything else
    "default-changed": _rule(A, None, "what the server assumes for an omitted value changed"),
    "deprecated-changed": _rule(A, None, "deprecation flag changed: plan the migration"),
    "security-changed": _rule(A, None, "authentication requirements or flows changed"),
    "server-changed": _rule(A, None, "the default base URL changed"),
    "info-version-changed": _rule(C, None, "the version of the spec, and so of the package, changed"),
    "doc-changed": _rule(C, None, "descriptions, summaries and examples only change docstrings"),
    "extension-changed": _rule(C, None, "x-* extensions do not change the generated code"),
    "other-changed": _rule(A, None, "not classified more precisely: review it"),
}

_SEVERITY = {cls: i for i, cls in enumerate(CLASSES)}


def classify(kind: str, context: Context) -> Classification:
    """The class of a ``kind`` of change to a part sent in requests, read from responses, or both."""
    rule = RULES[kind]
    if context == "request":
        return rule.request
    if context == "response":
        return rule.response
    return min(rule.request, rule.response, key=_SEVERITY.__getitem__)


@dataclass(frozen=True, order=True)
class Change:
    """One classified change. ``pointer`` is a JSON pointer into the head spec (``side='head'``) or, for
    something that is gone, into the base spec (``side='base'``)."""

    classification: Classification
    pointer: str
    kind: str
    message: str
    side: Literal["base", "head"] = "head"

    def to_json(self) -> dict[str, str]:
        return {
            "classification": self.classification,
            "kind": self.kind,
            "pointer": self.pointer,
            "side": self.side,
            "message": self.message,
            "reason": RULES[self.kind].reason,
        }


def _sort_key(change: Change) -> tuple[int, str, str, str]:
    return (_SEVERITY[change.classification], change.pointer, change.kind, change.message)


def pointer(*parts: str | int) -> str:
    """A JSON pointer (URI fragment form) from unescaped reference tokens."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _join(base: str, *parts: str | int) -> str:
    return base + pointer(*parts)[1:]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: object) -> str:
    return json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else value


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def schema_contexts(doc: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each component schema, whether it is reachable from requests, responses or both."""
    components = _mapping(doc.get("components"))
    found: dict[str, set[str]] = {}

    def walk(node: object, side: str, seen: set[str]) -> None:
        for ref in _refs(node):
            if ref in seen or not ref.startswith("#/components/"):
                continue
            seen.add(ref)
            section, _, name = ref[len("#/components/") :].partition("/")
            if section == "schemas":
                found.setdefault(name, set()).add(side)
            walk(_mapping(components.get(section)).get(name), side, seen)

    for item in _mapping(doc.get("paths")).values():
        item = _mapping(item)
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = _mapping(item[method])
            walk([item.get("parameters"), op.get("parameters"), op.get("requestBody")], "request", set())
            walk(op.get("responses"), "response", set())
    return found


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else set(declared) if isinstance(declared, list) else set()
    if schema.get("nullable") is True:
        types.add("null")
    return frozenset(str(t) for t in types)


def _python_type(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    if "string" in _types(schema) and isinstance(fmt, str):
        return STRING_FORMAT_TYPES.get(fmt, "str")
    return "same"


def _shape(schema: object) -> object:
    """A schema without its documentation: what decides the generated type."""
    if isinstance(schema, Mapping):
        return {k: _shape(v) for k, v in schema.items() if k not in DOC_KEYWORDS and not str(k).startswith("x-")}
    if isinstance(schema, list):
        return [_shape(item) for item in schema]
    return schema


def _pair_renames(
    removed: Iterable[str], added: Iterable[str], old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, str]:
    """Removed name -> added name, for removed and added entries with the same shape (one to one)."""
    pairs: dict[str, str] = {}
    free = sorted(added)
    for name in sorted(removed):
        for candidate in free:
            if _shape(old[name]) == _shape(new[candidate]):
                pairs[name] = candidate
                free.remove(candidate)
                break
    return pairs


@dataclass
class Differ:
    """Compares two parsed OpenAPI documents; ``run()`` returns the classified changes."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    changes: list[Change] = field(default_factory=list)
    contexts: dict[str, set[str]] = field(default_factory=dict)

    def run(self) -> list[Change]:
        for doc in (self.old, self.new):
            for name, sides in schema_contexts(doc).items():
                self.contexts.setdefault(name, set()).update(sides)
        old_info, new_info = _mapping(self.old.get("info")), _mapping(self.new.get("info"))
        if old_info.get("version") != new_info.get("version"):
            self.add(
                "info-version-changed",
                pointer("info", "version"),
                f"info.version {old_info.get('version')} → {new_info.get('version')}",
            )
        self.generic(
            {k: v for k, v in old_info.items() if k != "version"},
            {k: v for k, v in new_info.items() if k != "version"},
            pointer("info"),
            "doc-changed",
        )
        self.generic(self.old.get("servers"), self.new.get("servers"), pointer("servers"), "server-changed")
        self.generic(self.old.get("security"), self.new.get("security"), pointer("security"), "security-changed")
        self.paths()
        self.component_schemas()
        self.component_responses()
        old_c, new_c = _mapping(self.old.get("components")), _mapping(self.new.get("components"))
        self.generic(
            old_c.get("securitySchemes"),
            new_c.get("securitySchemes"),
            pointer("components", "securitySchemes"),
            "security-changed",
        )
        self.generic(old_c.get("examples"), new_c.get("examples"), pointer("components", "examples"), "doc-changed")
        handled = {"schemas", "responses", "securitySchemes", "examples", "parameters", "requestBodies"}
        for key in sorted((set(old_c) | set(new_c)) - handled):
            self.generic(old_c.get(key), new_c.get(key), pointer("components", key), "other-changed")
        for key in sorted((set(self.old) | set(self.new)) - {"openapi", "info", "servers", "security", "paths"}):
            if key != "components":
                self.generic(self.old.get(key), self.new.get(key), pointer(key), "other-changed")
        return sorted(set(self.changes), key=_sort_key)

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def add(
        self, kind: str, ptr: str, message: str, context: Context = "both", side: Literal["base", "head"] = "head"
    ) -> None:
        self.changes.append(Change(classify(kind, context), ptr, kind, message, side))

    def resolve(self, doc: Mapping[str, Any], node: object) -> Mapping[str, Any]:
        """``node`` with local ``$ref`` chains followed (siblings of $ref kept, the target's keys win not)."""
        node = _mapping(node)
        seen: set[str] = set()
        while isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
            ref = node["$ref"]
            seen.add(ref)
            target: object = doc
            if ref.startswith("#/"):
                for token in ref[2:].split("/"):
                    target = _mapping(target).get(token.replace("~1", "/").replace("~0", "~"))
            else:
                target = None
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**_mapping(target), **siblings}
        return node

    def context_of(self, name: str) -> Context:
        sides = self.contexts.get(name, set())
        if sides == {"request"}:
            return "request"
        if sides == {"response"}:
            return "response"
        return "both"

    def generic(self, old: object, new: object, ptr: str, default: str, context: Context = "both") -> None:
        """Any structure: documentation keys are doc changes, x-* extensions, everything else ``default``."""
        if old == new:
            return
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            for key in sorted(set(old) | set(new), key=str):
                if old.get(key) == new.get(key):
                    continue
                sub = _join(ptr, str(key))
                if key in DOC_KEYWORDS:
                    self.add("doc-changed", sub, f"{key} changed", context)
                elif str(key).startswith("x-"):
                    self.add("extension-changed", sub, f"{key} changed", context)
                elif key not in new:
                    self.add(default, _join(ptr, str(key)), f"`{key}` removed", context, side="base")
                else:
                    self.generic(old.get(key), new.get(key), sub, default, context)
            return
        message = "added" if old is None else "removed" if new is None else f"{_show(old)} → {_show(new)}"
        self.add(default, ptr, message, context, side="base" if new is None else "head")

    # -- paths, operations, parameters, bodies, responses -----------------------------------------------------

    def _operations(self, doc: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
        ops: dict[tuple[str, str], Mapping[str, Any]] = {}
        for path, item in _mapping(doc.get("paths")).items():
            for method in HTTP_METHODS:
                if method in _mapping(item):
                    ops[(str(path), method)] = _mapping(_mapping(item)[method])
        return ops

    def paths(self) -> None:
        old_ops, new_ops = self._operations(self.old), self._operations(self.new)
        removed = sorted(set(old_ops) - set(new_ops))
        added = sorted(set(new_ops) - set(old_ops))
        by_id = {new_ops[key].get("operationId"): key for key in added if new_ops[key].get("operationId")}
        pairs: list[tuple[tuple[str, str], tuple[str, str]]] = [(key, key) for key in sorted(set(old_ops) & set(new_ops))]
        for key in removed:
            op_id = old_ops[key].get("operationId")
            if op_id in by_id:
                moved_to = by_id.pop(op_id)
                added.remove(moved_to)
                pairs.append((key, moved_to))
                self.add(
                    "operation-moved",
                    pointer("paths", moved_to[0], moved_to[1]),
                    f"{op_id}: {key[1].upper()} {key[0]} → {moved_to[1].upper()} {moved_to[0]}",
                )
            else:
                self.add(
                    "operation-removed",
                    pointer("paths", *key),
                    f"{key[1].upper()} {key[0]} ({op_id}) removed",
                    side="base",
                )
        for key in added:
            self.add(
                "operation-added",
                pointer("paths", *key),
                f"{key[1].upper()} {key[0]} ({new_ops[key].get('operationId')}) added",
            )
        for old_key, new_key in pairs:
            self.operation(old_key, new_key, old_ops[old_key], new_ops[new_key])
        old_paths, new_paths = _mapping(self.old.get("paths")), _mapping(self.new.get("paths"))
        for path in sorted(set(old_paths) & set(new_paths)):
            skip = {*HTTP_METHODS, "parameters"}
            self.generic(
                {k: v for k, v in _mapping(old_paths[path]).items() if k not in skip},
                {k: v for k, v in _mapping(new_paths[path]).items() if k not in skip},
                pointer("paths", path),
                "other-changed",
            )

    def operation(
        self, old_key: tuple[str, str], new_key: tuple[str, str], old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        ptr = pointer("paths", *new_key)
        label = f"{new_key[1].upper()} {new_key[0]}"
        if old.get("operationId") != new.get("operationId"):
            self.add(
                "operation-id-changed",
                _join(ptr, "operationId"),
                f"{label}: operationId {old.get('operationId')} → {new.get('operationId')}",
            )
        if (old.get("tags") or [None])[0] != (new.get("tags") or [None])[0]:
            self.add("tags-changed", _join(ptr, "tags"), f"{label}: tags {old.get('tags')} → {new.get('tags')}")
        elif old.get("tags") != new.get("tags"):
            self.add("doc-changed", _join(ptr, "tags"), f"{label}: secondary tags changed")
        for key, kind in (("deprecated", "deprecated-changed"), ("security", "security-changed")):
            if old.get(key) != new.get(key):
                self.add(kind, _join(ptr, key), f"{label}: {key} {_show(old.get(key))} → {_show(new.get(key))}")
        self.generic(old.get("servers"), new.get("servers"), _join(ptr, "servers"), "server-changed")
        self.parameters(old_key, new_key, label)
        self.request_body(old.get("requestBody"), new.get("requestBody"), _join(ptr, "requestBody"), label)
        self.responses(_mapping(old.get("responses")), _mapping(new.get("responses")), _join(ptr, "responses"), label)
        handled = {"operationId", "tags", "deprecated", "security", "servers", "parameters", "requestBody", "responses"}
        self.generic(
            {k: v for k, v in old.items() if k not in handled},
            {k: v for k, v in new.items() if k not in handled},
            ptr,
            "other-changed",
        )

