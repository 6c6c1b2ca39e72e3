"""The response is the entity that was asked for, in the organization that was asked for."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ._values import same_value
from .sources import operation, schema_field
from .vocabulary import Check, EntityKind, Finding, Observation, Rule, Severity, documented, inferred

_GET_BILL = documented("Retrieve the Bill with the given UUID.", operation("GetBill"))
ENTITY_ID = Rule(
    "entity.id",
    Severity.ERROR,
    _GET_BILL,
    "The body's id is the id in the request path (Retrieve Bill; Get StatementJob \"Retrieves the details of a "
    'specific StatementJob using its UUID"); a UUID in another letter case is the same UUID (RFC 9562 reads '
    "UUIDs case-insensitively), any other id must match exactly.",
)
ENTITY_ORG_ID = Rule(
    "entity.org-id",
    Severity.ERROR,
    documented(
        "This endpoint retrieves the Bill with the given unique identifier (UUID) and specific Organization.",
        operation("GetBill"),
    ),
    "An orgId in the body equals the organization in the request path (a UUID in any letter case, as entity.id).",
)
_CREATED_BY = documented(
    "The unique identifier (UUID) for the user who created the Bill.",
    f"{schema_field('BillResponse', 'createdBy')}; likewise StatementJobResponse.createdBy",
)
ENTITY_IMMUTABLE = Rule(
    "entity.immutable",
    Severity.ERROR,
    documented(
        "The date and time *(in ISO 8601 format)* when the Bill was first created.",
        f'{schema_field("BillResponse", "dtCreated")}; likewise StatementJobResponse.dtCreated ("when the '
        'StatementJob was created")',
    ),
    "What records the creation never changes between reads: id, orgId, dtCreated, createdBy (date-times "
    "compare as instants). Each stands on its own evidence: dtCreated on its description, createdBy on its own, "
    "id and orgId on Retrieve Bill's (an entity is the one its UUID names).",
    also=(_CREATED_BY, _GET_BILL),
)
ENTITY_FIXED_REFERENCES = Rule(
    "entity.fixed-references",
    Severity.WARNING,
    inferred(
        "A StatementJob is created for one bill with includeCsvFormat as a request field, and a Bill is "
        "calculated for one Account, so we infer these references never change, though no sentence says so.",
        f"{operation('CreateStatementJob', excerpt=True)}; {schema_field('StatementJobResponse', 'billId')}",
    ),
    "A statement job's billId and includeCsvFormat and a bill's accountId never change between reads.",
)

_IMMUTABLE = ("id", "orgId", "dtCreated", "createdBy")
_FIXED = {
    EntityKind.BILL: ("accountId",),
    EntityKind.STATEMENT_JOB: ("billId", "includeCsvFormat"),
}


_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def is_uuid(entity_id: str) -> bool:
    """Whether ``entity_id`` is a UUID (in any letter case)."""
    return _UUID.fullmatch(entity_id) is not None


def canonical_id(entity_id: str) -> str:
    """The one spelling of an entity's id: a UUID in lower case (RFC 9562 writes UUIDs in lower case and reads
    them in any case, and some UIs show them in upper case), any other id as it is. Two ids name the same
    entity when their canonical ids are equal: within a run, in the state between runs, in a body's ``id``."""
    return entity_id.lower() if is_uuid(entity_id) else entity_id


def _same_id(asked: str, answered: object) -> bool:
    """True when the body names the id that was asked for (compared as :func:`canonical_id` spells them: a
    server that answers the canonical form of a UUID given in upper case names the same entity)."""
    return isinstance(answered, str) and canonical_id(answered) == canonical_id(asked)


def check_identity(obs: Observation, spec: object) -> Iterator[Finding]:
    body = obs.obj
    if "id" in body and not _same_id(obs.entity_id, body["id"]):
        yield ENTITY_ID.finding(obs, "$.id", f"asked for {obs.entity_id!r}, the body is {body['id']!r}")
    if "orgId" in body and not _same_id(obs.org_id, body["orgId"]):
        yield ENTITY_ORG_ID.finding(obs, "$.orgId", f"asked org {obs.org_id!r}, the body says {body['orgId']!r}")


_IMMUTABLE_EVIDENCE = {"createdBy": _CREATED_BY, "id": _GET_BILL, "orgId": _GET_BILL}


def compare_immutable(before: Observation, after: Observation) -> Iterator[Finding]:
    for rule, keys in ((ENTITY_IMMUTABLE, _IMMUTABLE), (ENTITY_FIXED_REFERENCES, _FIXED[after.kind])):
        for key in keys:
            if key in before.obj and key in after.obj and not same_value(before.obj[key], after.obj[key]):
                yield rule.finding(
                    after,
                    f"$.{key}",
                    f"{key} changed from {before.obj[key]!r} to {after.obj[key]!r}",
                    evidence=_IMMUTABLE_EVIDENCE.get(key) if rule is ENTITY_IMMUTABLE else None,
                )


CHECKS = (
    Check((ENTITY_ID, ENTITY_ORG_ID), snapshot=check_identity, name="identity"),
    Check((ENTITY_IMMUTABLE, ENTITY_FIXED_REFERENCES), pair=compare_immutable, name="immutable"),
)

__all__ = [
    "CHECKS",
    "canonical_id",
    "is_uuid",
]
