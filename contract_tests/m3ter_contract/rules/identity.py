"""The response is the entity that was asked for, in the organization that was asked for."""

from __future__ import annotations

from collections.abc import Iterator

from ._values import same_value
from .model import Check, EntityKind, Finding, Observation, Rule, Severity

ENTITY_ID = Rule(
    "entity.id",
    Severity.ERROR,
    "Retrieve the Bill with the given UUID. / Retrieves the details of a specific StatementJob using its UUID.",
    "The body's id is the id in the request path.",
)
ENTITY_ORG_ID = Rule(
    "entity.org-id",
    Severity.ERROR,
    "This endpoint retrieves the Bill with the given unique identifier (UUID) and specific Organization.",
    "An orgId in the body equals the organization in the request path.",
)
ENTITY_IMMUTABLE = Rule(
    "entity.immutable",
    Severity.ERROR,
    "dtCreated: The date and time (in ISO 8601 format) when the Bill was first created.",
    "What is fixed at creation never changes between reads: id, orgId, dtCreated, createdBy (and a "
    "statement job's billId and includeCsvFormat, a bill's accountId); date-times compare as instants.",
)

_IMMUTABLE = {
    EntityKind.BILL: ("id", "orgId", "dtCreated", "createdBy", "accountId"),
    EntityKind.STATEMENT_JOB: ("id", "orgId", "dtCreated", "createdBy", "billId", "includeCsvFormat"),
}


def check_identity(obs: Observation, spec: object) -> Iterator[Finding]:
    body = obs.obj
    if "id" in body and body["id"] != obs.entity_id:
        yield ENTITY_ID.finding(obs, "$.id", f"asked for {obs.entity_id!r}, the body is {body['id']!r}")
    if "orgId" in body and body["orgId"] != obs.org_id:
        yield ENTITY_ORG_ID.finding(obs, "$.orgId", f"asked org {obs.org_id!r}, the body says {body['orgId']!r}")


def compare_immutable(before: Observation, after: Observation) -> Iterator[Finding]:
    for key in _IMMUTABLE[after.kind]:
        if key in before.obj and key in after.obj and not same_value(before.obj[key], after.obj[key]):
            yield ENTITY_IMMUTABLE.finding(
                after, f"$.{key}", f"{key} changed from {before.obj[key]!r} to {after.obj[key]!r}"
            )


CHECKS = (
    Check((ENTITY_ID, ENTITY_ORG_ID), snapshot=check_identity, name="identity"),
    Check((ENTITY_IMMUTABLE,), pair=compare_immutable, name="immutable"),
)

__all__ = ["CHECKS"]
