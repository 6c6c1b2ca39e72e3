"""m3ter's documented rules, written once: each with a stable name, a severity and its source sentence.

The tests, the sandbox's self-checks and the conformance check all judge responses with these::

    from m3ter_contract.rules import EntityKind, Observation, evaluate

    findings = evaluate([Observation(EntityKind.BILL, "bill-id", "org-id", body)])

Rules judge the decoded JSON the server sent (not what a client model kept), against the curated spec.
"""

from .model import EXTERNAL_INVOICE_DATE_SETTINGS, Context, EntityKind, Finding, NotJSON, Observation, Rule, Severity
from .registry import RULES, RULES_BY_NAME, Judge, evaluate, pair_findings, snapshot_findings
from .spec import Spec, SpecError

__all__ = [
    "EXTERNAL_INVOICE_DATE_SETTINGS",
    "RULES",
    "RULES_BY_NAME",
    "Context",
    "EntityKind",
    "Finding",
    "Judge",
    "NotJSON",
    "Observation",
    "Rule",
    "Severity",
    "Spec",
    "SpecError",
    "evaluate",
    "pair_findings",
    "snapshot_findings",
]
