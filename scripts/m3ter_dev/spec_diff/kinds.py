"""The kinds of spec change and how each is classified for code that uses the generated package.

Every change is one of three classes:

* breaking    - code that uses the generated package may stop working or type-checking;
* announced   - existing code keeps working, but consumers may need to react (a new response enum value
                their ``match`` statements do not handle, a new status code, a moved endpoint);
* compatible  - nothing to do (a new optional field, a doc change).

A kind is classified by where the changed schema travels: only in requests (the client writes it), only in
responses (the client reads it) or both (the stricter class wins). The generated client is forward
compatible (open enums, unknown fields kept), so a response change is breaking only when the *generated
types* change: msgspec models are constructed by consumers too (in their tests), so a field that becomes
required (``X | Unset`` -> ``X``) or optional (``X`` -> ``X | Unset``) is breaking either way.

These are kinds of *spec change*; the documented API rules the conformance check judges live in
``m3ter_contract.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Classification = Literal["breaking", "announced", "compatible"]
Context = Literal["request", "response", "both"]
Side = Literal["base", "head"]
CLASSES: tuple[Classification, ...] = ("breaking", "announced", "compatible")
SEVERITY = {cls: i for i, cls in enumerate(CLASSES)}  # lower is more severe


@dataclass(frozen=True)
class ChangeKind:
    """How a kind of change is classified when the changed part is sent (request) or read (response)."""

    request: Classification
    response: Classification
    reason: str


def _kind(request: Classification, response: Classification | None, reason: str) -> ChangeKind:
    return ChangeKind(request, request if response is None else response, reason)


B: Classification = "breaking"
A: Classification = "announced"
C: Classification = "compatible"

CHANGE_KINDS: dict[str, ChangeKind] = {
    # operations
    "operation-removed": _kind(B, None, "its endpoint module and facade method disappear"),
    "operation-added": _kind(C, None, "a new endpoint module; existing code is unaffected"),
    "operation-moved": _kind(A, None, "same operationId (same generated function) at another path or method"),
    "operation-id-changed": _kind(B, None, "generated endpoint modules and functions are named after operationId"),
    "tags-changed": _kind(B, None, "generated endpoint modules live under api/<first tag>/: import paths change"),
    "path-parameter-order-changed": _kind(
        B, None, "path parameters are positional in path order: sync(org_id, id) becomes sync(id, org_id)"
    ),
    # parameters
    "parameter-removed": _kind(B, None, "callers passing the argument get a TypeError"),
    "parameter-added-required": _kind(B, None, "a new required argument: existing calls fail"),
    "parameter-added-optional": _kind(C, None, "a new keyword argument with a default"),
    "parameter-became-required": _kind(B, None, "the argument loses its default: calls without it fail"),
    "parameter-became-optional": _kind(C, None, "the argument gains a default: existing calls still work"),
    "parameter-serialization-changed": _kind(A, None, "same Python signature, another wire format (style/explode)"),
    # request bodies
    "request-body-removed": _kind(B, None, "the body argument disappears"),
    "request-body-added-required": _kind(B, None, "a new required body argument"),
    "request-body-added-optional": _kind(C, None, "a new optional body argument"),
    "request-body-became-required": _kind(B, None, "the body argument loses its default"),
    "request-body-became-optional": _kind(C, None, "the body argument gains a default"),
    "request-media-type-order-changed": _kind(
        A, None, "the generated endpoint sends the first listed request content type: the wire format changes"
    ),
    # responses and media types
    "response-removed": _kind(B, None, "the parsed (first 2xx) response or a shared one: the return type changes"),
    "error-response-removed": _kind(
        A, None, "a non-2xx status: the client still raises for it, as an unexpected status instead of a typed error"
    ),
    "response-added": _kind(A, None, "the client may return or raise for a status code it never did before"),
    "response-ref-changed": _kind(
        A, None, "the response now comes from another components/responses entry or inline (names no class)"
    ),
    "media-type-removed": _kind(B, None, "no more generated code for that content type"),
    "media-type-added": _kind(C, A, "a response may come in a content type consumers never saw"),
    # component schemas (= generated model classes)
    "schema-removed": _kind(B, None, "the generated model class disappears"),
    "schema-added": _kind(C, None, "a new model class; existing code is unaffected"),
    "schema-renamed": _kind(B, None, "the generated model class is renamed (same structure, other name)"),
    "schema-ref-target-changed": _kind(
        B, None, "the schema now comes from another component or inline: the generated class / type changes"
    ),
    # types
    "type-changed": _kind(B, None, "the generated Python type changes"),
    "nullable-added": _kind(C, B, "the type widens to `X | None`: readers must handle None"),
    "nullable-added-optional": _kind(
        C, None, "an optional field is `X | None | Unset` already (the model template adds None): the type stays"
    ),
    "nullable-removed": _kind(B, B, "the type narrows: code passing or constructing None breaks"),
    "format-changed": _kind(B, None, "the format maps to another Python type (str, datetime, date, UUID, File)"),
    "format-changed-same-type": _kind(C, None, "both formats map to the same Python type"),
    "additional-properties-changed": _kind(B, None, "the generated map / model type changes"),
    "composition-changed": _kind(B, None, "allOf/anyOf/oneOf/not changed: the generated union or model changes"),
    # enums
    "enum-value-added": _kind(C, A, "open enums parse it, but consumers' `match` statements may need a case"),
    "enum-value-removed": _kind(B, None, "the enum member disappears; code referencing it breaks"),
    "enum-introduced": _kind(B, None, "a free value becomes an enum class"),
    "enum-dropped": _kind(B, None, "an enum class becomes a free value"),
    # properties (= model attributes)
    "property-removed": _kind(B, None, "the model attribute disappears"),
    "property-renamed": _kind(B, None, "removed + added with the same schema: the model attribute is renamed"),
    "property-added-optional": _kind(C, None, "a new attribute defaulting to UNSET"),
    "property-added-required": _kind(B, None, "a new required constructor argument (request models, test fixtures)"),
    "property-became-required": _kind(
        B, None, "the type narrows from `X | Unset` to `X`: constructing the model without it fails"
    ),
    "property-became-optional": _kind(C, B, "the type widens to `X | Unset`: readers must handle UNSET"),
    # validation keywords (not enforced by the generated client)
    "constraint-tightened": _kind(B, C, "the server rejects values it accepted; responses only get narrower"),
    "constraint-loosened": _kind(C, A, "requests may send more; responses may carry values never seen before"),
    "constraint-changed": _kind(B, A, "a pattern or similar changed: the accepted values differ"),
    # everything else
    "default-changed": _kind(A, None, "what the server assumes for an omitted value changed"),
    "deprecated-changed": _kind(A, None, "deprecation flag changed: plan the migration"),
    "security-changed": _kind(A, None, "authentication requirements or flows changed"),
    "server-changed": _kind(A, None, "the default base URL changed"),
    "info-version-changed": _kind(C, None, "the version of the spec, and so of the package, changed"),
    "doc-changed": _kind(C, None, "descriptions, summaries and examples only change docstrings"),
    "extension-changed": _kind(C, None, "x-* extensions do not change the generated code"),
    "other-changed": _kind(A, None, "not classified more precisely: review it"),
}


def classify(kind: str, context: Context) -> Classification:
    """The class of a ``kind`` of change to a part sent in requests, read from responses, or both."""
    change_kind = CHANGE_KINDS[kind]
    if context == "request":
        return change_kind.request
    if context == "response":
        return change_kind.response
    return min(change_kind.request, change_kind.response, key=SEVERITY.__getitem__)


@dataclass(frozen=True, order=True)
class Change:
    """One classified change. ``pointer`` is a JSON pointer into the head spec (``side='head'``) or, for
    something that is gone, into the base spec (``side='base'``)."""

    classification: Classification
    pointer: str
    kind: str
    message: str
    side: Side = "head"

    def to_json(self) -> dict[str, str]:
        return {
            "classification": self.classification,
            "kind": self.kind,
            "pointer": self.pointer,
            "side": self.side,
            "message": self.message,
            "reason": CHANGE_KINDS[self.kind].reason,
        }

    def sort_key(self) -> tuple[int, str, str, str]:
        """Most severe first, then by place in the document."""
        return (SEVERITY[self.classification], self.pointer, self.kind, self.message)
