"""Where the rules' quotes come from: the committed reference material under ``spec/upstream/``.

Every ``documented`` quote is m3ter's, verbatim, from its published OpenAPI document (the subset the curated
spec is compared with, and the operation descriptions in the rule excerpts); every ``standard`` quote is
verbatim from ``standards-excerpts.json`` (each document there names its URL, commit and retrieval date).
A test finds each quote in these files.
"""

from __future__ import annotations

UPSTREAM_SUBSET = "spec/upstream/m3ter-upstream-subset.json"
UPSTREAM_EXCERPTS = "spec/upstream/m3ter-upstream-rule-excerpts.json"
STANDARDS = "spec/upstream/standards-excerpts.json"

M3TER_SPEC = "m3ter's published OpenAPI document"


def schema_field(schema: str, prop: str) -> str:
    """Where a property's description is: ``m3ter's published OpenAPI document, BillResponse.dtCreated``."""
    return f"{M3TER_SPEC}, components.schemas.{schema}.properties.{prop}.description ({UPSTREAM_SUBSET})"


def operation(operation_id: str, *, excerpt: bool = False) -> str:
    """Where an operation's description is (Retrieve Bill, Lock Bill, ...)."""
    return f"{M3TER_SPEC}, operation {operation_id} description ({UPSTREAM_EXCERPTS if excerpt else UPSTREAM_SUBSET})"


def component(name: str) -> str:
    return f"{M3TER_SPEC}, components.schemas.{name}.description ({UPSTREAM_SUBSET})"


OAS_303 = f"OpenAPI Specification 3.0.3 ({STANDARDS})"
JSON_SCHEMA = f"JSON Schema Validation 2020-12 ({STANDARDS})"
OAS_303_FORMATS = f"OpenAPI Specification 3.0.3, Data Types (formats table) ({STANDARDS})"
RFC_8259 = f"RFC 8259 ({STANDARDS})"
RFC_4180 = f"RFC 4180 ({STANDARDS})"

__all__ = [
    "JSON_SCHEMA",
    "M3TER_SPEC",
    "OAS_303",
    "OAS_303_FORMATS",
    "RFC_4180",
    "RFC_8259",
    "STANDARDS",
    "UPSTREAM_EXCERPTS",
    "UPSTREAM_SUBSET",
    "component",
    "operation",
    "schema_field",
]
