"""Every rule in one list, and the judge that applies them to a stream of observations."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import bills, identity, schema, statement_jobs, statements, versioning, wire
from ._values import version_at
from .drift import DriftLog
from .spec import Spec
from .vocabulary import Check, Context, Evidence, Finding, Observation, Rule, Severity, SourceKind

CHECKS: tuple[Check, ...] = (
    *schema.CHECKS,
    *versioning.CHECKS,
    *identity.CHECKS,
    *statement_jobs.CHECKS,
    *bills.CHECKS,
    *wire.CHECKS,
    *statements.CHECKS,
)
RULES: tuple[Rule, ...] = tuple(rule for check in CHECKS for rule in check.rules)
RULES_BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in RULES}
assert len(RULES_BY_NAME) == len(RULES), "rule names must be unique"

EntityKey = tuple[str, str]  # (kind, entity id)

_ACROSS = [check for check in CHECKS if check.across is not None]
ACROSS_FIELDS: frozenset[str] | None = (
    None
    if any(check.keeps is None for check in _ACROSS)
    else frozenset(field for check in _ACROSS for field in check.keeps or ())
)
"""The body fields the across checks read (None: they need whole bodies)."""
SNAPSHOT_CACHE_SIZE = 1_024
"""Distinct responses whose snapshot findings the judge remembers (a repeated identical read is not re-judged)."""


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


def across_findings(observations: Sequence[Observation], context: Context) -> list[Finding]:
    """What the rules say about a run's observations together (consistency across entities)."""
    out: list[Finding] = []
    for check in CHECKS:
        if check.across is not None:
            out.extend(check.across(observations, context))
    return out


_INDEX = re.compile(r"\[\d+\]")


def schema_path(path: str) -> str:
    """``$.lineItems[*].quantity`` for ``$.lineItems[3].quantity``: the path findings are grouped by."""
    return _INDEX.sub("[*]", path)


def group_path(finding: Finding) -> Finding:
    """The finding at its schema path, the concrete path kept as an example in the message."""
    grouped = schema_path(finding.path)
    if grouped == finding.path:
        return finding
    return replace(finding, path=grouped, message=f"{finding.message} (first at {finding.path})")


def _has_version(obs: Observation) -> bool:
    return isinstance(obs.body, dict) and version_at(obs.body) is not None


def _anchor(check: Check) -> Callable[[Observation], bool] | None:
    """Which earlier read a pair check compares with: None for the last one."""
    return check.anchor or (_has_version if check.versioned else None)


def strict_finding(finding: Finding) -> Finding:
    """``finding`` as ``--strict-inferred`` reports it: a warning that stands on an inference (an inferred
    rule's, or the inferred part of a documented one) becomes an error, unless its evidence says its weaker
    reading stays a warning."""
    rule = RULES_BY_NAME.get(finding.rule)
    if rule is None:
        return finding
    evidence = finding.evidence or rule.source
    if evidence.kind is not SourceKind.INFERRED or not evidence.strict:
        return finding
    return replace(finding, severity=Severity.ERROR)


class Judge:
    """Applies every rule to observations as they arrive.

    Each observation is judged alone and against the previous observation of the same entity (which may be
    one remembered from an earlier run); the version rules compare with the last read that carried a usable
    version, so a read without one does not hide a version that went back (and the lock rule with the last
    read showing the bill locked). A finding is reported once per entity, rule, severity and schema path
    (array indexes as ``[*]``), however many reads or items show it; the drift evidence of all of them is
    merged into :attr:`drift`. :meth:`finish` adds the findings that need
    every read of the run (consistency across entities). With ``context.strict_inferred`` the findings of
    inferred rules are errors.
    """

    def __init__(
        self,
        spec: Spec,
        *,
        remembered: Mapping[EntityKey, Observation] | None = None,
        context: Context | None = None,
    ) -> None:
        self.spec = spec
        self.context = context or Context()
        # Keyed by the canonical id (a UUID in lower case): a UUID spelled in another letter case, in this run or
        # a remembered one, is the same entity.
        self._last: dict[EntityKey, Observation] = {
            (kind, identity.canonical_id(entity_id)): obs for (kind, entity_id), obs in (remembered or {}).items()
        }
        self._anchored: dict[tuple[int, EntityKey], Observation] = {}
        for index, check in enumerate(CHECKS):
            anchor = _anchor(check)
            if check.pair is not None and anchor is not None:
                for key, obs in self._last.items():
                    if anchor(obs):
                        self._anchored[(index, key)] = obs
        self._seen: set[tuple[str, str, str, str, str]] = set()
        self._all: list[Observation] = []
        self._kept: dict[EntityKey, Observation] = {}
        self._snapshots: OrderedDict[tuple[str, str, str, bytes], list[Finding]] = OrderedDict()
        self.findings: list[Finding] = []
        self.observations = 0
        info = spec.document.get("info")
        info = info if isinstance(info, Mapping) else {}
        self.drift = DriftLog(spec.openapi, str(info.get("title", "")), str(info.get("version", "")))
        """The drift of every finding judged, merged by place (every read and item, not only the ones kept)."""

    def _add(self, found: Iterable[Finding]) -> list[Finding]:
        fresh: list[Finding] = []
        if self.context.strict_inferred:
            found = map(strict_finding, found)
        for finding in map(group_path, found):
            if finding.drift is not None:
                self.drift.add(finding.drift, finding.path)
            key = (finding.entity_id, finding.endpoint, finding.rule, str(finding.severity), finding.path)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(finding)
        self.findings.extend(fresh)
        return fresh

    def observe(self, obs: Observation, raw: bytes | None = None) -> list[Finding]:
        """Judge ``obs``; return the findings it adds (new ones only). ``raw``, the bytes ``obs.body`` was
        decoded from, lets a read identical to a recent one of the same entity reuse its snapshot findings
        (same bytes, same verdict) instead of judging the body again."""
        self.observations += 1
        key = (str(obs.kind), identity.canonical_id(obs.entity_id))
        self._keep(key, obs)
        found = list(self._snapshot(obs, raw))
        if isinstance(obs.body, dict):
            as_stored: Observation | None = None
            for index, check in enumerate(CHECKS):
                if check.pair is None:
                    continue
                anchor = _anchor(check)
                previous = self._last.get(key) if anchor is None else self._anchored.get((index, key))
                if previous is not None and isinstance(previous.body, dict):
                    against = obs
                    if previous.stored_as is not None:  # remembered: compared in the form it was stored in
                        if as_stored is None:
                            as_stored = replace(obs, body=previous.stored_as(obs.body))
                        against = as_stored
                    found.extend(f for f in check.pair(previous, against) if obs.kind in RULES_BY_NAME[f.rule].kinds)
                if anchor is not None and anchor(obs):
                    self._anchored[(index, key)] = obs
            self._last[key] = obs
        return self._add(found)

    def _snapshot(self, obs: Observation, raw: bytes | None) -> list[Finding]:
        if raw is None:
            return snapshot_findings(obs, self.spec)
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        cache_key = (str(obs.kind), obs.entity_id, obs.org_id, digest)
        found = self._snapshots.get(cache_key)
        if found is None:
            found = snapshot_findings(obs, self.spec)
            self._snapshots[cache_key] = found
            if len(self._snapshots) > SNAPSHOT_CACHE_SIZE:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(cache_key)
        return found

    def _keep(self, key: EntityKey, obs: Observation) -> None:
        """Remember for :meth:`finish` only what the across checks read; a read that shows them nothing new
        about its entity (the same fields as its last read) is not kept twice."""
        if ACROSS_FIELDS is not None and isinstance(obs.body, dict):
            body = obs.body
            obs = replace(obs, body={name: body[name] for name in ACROSS_FIELDS if name in body})
            previous = self._kept.get(key)
            if previous is not None and previous.body == obs.body and previous.org_id == obs.org_id:
                return
            self._kept[key] = obs
        self._all.append(obs)

    def report(self, found: Iterable[Finding]) -> list[Finding]:
        """Add findings judged outside :meth:`observe` (the wire, statement downloads); the new ones only."""
        return self._add(found)

    def finish(self) -> list[Finding]:
        """The findings that need the whole run (call once, after the last read); the new ones only."""
        return self._add(across_findings(self._all, self.context))

    def last(self) -> Mapping[EntityKey, Observation]:
        return self._last


def evaluate(
    observations: Iterable[Observation], spec: Spec | None = None, *, context: Context | None = None
) -> list[Finding]:
    """All findings for a sequence of observations (each entity's in order)."""
    judge = Judge(spec or Spec.load(), context=context)
    for obs in observations:
        judge.observe(obs)
    judge.finish()
    return judge.findings


def _evidence_row(evidence: Evidence) -> dict[str, Any]:
    return {
        "kind": str(evidence.kind),
        "source": evidence.text,
        "where": evidence.where,
        "ref": evidence.ref,
        "strict": evidence.strict,
    }


def rule_table() -> list[dict[str, Any]]:
    """Every rule as plain data (``m3ter-conformance --list-rules --json``): name, default and
    ``--strict-inferred`` severity, evidence (kind, quote or reasoning, where, short reference), summary, and
    ``also``: the other evidence a part of the rule stands on."""
    return [
        {
            "name": r.name,
            "severity": str(r.severity),
            "strict_severity": str(r.strict_severity),
            "kind": str(r.source.kind),
            "source": r.source.text,
            "where": r.source.where,
            "ref": r.source.ref,
            "summary": r.summary,
            "also": [_evidence_row(evidence) for evidence in r.also],
        }
        for r in RULES
    ]


__all__ = [
    "ACROSS_FIELDS",
    "CHECKS",
    "RULES",
    "RULES_BY_NAME",
    "SNAPSHOT_CACHE_SIZE",
    "Judge",
    "across_findings",
    "evaluate",
    "group_path",
    "pair_findings",
    "rule_table",
    "schema_path",
    "snapshot_findings",
    "strict_finding",
]
