"""The vocabulary every rule speaks: what was observed, what a rule is, and what it finds."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .drift import Drift


class Severity(enum.StrEnum):
    """How bad a finding is: an ``error`` fails the conformance check, a ``warning`` does not."""

    ERROR = "error"
    WARNING = "warning"


class EntityKind(enum.StrEnum):
    BILL = "bill"
    STATEMENT_JOB = "statement_job"

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self]

    @property
    def schema_name(self) -> str:
        return SCHEMAS[self]


ENDPOINTS: Mapping[EntityKind, str] = {
    EntityKind.BILL: "GET /organizations/{orgId}/bills/{id}",
    EntityKind.STATEMENT_JOB: "GET /organizations/{orgId}/statementjobs/{id}",
}
SCHEMAS: Mapping[EntityKind, str] = {
    EntityKind.BILL: "BillResponse",
    EntityKind.STATEMENT_JOB: "StatementJobResponse",
}
BOTH = frozenset(EntityKind)


class NotJSON:
    """The body of a 200 response that is not a JSON document (kept as text for the message)."""

    def __init__(self, text: str, error: str, *, limit: bool = False) -> None:
        self.text = text
        self.error = error
        self.limit = limit
        """Not judged because of a limit of this check (nesting), not because the body is not JSON."""

    def __repr__(self) -> str:
        return f"NotJSON({self.error!r})"


@dataclass(frozen=True, slots=True)
class Observation:
    """One 200 response for one entity: the decoded JSON exactly as the server sent it.

    ``entity_id`` and ``org_id`` are what was *asked for*; the body may say otherwise, which is a finding.
    ``seq`` orders the observations of one entity; ``remembered`` marks one loaded from an earlier run, and
    ``stored_as`` is then how a body is turned into the form it was stored in (the state file redacts
    strings that may hold secrets): a later read is compared with it in that form, so what the storing
    changed is never taken for a change made by the server.
    """

    kind: EntityKind
    entity_id: str
    org_id: str
    body: Any
    seq: int = 0
    remembered: bool = False
    stored_as: Callable[[Any], Any] | None = field(default=None, compare=False, repr=False)

    @property
    def endpoint(self) -> str:
        return self.kind.endpoint

    @property
    def obj(self) -> Mapping[str, Any]:
        """The body when it is a JSON object, otherwise an empty mapping (the schema rules report that)."""
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One broken rule at one JSON path of one entity's response."""

    entity_id: str
    endpoint: str
    rule: str
    severity: Severity
    path: str
    message: str
    suggestion: str | None = None
    drift: Drift | None = field(default=None, compare=False, repr=False)
    """Drift evidence (where the spec should learn what, and the shape seen): never in a report."""
    evidence: Evidence | None = field(default=None, compare=False, repr=False)
    """What this finding stands on: its rule's evidence, or the other evidence the rule names for a part of
    what it checks (see :attr:`Rule.also`). None for a finding built by hand (a report reads the rule's)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entity_id": self.entity_id,
            "endpoint": self.endpoint,
            "rule": self.rule,
            "severity": str(self.severity),
            "path": self.path,
            "message": self.message,
        }
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.evidence is not None:
            out["kind"] = str(self.evidence.kind)
            out["source"] = self.evidence.ref
        return out


class SourceKind(enum.StrEnum):
    """What a rule stands on. Only ``documented`` and ``standard`` rules may be errors by default."""

    DOCUMENTED = "documented"
    """m3ter's own words: a verbatim quote from its published OpenAPI document or API docs."""
    STANDARD = "standard"
    """A standard the spec is written in: a verbatim quote from an RFC, JSON Schema or the OpenAPI spec."""
    INFERRED = "inferred"
    """Our reading of what m3ter wrote, in one sentence: a warning unless the user opts in (strict)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule exists. ``text`` is the verbatim quote (documented, standard) or the one-sentence
    reasoning (inferred); ``where`` names the document and the place in it the quote comes from (for an
    inferred rule: what the reasoning reads). ``strict``: an inferred rule's findings become errors under
    ``--strict-inferred`` (False for a rule whose weaker reading stays a warning even then)."""

    kind: SourceKind
    text: str
    where: str
    strict: bool = True

    def __post_init__(self) -> None:
        if not self.text.strip() or not self.where.strip():
            raise ValueError("evidence needs its text and where it comes from")

    @property
    def ref(self) -> str:
        """``where`` in short, for a report line: ``m3ter OpenAPI BillResponse.dtCreated``, ``RFC 4180, section
        2`` (without the committed file it is copied in; the rules table has the whole reference)."""
        return short_reference(self.where)


_FILE = re.compile(r"\s*\(spec/upstream/[^()]*\)")
_SCHEMA_FIELD = re.compile(r"components\.schemas\.(\w+)\.properties\.(\w+)\.description")
_SCHEMA = re.compile(r"components\.schemas\.(\w+)\.description")
_OPERATION = re.compile(r"operation (\w+) description")


def short_reference(where: str) -> str:
    """A rule's ``where`` in short (idempotent): the committed files dropped, m3ter's schema places as
    ``Schema.property``, ``m3ter's published OpenAPI document`` as ``m3ter OpenAPI``."""
    text = _FILE.sub("", where)
    text = _SCHEMA_FIELD.sub(r"\1.\2", text)
    text = _SCHEMA.sub(r"\1", text)
    text = _OPERATION.sub(r"operation \1", text)
    return text.replace("m3ter's published OpenAPI document", "m3ter OpenAPI").strip()


def documented(quote: str, where: str) -> Evidence:
    """m3ter's words, verbatim (a test finds them in spec/upstream/)."""
    return Evidence(SourceKind.DOCUMENTED, quote, where)


def standard(quote: str, where: str) -> Evidence:
    """A standard's words, verbatim (a test finds them in spec/upstream/standards-excerpts.json)."""
    return Evidence(SourceKind.STANDARD, quote, where)


def inferred(reasoning: str, where: str, *, strict: bool = True) -> Evidence:
    """Our reasoning in one sentence; the rule is a warning by default."""
    return Evidence(SourceKind.INFERRED, reasoning, where, strict)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: a stable ``name``, a default ``severity``, the ``source`` it stands on (its evidence), and a
    one-line ``summary`` of what is checked. A rule that rests on an inference is never an error by default."""

    name: str
    severity: Severity
    source: Evidence
    summary: str
    kinds: frozenset[EntityKind] = BOTH
    also: tuple[Evidence, ...] = ()
    """Other evidence the rule stands on for a part of what it checks (an inference beside a documented
    case, or another documented field): a finding of that part names it (``finding(..., evidence=)``); one
    that stands on an inference is never an error by default."""

    def __post_init__(self) -> None:
        if self.source.kind is SourceKind.INFERRED and self.severity is Severity.ERROR:
            raise ValueError(f"{self.name}: an inferred rule is a warning by default (--strict-inferred raises it)")

    @property
    def strict_severity(self) -> Severity:
        """The severity of this rule's findings under ``--strict-inferred``."""
        if self.source.kind is SourceKind.INFERRED and self.source.strict:
            return Severity.ERROR
        return self.severity

    def finding(
        self,
        obs: Observation,
        path: str,
        message: str,
        suggestion: str | None = None,
        *,
        severity: Severity | None = None,
        drift: Drift | None = None,
        evidence: Evidence | None = None,
    ) -> Finding:
        """A finding of this rule; ``severity`` lowers it for a weaker case the summary names; ``evidence``
        (one of :attr:`also`) says it stands on that evidence instead of :attr:`source`."""
        if evidence is not None and evidence is not self.source and evidence not in self.also:
            raise ValueError(f"{self.name}: a finding's evidence must be the rule's own (source or also)")
        evidence = evidence or self.source
        severity = severity or self.severity
        if evidence.kind is SourceKind.INFERRED and severity is Severity.ERROR:
            raise ValueError(f"{self.name}: a finding that stands on an inference is a warning by default")
        return Finding(
            entity_id=obs.entity_id,
            endpoint=obs.endpoint,
            rule=self.name,
            severity=severity,
            path=path,
            message=message,
            suggestion=suggestion,
            drift=drift,
            evidence=evidence,
        )

    def evidence_of(self, kind: str | None, source: str | None = None) -> Evidence:
        """The evidence of a finding of this rule read back from a report, which names its ``kind`` and its
        ``source`` (:attr:`Evidence.ref`): the one of the rule's own and :attr:`also` that matches both, else
        the first that matches the kind (a report of another version, whose references may differ), else the
        rule's own."""
        candidates = (self.source, *self.also)
        for evidence in candidates:
            if evidence.kind == kind and evidence.ref == source:
                return evidence
        return next((evidence for evidence in candidates if evidence.kind == kind), self.source)


SnapshotFn = Callable[[Observation, Any], Iterable[Finding]]
"""Judges one observation (the second argument is the loaded :class:`~m3ter_contract.rules.spec.Spec`)."""
PairFn = Callable[[Observation, Observation], Iterable[Finding]]
"""Judges two observations of the same entity, the earlier first."""


EXTERNAL_INVOICE_DATE_SETTINGS = ("FIRST_DAY_OF_NEXT_PERIOD", "LAST_DAY_OF_ARREARS")


@dataclass(frozen=True, slots=True)
class Context:
    """What the reader knows about the organization beyond the responses (from options, not the wire).

    ``external_invoice_date``: the organization's External invoice date setting, when known.
    """

    external_invoice_date: str | None = None
    strict_inferred: bool = False
    """``--strict-inferred``: findings of inferred rules are errors (see :attr:`Rule.strict_severity`)."""


AcrossFn = Callable[[Sequence[Observation], Context], Iterable[Finding]]
"""Judges every observation of a run together (each entity's reads in order), once at its end."""


@dataclass(frozen=True, slots=True)
class Check:
    """A function and the rules it may report. Snapshot checks see one response, pair checks two."""

    rules: tuple[Rule, ...]
    snapshot: SnapshotFn | None = None
    pair: PairFn | None = None
    name: str = field(default="")
    across: AcrossFn | None = None
    versioned: bool = False
    """A pair check that compares with the last read carrying a usable version (not merely the last read)."""
    anchor: Callable[[Observation], bool] | None = None
    """A pair check that compares with the last earlier read for which ``anchor`` is true (e.g. the last read
    showing a bill locked), however many reads came between."""
    keeps: frozenset[str] | None = None
    """An across check: the top-level body fields it reads. The judge keeps only those of each read until the
    run ends (None: whole bodies)."""


def json_path(base: str, *parts: str | int) -> str:
    """``$.lineItems[3].quantity`` from ``"$", "lineItems", 3, "quantity"``."""
    out = base
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


__all__ = [
    "BOTH",
    "ENDPOINTS",
    "EXTERNAL_INVOICE_DATE_SETTINGS",
    "SCHEMAS",
    "AcrossFn",
    "Check",
    "Context",
    "EntityKind",
    "Evidence",
    "Finding",
    "NotJSON",
    "Observation",
    "PairFn",
    "Rule",
    "Severity",
    "SnapshotFn",
    "SourceKind",
    "documented",
    "inferred",
    "json_path",
    "short_reference",
    "standard",
]
