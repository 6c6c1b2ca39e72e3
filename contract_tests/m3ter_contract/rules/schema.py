"""Schema conformance and drift: the response body against the spec's component schemas.

Validation is jsonschema Draft 2020-12 with ``$ref`` resolved inside the loaded spec and format checking
on (``date``, ``date-time``). Each validation error becomes a finding of the rule its keyword names. An
enum value the spec lacks is drift the spec must learn (an error); a field the spec lacks is drift too
(a warning). Both come with the JSON path and a suggested spec change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

from .model import Check, Finding, NotJSON, Observation, Rule, Severity, json_path
from .spec import Spec

RESPONSE_JSON = Rule(
    "response.json",
    Severity.ERROR,
    'Error body: {"message": "..."}; the 200 body is BillResponse / StatementJobResponse (JSON).',
    "A 200 response body is a JSON document.",
)
SCHEMA_TYPE = Rule(
    "schema.type",
    Severity.ERROR,
    "Nothing is declared nullable; absent fields are absent, not null.",
    "Every value has the JSON type the spec declares (no nulls, integers where int32/int64 is declared).",
)
SCHEMA_FORMAT = Rule(
    "schema.format",
    Severity.ERROR,
    "Dates (startDate, endDate, billDate, dueDate, externalInvoiceDate) and date-times (startDateTimeUTC, "
    "endDateTimeUTC, createdDate, lastCalculatedDate, dtCreated, dtLastModified, dtApproved, dtLocked).",
    "Every `format: date` value is an RFC 3339 full-date and every `format: date-time` an RFC 3339 date-time.",
)
SCHEMA_REQUIRED = Rule(
    "schema.required",
    Severity.ERROR,
    "BillResponse: 37 properties, only id required. BillLineItem: 10 required (description, quantity, units, "
    "unit, subtotal, currency, conversionRate, convertedSubtotal, averageUnitPrice, lineItemType).",
    "Every property the spec requires is present (id; the ten required line-item fields; from/to).",
)
SCHEMA_ENUM = Rule(
    "schema.enum",
    Severity.ERROR,
    "The enums have grown over time (AD_HOC line items, MIXED frequency, the statement status fields arrived "
    "in 2026): a client must expect values it does not know yet.",
    "Every enum value (status, billingFrequency, lineItems[].lineItemType, statementJobStatus, statement "
    "statuses) is one the spec lists; a new one is drift the spec must learn.",
)
SCHEMA_MIN_LENGTH = Rule(
    "schema.min-length",
    Severity.ERROR,
    "CurrencyConversion: from, to required (minLength 1), multiplier > 0.",
    "Strings with `minLength` (currency codes, line-item description and currency) are long enough.",
)
SCHEMA_MAX_ITEMS = Rule(
    "schema.max-items",
    Severity.ERROR,
    "StatementJobResponse: ... filters.meterIds (max 10).",
    "Arrays with `maxItems` (filters.meterIds) hold no more items than allowed.",
)
SCHEMA_EXCLUSIVE_MINIMUM = Rule(
    "schema.exclusive-minimum",
    Severity.ERROR,
    "CurrencyConversion: from, to required (minLength 1), multiplier > 0.",
    "Numbers with `exclusiveMinimum` (currencyConversions[].multiplier) are above it.",
)
DRIFT_UNKNOWN_FIELD = Rule(
    "drift.unknown-field",
    Severity.WARNING,
    "Loose parsing by default (unknown enum values and extra fields kept).",
    "A field the server returns that the spec does not declare: the spec should learn it.",
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
# A keyword on a property that carries ``x-m3ter-rule`` is judged by that named rule (``minimum`` on version).
_DELEGATED = frozenset({"minimum"})
_REQUIRED_NAME = re.compile(r"^'(.+)' is a required property$")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
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


def _error_findings(obs: Observation, spec: Spec, error: ValidationError) -> Iterator[Finding]:
    keyword = str(error.validator)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword in _DELEGATED and "x-m3ter-rule" in schema:
        return
    rule = _BY_KEYWORD[keyword]
    path = json_path("$", *error.absolute_path)
    value = error.instance
    if keyword == "required":
        match = _REQUIRED_NAME.match(error.message)
        name = match.group(1) if match else "?"
        owner = spec.component_named(schema) or "the enclosing schema"
        yield rule.finding(obs, json_path(path, name), f"required property {name!r} of {owner} is missing")
    elif keyword == "enum":
        component = spec.component_named(schema)
        where = f"components.schemas.{component}.enum" if component else f"the enum at {path}"
        yield rule.finding(
            obs,
            path,
            f"{_short(value)} is not a value the spec lists ({', '.join(map(str, schema.get('enum', [])))})",
            suggestion=f"add {_short(value)} to {where}",
        )
    elif keyword == "type":
        message = f"{_json_type(value)} {_short(value)} where the spec declares {error.validator_value}"
        if value is None:
            message += " (the spec declares nothing nullable: an absent value must be absent, not null)"
        yield rule.finding(obs, path, message)
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
    else:
        yield rule.finding(obs, path, f"{_short(value)} is not greater than {error.validator_value}")


def check_schema(obs: Observation, spec: Spec) -> Iterator[Finding]:
    """Schema findings for one observation, in JSON-path order."""
    if isinstance(obs.body, NotJSON):
        yield RESPONSE_JSON.finding(obs, "$", f"the 200 body is not JSON ({obs.body.error})")
        return
    validator = spec.validator(obs.kind.schema_name)
    errors = sorted(validator.iter_errors(obs.body), key=lambda e: (json_path("$", *e.absolute_path), e.message))
    for error in errors:
        yield from _error_findings(obs, spec, error)


def _spec_type_of(value: Any) -> str:
    kind = _json_type(value)
    return "string  # or null: the spec declares nothing nullable" if kind == "null" else kind


def _walk_unknown(
    obs: Observation, spec: Spec, schema: Mapping[str, Any], component: str | None, value: Any, path: str
) -> Iterator[Finding]:
    name, resolved = spec.resolve(schema)
    component = name or component
    if isinstance(value, dict) and "properties" in resolved:
        properties: Mapping[str, Any] = resolved["properties"]
        free_form = resolved.get("additionalProperties") not in (None, False)
        for key, item in value.items():
            sub = properties.get(key)
            if sub is not None:
                yield from _walk_unknown(obs, spec, sub, component, item, json_path(path, key))
            elif not free_form:
                where = f"components.schemas.{component}.properties" if component else f"the object at {path}"
                yield DRIFT_UNKNOWN_FIELD.finding(
                    obs,
                    json_path(path, key),
                    f"field {key!r} ({_json_type(item)}) is not in the spec",
                    suggestion=f"add `{key}: {{type: {_spec_type_of(item)}}}` to {where}",
                )
    elif isinstance(value, list) and isinstance(resolved.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _walk_unknown(obs, spec, resolved["items"], component, item, json_path(path, index))


def check_unknown_fields(obs: Observation, spec: Spec) -> Iterator[Finding]:
    """A warning, with a suggested spec change, for every field the spec's schemas do not declare."""
    if isinstance(obs.body, dict):
        root = {"$ref": f"#/components/schemas/{obs.kind.schema_name}"}
        yield from _walk_unknown(obs, spec, root, None, obs.body, "$")


CHECKS = (
    Check(
        (
            RESPONSE_JSON,
            SCHEMA_TYPE,
            SCHEMA_FORMAT,
            SCHEMA_REQUIRED,
            SCHEMA_ENUM,
            SCHEMA_MIN_LENGTH,
            SCHEMA_MAX_ITEMS,
            SCHEMA_EXCLUSIVE_MINIMUM,
        ),
        snapshot=check_schema,
        name="schema",
    ),
    Check((DRIFT_UNKNOWN_FIELD,), snapshot=check_unknown_fields, name="drift"),
)

__all__ = ["CHECKS", "check_schema", "check_unknown_fields"]
