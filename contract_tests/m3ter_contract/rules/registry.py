"""Every rule in one list, and the judge that applies them to a stream of observations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import bills, identity, schema, statement_jobs, versioning
from .model import Check, Finding, Observation, Rule
from .spec import Spec

CHECKS: tuple[Check, ...] = (
    *schema.CHECKS,
    *versioning.CHECKS,
    *identity.CHECKS,
    *statement_jobs.CHECKS,
    *bills.CHECKS,
)
RULES: tuple[Rule, ...] = tuple(rule for check in CHECKS for rule in check.rules)
RULES_BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in RULES}
assert len(RULES_BY_NAME) == len(RULES), "rule names must be unique"

EntityKey = tuple[str, str]  # (kind, entity id)


def snapshot_findings(obs: Observation, spec: Spec) -> list[Finding]:
    """What the rules say about one response on its own."""
    out: list[Finding] = []
    for check in CHECKS:
        if check.snapshot is not None:
            out.extend(f for f in check.snapshot(obs, spec) if obs.kind in RULES_BY_NAME[f.rule].kinds)
    return out


def pair_findings(before: Observation, after: Observation) -> list[Finding]:
    """What the rules say about two reads of one entity, the earlier first."""
    out: list[Finding] = []
    for check in CHECKS:
        if check.pair is not None:
            out.extend(f for f in check.pair(before, after) if after.kind in RULES_BY_NAME[f.rule].kinds)
    return out


class Judge:
    """Applies every rule to observations as they arrive.

    Each observation is judged alone and against the previous observation of the same entity (which may be
    one remembered from an earlier run). The same finding seen on several reads is reported once.
    """

    def __init__(self, spec: Spec, *, remembered: Mapping[EntityKey, Observation] | None = None) -> None:
        self.spec = spec
        self._last: dict[EntityKey, Observation] = dict(remembered or {})
        self._seen: set[Finding] = set()
        self.findings: list[Finding] = []
        self.observations = 0

    def observe(self, obs: Observation) -> list[Finding]:
        """Judge ``obs``; return the findings it adds (new ones only)."""
        self.observations += 1
        key = (str(obs.kind), obs.entity_id)
        found = snapshot_findings(obs, self.spec)
        previous = self._last.get(key)
        if previous is not None and isinstance(obs.body, dict) and isinstance(previous.body, dict):
            found.extend(pair_findings(previous, obs))
        if isinstance(obs.body, dict):
            self._last[key] = obs
        fresh = [f for f in found if f not in self._seen]
        self._seen.update(fresh)
        self.findings.extend(fresh)
        return fresh

    def last(self) -> Mapping[EntityKey, Observation]:
        return self._last


def evaluate(observations: Iterable[Observation], spec: Spec | None = None) -> list[Finding]:
    """All findings for a sequence of observations (each entity's in order)."""
    judge = Judge(spec or Spec.load())
    for obs in observations:
        judge.observe(obs)
    return judge.findings


def rule_table() -> list[dict[str, Any]]:
    return [{"name": r.name, "severity": str(r.severity), "source": r.source, "summary": r.summary} for r in RULES]


__all__ = ["CHECKS", "RULES", "RULES_BY_NAME", "Judge", "evaluate", "pair_findings", "rule_table", "snapshot_findings"]
