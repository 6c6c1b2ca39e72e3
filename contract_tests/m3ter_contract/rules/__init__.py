"""m3ter's API rules, written once: each with a stable name, a severity and the evidence it stands on.

The tests and the conformance check (and through it the sandbox's self-check,
``m3ter_contract.conformance.embedded.check_sandbox``: the sandbox itself never imports the rules) all judge
responses with these::

    from m3ter_contract.rules import EntityKind, Observation, evaluate

    findings = evaluate([Observation(EntityKind.BILL, "bill-id", "org-id", body)])

Each rule states its evidence (documented: m3ter's words; standard: an RFC, JSON Schema or OpenAPI;
inferred: our reading, a warning unless ``Context(strict_inferred=True)``). Rules judge the decoded JSON
the server sent (not what a client model kept), against the curated spec (or one given to ``Spec.load``).
"""

from .registry import RULES, RULES_BY_NAME, Judge, evaluate, pair_findings, snapshot_findings
from .spec import Spec, SpecError
from .vocabulary import (
    EXTERNAL_INVOICE_DATE_SETTINGS,
    Context,
    EntityKind,
    Evidence,
    Finding,
    NotJSON,
    Observation,
    Rule,
    Severity,
    SourceKind,
)

__all__ = [
    "EXTERNAL_INVOICE_DATE_SETTINGS",
    "RULES",
    "RULES_BY_NAME",
    "Context",
    "EntityKind",
    "Evidence",
    "Finding",
    "Judge",
    "NotJSON",
    "Observation",
    "Rule",
    "Severity",
    "SourceKind",
    "Spec",
    "SpecError",
    "evaluate",
    "pair_findings",
    "snapshot_findings",
]
