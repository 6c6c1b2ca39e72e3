"""Schema conformance and drift: the response body against the spec's component schemas.

Validation is jsonschema Draft 2020-12 with ``$ref`` resolved inside the loaded spec and format checking
on (``date``, ``date-time``). Each validation error becomes a finding of the rule its keyword names. A null
in an optional property the spec does not declare nullable is ``schema.null`` (a warning); any other null
is a type error. An enum value the spec lacks is drift the spec must learn (an error); a field the spec
lacks is drift too (a warning). Both come with the JSON path and a suggested spec change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

from .drift import Drift, Pointer, Sketch, json_type
from .sources import JSON_SCHEMA, OAS_303
from .spec import Spec
from .versioning import VERSION_MINIMUM
from .vocabulary import Check, Finding, NotJSON, Observation, Rule, Severity, inferred, json_path, standard
from .wire import MAX_DEPTH, exact_json
from .wire import short_json as _short

RESPONSE_JSON = Rule(
    "response.json",
    Severity.ERROR,
    standard("A map containing descriptions of potential response payloads.", f"{OAS_303}, Response Object content"),
    "A 200 response body is a JSON document (both operations declare only application/json for 200).",
)
SCHEMA_TYPE = Rule(
    "schema.type",
    Severity.ERROR,
    standard(
        'If the value of "type" is a string, then an instance validates successfully if its type matches the type '
        "represented by the value of the string.",
        f"{JSON_SCHEMA}, 6.1.1 type",
    ),
    "Every value has the JSON type the spec declares (integers where int32/int64 is declared). A null in a "
    "required property, an array item or a map value is a type error too (for an optional property see "
    "schema.null).",
)
SCHEMA_NULL = Rule(
    "schema.null",
    Severity.WARNING,
    standard(
        'A `true` value adds `"null"` to the allowed type specified by the `type` keyword, only if `type` is '
        "explicitly defined within the same Schema Object.",
        f"{OAS_303}, Schema Object nullable",
    ),
    'An optional property is null where the spec does not allow null (no `nullable: true`, no "null" type). '
    "A warning: no m3ter document says the server never sends null (its own token example sends "
    '`"scope": null`) and every official SDK reads it as absent.',
)
SCHEMA_FORMAT = Rule(
    "schema.format",
    Severity.ERROR,
    standard(
        "As defined by `full-date` - [RFC3339](https://datatracker.ietf.org/doc/html/rfc3339#section-5.6)",
        f"{OAS_303}, Data Types (format date; date-time likewise)",
    ),
    "Every `format: date` value is an RFC 3339 full-date and every `format: date-time` an RFC 3339 date-time.",
)
SCHEMA_REQUIRED = Rule(
    "schema.required",
    Severity.ERROR,
    standard(
        "An object instance is valid against this keyword if every item in the array is the name of a property "
        "in the instance.",
        f"{JSON_SCHEMA}, 6.5.3 required",
    ),
    "Every property the spec requires is present (id; the ten required line-item fields; from/to).",
)
SCHEMA_ENUM = Rule(
    "schema.enum",
    Severity.ERROR,
    standard(
        "An instance validates successfully against this keyword if its value is equal to one of the elements in "
        "this keyword's array value.",
        f"{JSON_SCHEMA}, 6.1.2 enum",
    ),
    "Every enum value (status, billingFrequency, lineItems[].lineItemType, statementJobStatus, statement "
    "statuses) is one the spec lists; a new one is drift the spec must learn (m3ter's enums have grown: AD_HOC "
    "line items, MIXED frequency, the statement statuses).",
)
SCHEMA_MIN_LENGTH = Rule(
    "schema.min-length",
    Severity.ERROR,
    standard(
        "A string instance is valid against this keyword if its length is greater than, or equal to, the value "
        "of this keyword.",
        f"{JSON_SCHEMA}, 6.3.2 minLength",
    ),
    "Strings with `minLength` (currency codes, line-item description and currency) are long enough.",
)
SCHEMA_MAX_ITEMS = Rule(
    "schema.max-items",
    Severity.ERROR,
    standard(
        'An array instance is valid against "maxItems" if its size is less than, or equal to, the value of this '
        "keyword.",
        f"{JSON_SCHEMA}, 6.4.1 maxItems",
    ),
    "Arrays with `maxItems` (filters.meterIds) hold no more items than allowed.",
)
SCHEMA_EXCLUSIVE_MINIMUM = Rule(
    "schema.exclusive-minimum",
    Severity.ERROR,
    standard(
        "If the instance is a number, then the instance is valid only if it has a value strictly greater than "
        '(not equal to) "exclusiveMinimum".',
        f"{JSON_SCHEMA}, 6.2.5 exclusiveMinimum",
    ),
    "Numbers with `exclusiveMinimum` (currencyConversions[].multiplier) are above it.",
)
SCHEMA_CONSTRAINT = Rule(
    "schema.constraint",
    Severity.ERROR,
    standard(
        "Validation keywords in a schema impose requirements for successful validation of an instance.",
        f"{JSON_SCHEMA}, 6 Keywords for Structural Validation",
    ),
    "Any other validation keyword a spec given to --spec uses (maximum, maxLength, pattern, minItems, "
    "uniqueItems, const, ...) holds; the curated spec uses none of them.",
)
DRIFT_UNKNOWN_FIELD = Rule(
    "drift.unknown-field",
    Severity.WARNING,
    inferred(
        "JSON Schema allows properties a schema does not list, so an unlisted field breaks nothing, and we "
        "report it only because the spec should learn it.",
        "JSON Schema Core 2020-12 (draft-bhutton-json-schema-01), 10.3.2.3 additionalProperties (absent: any "
        "property allowed)",
        strict=False,
    ),
    "A field the server returns that the spec does not declare: the spec should learn it (a warning, even with "
    "--strict-inferred).",
)

_BY_KEYWORD: Mapping[str, Rule] = {
    "type": SCHEMA_TYPE,
    "format": SCHEMA_FORMAT,
    "required": SCHEMA_REQUIRED,
    "enum": SCHEMA_ENUM,
    "minLength": SCHEMA_MIN_LENGTH,
    "maxItems": SCHEMA_MAX_ITEMS,
    "exclusiveMinimum": SCHEMA_EXCLUSIVE_MINIMUM,
}
# A keyword on a property whose ``x-m3ter-rule`` names a rule that judges that keyword is left to that rule
# (``minimum`` on version: version.minimum). Any other value (a typo, a family name, a rule that judges
# something else) delegates nothing: the keyword stays schema.constraint's.
DELEGATED: Mapping[str, frozenset[str]] = {"minimum": frozenset({VERSION_MINIMUM.name})}
_REQUIRED_NAME = re.compile(r"^'(.+)' is a required property$")


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _field_name(key: str) -> str:
    """A field name as a suggestion writes it: a plain name as it is, any other (a backtick, a space, a control
    character, a colon) as a JSON string, so none of its characters reads as the suggestion's own."""
    return key if _PLAIN_NAME.fullmatch(key) else exact_json(key)


def _error_findings(obs: Observation, spec: Spec, error: ValidationError) -> Iterator[Finding]:
    keyword = str(error.validator)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if schema.get("x-m3ter-rule") in DELEGATED.get(keyword, ()):
        return
    rule = _BY_KEYWORD.get(keyword, SCHEMA_CONSTRAINT)
    path = json_path("$", *error.absolute_path)
    value = error.instance
    if keyword == "required":
        match = _REQUIRED_NAME.match(error.message)
        name = match.group(1) if match else "?"
        owner = spec.component_named(schema) or "the enclosing schema"
        yield rule.finding(obs, json_path(path, name), f"required property {name!r} of {owner} is missing")
    elif keyword == "enum":
        located, pointer = spec.locate(obs.kind, tuple(error.absolute_path))
        if located is None or spec.resolve(located)[1] is not schema:
            pointer = None  # the enum is not the schema the body path leads to (an allOf part): no single place
        where = ".".join((*pointer, "enum")) if pointer else f"the enum at {path}"
        drift = Drift("enum", pointer, value, obs.endpoint) if isinstance(value, str) else None
        yield rule.finding(
            obs,
            path,
            f"{_short(value)} is not a value the spec lists ({', '.join(map(str, schema.get('enum', [])))})",
            suggestion=f"add {exact_json(value)} to {where}",
            drift=drift,
        )
    elif keyword == "type" and value is None:
        yield rule.finding(
            obs, path, f"null where the spec declares {error.validator_value}: null in {_null_place(error)} is an error"
        )
    elif keyword == "type":
        yield rule.finding(
            obs, path, f"{json_type(value)} {_short(value)} where the spec declares {error.validator_value}"
        )
    elif keyword == "format":
        yield rule.finding(obs, path, f"{_short(value)} is not a valid {error.validator_value}")
    elif keyword == "minLength":
        yield rule.finding(obs, path, f"{_short(value)} is shorter than minLength {error.validator_value}")
    elif keyword == "maxItems":
        yield rule.finding(
            obs,
            path,
            f"{len(value) if isinstance(value, list) else '?'} items where maxItems is {error.validator_value}",
        )
    elif keyword == "exclusiveMinimum":
        yield rule.finding(obs, path, f"{_short(value)} is not greater than {error.validator_value}")
    else:
        yield rule.finding(obs, path, f"{_short(value)} breaks {keyword} {_short(error.validator_value)}")


def _null_place(error: ValidationError) -> str:
    last = error.absolute_path[-1] if error.absolute_path else None
    if last is None:
        return "the body"
    return "an array item" if isinstance(last, int) else "a required property or a map value"


def check_schema(obs: Observation, spec: Spec) -> Iterator[Finding]:
    """Schema findings for one observation, in JSON-path order."""
    if isinstance(obs.body, NotJSON) and obs.body.limit:
        yield RESPONSE_JSON.finding(
            obs,
            "$",
            f"the 200 body is nested deeper than {MAX_DEPTH} levels: more than any body the spec's schemas describe "
            "(five), and more than this check parses (RFC 8259 section 9 lets a parser limit nesting)",
        )
        return
    if isinstance(obs.body, NotJSON):
        yield RESPONSE_JSON.finding(obs, "$", f"the 200 body is not JSON ({obs.body.error})")
        return
    errors = sorted(
        spec.response_errors(obs.kind, obs.body), key=lambda e: (json_path("$", *e.absolute_path), e.message)
    )
    nulls: set[tuple[str | int, ...]] = set()
    for error in errors:
        where = tuple(error.absolute_path)
        if error.instance is None and where in nulls:
            continue  # one finding per null (its enum or format errors say the same)
        if error.instance is None and spec.is_optional_property(obs.kind, where):
            nulls.add(where)
            yield SCHEMA_NULL.finding(
                obs,
                json_path("$", *where),
                f"null where the spec declares {_declared(error)}: the optional property is sent as null instead "
                "of being left out (every official SDK reads it as absent)",
            )
            continue
        if error.instance is None:
            if str(error.validator) != "type":
                continue  # the type error of the same null is the finding
            nulls.add(where)
        yield from _error_findings(obs, spec, error)


def _declared(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if str(error.validator) == "type":
        return str(error.validator_value)
    return str(schema.get("type", str(error.validator)))


def _spec_type_of(value: Any) -> str:
    kind = json_type(value)
    return "string, nullable: true  # the value was null: check its type" if kind == "null" else kind


def _walk_unknown(
    obs: Observation,
    spec: Spec,
    schema: Mapping[str, Any],
    pointer: Pointer | None,
    value: Any,
    path: str,
) -> Iterator[Finding]:
    shape = spec.shape(schema)
    here = spec.place(schema, pointer)
    if isinstance(value, dict) and shape.properties:
        free_form = shape.additional not in (None, False)
        for key, item in value.items():
            sub, sub_pointer = spec.child(schema, pointer, key)
            if sub is not None:
                yield from _walk_unknown(obs, spec, sub, sub_pointer, item, json_path(path, key))
            elif key not in shape.properties and not free_form:
                where = f"{'.'.join(here)}.properties" if here else f"the object at {path}"
                yield DRIFT_UNKNOWN_FIELD.finding(
                    obs,
                    json_path(path, key),
                    f"field {key!r} ({json_type(item)}) is not in the spec",
                    suggestion=f"add `{_field_name(key)}: {{type: {_spec_type_of(item)}}}` to {where}",
                    drift=Drift("field", here, key, obs.endpoint, Sketch.of(item)),
                )
    elif isinstance(value, list) and isinstance(shape.items, Mapping):
        sub, sub_pointer = spec.child(schema, pointer, None)
        if sub is not None:
            for index, item in enumerate(value):
                yield from _walk_unknown(obs, spec, sub, sub_pointer, item, json_path(path, index))


def check_unknown_fields(obs: Observation, spec: Spec) -> Iterator[Finding]:
    """A warning, with a suggested spec change, for every field the spec's schemas do not declare."""
    if isinstance(obs.body, dict):
        root = {"$ref": f"#/components/schemas/{spec.responses[obs.kind]}"}
        yield from _walk_unknown(obs, spec, root, None, obs.body, "$")


CHECKS = (
    Check(
        (
            RESPONSE_JSON,
            SCHEMA_TYPE,
            SCHEMA_NULL,
            SCHEMA_FORMAT,
            SCHEMA_REQUIRED,
            SCHEMA_ENUM,
            SCHEMA_MIN_LENGTH,
            SCHEMA_MAX_ITEMS,
            SCHEMA_EXCLUSIVE_MINIMUM,
            SCHEMA_CONSTRAINT,
        ),
        snapshot=check_schema,
        name="schema",
    ),
    Check((DRIFT_UNKNOWN_FIELD,), snapshot=check_unknown_fields, name="drift"),
)

__all__ = ["CHECKS", "DELEGATED", "check_schema", "check_unknown_fields"]
