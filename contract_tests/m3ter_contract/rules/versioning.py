"""The version counter and the audit timestamps, judged within one response and across observations."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._values import instant_at, normalise_datetimes, version_at
from .sources import schema_field
from .vocabulary import Check, Finding, Observation, Rule, Severity, documented, inferred

_CREATE = documented(
    "On initial Create to insert a new entity, the version is set at 1 in the response.",
    schema_field("AbstractResponse", "version"),
)
_UPDATE = documented(
    "On successful Update, the version is incremented by 1 in the response.",
    schema_field("AbstractResponse", "version"),
)

VERSION_MINIMUM = Rule(
    "version.minimum",
    Severity.ERROR,
    _CREATE,
    "version is an integer of at least 1.",
)
VERSION_NO_DECREASE = Rule(
    "version.no-decrease",
    Severity.ERROR,
    _UPDATE,
    "Between two reads of one entity (within a run or across runs) the version never goes down.",
)
DERIVED_CHANGE = inferred(
    "m3ter derives the statement statuses and flags and the presigned URLs from other work (statement "
    "generation, staleness, re-signing), so we infer a change limited to them may come without an Update of the "
    "entity and report it as a warning only, even with --strict-inferred.",
    f"{schema_field('AbstractResponse', 'version')}; {schema_field('BillResponse', 'statementStale')}",
    strict=False,
)
"""The evidence of every finding about a change limited to :data:`DERIVED_FIELDS` (version.bump-on-change,
version.dt-last-modified, bill.locked-unchanged): the same event is judged the same way by each."""

VERSION_BUMP_ON_CHANGE = Rule(
    "version.bump-on-change",
    Severity.ERROR,
    _UPDATE,
    "An Update increments the version, so two reads at the same version show the same content: content that "
    "changed while the version stayed the same is an Update that did not increment it (presigned URLs compared "
    "by presence only: they are re-signed; date-times as instants). A change limited to derived fields "
    "(statement statuses and flags, presigned URLs) is an inferred warning, even with --strict-inferred: m3ter "
    "may update those without an Update of the entity.",
    also=(DERIVED_CHANGE,),
)
_DT_SAME_INSTANT = inferred(
    "Two Updates within the resolution of the timestamp leave dtLastModified at the same instant, so a version "
    "that rose with dtLastModified unchanged is a warning only, even with --strict-inferred.",
    schema_field("BillResponse", "dtLastModified"),
    strict=False,
)
VERSION_DT_LAST_MODIFIED = Rule(
    "version.dt-last-modified",
    Severity.WARNING,
    inferred(
        'dtLastModified is "The date and time *(in ISO 8601 format)* when the Bill was last modified" and "On '
        'successful Update, the version is incremented by 1", so we infer dtLastModified moves with the version, '
        "though no sentence couples them.",
        f"{schema_field('BillResponse', 'dtLastModified')}; likewise StatementJobResponse.dtLastModified; "
        f"{schema_field('AbstractResponse', 'version')}",
    ),
    "dtLastModified moves with the version: later when the version rose, the same when it did not. The same "
    "instant after a rise (two updates within the timestamp's resolution), and a change of dtLastModified at "
    "one version whose other changes are limited to derived fields (as in version.bump-on-change), are warnings "
    "even with --strict-inferred.",
    also=(_DT_SAME_INSTANT, DERIVED_CHANGE),
)
VERSION_DT_ORDER = Rule(
    "version.dt-order",
    Severity.ERROR,
    documented(
        "The date and time *(in ISO 8601 format)* when the Bill was first created.",
        f'{schema_field("BillResponse", "dtCreated")}; likewise StatementJobResponse.dtCreated ("when the '
        'StatementJob was created")',
    ),
    "dtLastModified never precedes dtCreated.",
)

# Fields whose values legitimately change without an update: the presigned URLs are re-signed per read.
VOLATILE_VALUES = frozenset({"presignedJsonStatementUrl", "presignedCsvStatementUrl"})
# Fields m3ter derives from other work (statement generation, staleness, re-signing): on a real organization
# they may change without an Update of the entity, so a change limited to them is only a warning.
DERIVED_FIELDS = frozenset(
    {
        "jsonStatementStatus",
        "csvStatementStatus",
        "statementStale",
        "jsonStatementGenerated",
        "csvStatementGenerated",
        *VOLATILE_VALUES,
    }
)
_OWN_RULE = frozenset({"version", "dtLastModified"})


def content_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """What must not change without a version bump: the body less version and dtLastModified, with the
    presigned URLs reduced to their presence and date-times to the instants they name."""
    return {
        key: (value is not None if key in VOLATILE_VALUES else normalise_datetimes(value))
        for key, value in body.items()
        if key not in _OWN_RULE
    }


def _top_field(path: str) -> str:
    return path.removeprefix("$.").split(".", 1)[0].split("[", 1)[0]


def _changed_paths(before: Any, after: Any, path: str = "$") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            out.extend(_changed_paths(before.get(key), after.get(key), f"{path}.{key}"))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for index, (left, right) in enumerate(zip(before, after, strict=True)):
            out.extend(_changed_paths(left, right, f"{path}[{index}]"))
        return out
    return [] if before == after else [path]


LONG_NUMBER = 40
"""Digits from which a version is shown cut short in a message: its first and last digits and how many."""


def shown_version(obs: Observation) -> str:
    """The version as the server sent it, for a message: ``1e300`` as the float it is (``1e+300``), not the
    integer it counts as; a number longer than :data:`LONG_NUMBER` digits as its first 16 and last 4 digits and
    its digit count (a 5,000-digit version is not printed whole)."""
    text = str(obs.obj.get("version"))  # an integer too long for int() is a HugeInteger: str() is its literal
    digits = sum(character.isdigit() for character in text)
    if digits <= LONG_NUMBER:
        return text
    return f"{text[:16]}...{text[-4:]} ({digits} digits)"


def only_derived(changed: list[str]) -> bool:
    """True when every changed path (``$.statementStale``, ``$.lineItems[0].x``) lies in a derived field."""
    return all(_top_field(path) in DERIVED_FIELDS for path in changed)


def check_version(obs: Observation, spec: object) -> Iterator[Finding]:
    version = version_at(obs.obj)
    if version is not None and version < 1:
        yield VERSION_MINIMUM.finding(obs, "$.version", f"version is {shown_version(obs)}; a new entity starts at 1")


def check_dt_order(obs: Observation, spec: object) -> Iterator[Finding]:
    created, modified = instant_at(obs.obj, "dtCreated"), instant_at(obs.obj, "dtLastModified")
    if created is not None and modified is not None and modified < created:
        yield VERSION_DT_ORDER.finding(
            obs,
            "$.dtLastModified",
            f"dtLastModified {obs.obj['dtLastModified']} precedes dtCreated {obs.obj['dtCreated']}",
        )


def _where(obs: Observation) -> str:
    # No read number: the same finding on several reads must read the same to be reported once.
    return "a previous run" if obs.remembered else "an earlier read"


def compare_versions(before: Observation, after: Observation) -> Iterator[Finding]:
    old, new = version_at(before.obj), version_at(after.obj)
    if old is None or new is None:
        return
    if new < old:
        yield VERSION_NO_DECREASE.finding(
            after,
            "$.version",
            f"version went back from {shown_version(before)} ({_where(before)}) to {shown_version(after)}",
        )
        return
    if new == old:
        changed = _changed_paths(content_view(before.obj), content_view(after.obj))
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            if only_derived(changed):
                yield VERSION_BUMP_ON_CHANGE.finding(
                    after,
                    changed[0],
                    f"only derived fields changed ({shown}) with version {shown_version(after)} unchanged since "
                    f"{_where(before)}; "
                    "m3ter may update statement statuses, flags and URLs without an Update, so this is a warning",
                    severity=Severity.WARNING,
                    evidence=DERIVED_CHANGE,
                )
                return
            yield VERSION_BUMP_ON_CHANGE.finding(
                after,
                changed[0],
                f"content changed ({shown}) but version stayed {shown_version(after)} since {_where(before)}",
            )


def compare_dt_last_modified(before: Observation, after: Observation) -> Iterator[Finding]:
    old, new = version_at(before.obj), version_at(after.obj)
    old_dt, new_dt = instant_at(before.obj, "dtLastModified"), instant_at(after.obj, "dtLastModified")
    if old is None or new is None or old_dt is None or new_dt is None or new < old:
        return
    if new > old and new_dt < old_dt:
        yield VERSION_DT_LAST_MODIFIED.finding(
            after,
            "$.dtLastModified",
            f"version rose from {old} to {new} but dtLastModified went back "
            f"({before.obj['dtLastModified']} -> {after.obj['dtLastModified']})",
        )
    elif new > old and new_dt == old_dt:
        yield VERSION_DT_LAST_MODIFIED.finding(
            after,
            "$.dtLastModified",
            f"version rose from {old} to {new} but dtLastModified stayed {after.obj['dtLastModified']} "
            "(two updates within the timestamp's resolution, or a missed update of dtLastModified)",
            evidence=_DT_SAME_INSTANT,
        )
    elif new == old and new_dt != old_dt:
        message = (
            f"dtLastModified changed ({before.obj['dtLastModified']} -> {after.obj['dtLastModified']}) "
            f"but version stayed {new}"
        )
        changed = _changed_paths(content_view(before.obj), content_view(after.obj))
        if changed and only_derived(changed):
            yield VERSION_DT_LAST_MODIFIED.finding(
                after,
                "$.dtLastModified",
                f"{message}, and only derived fields changed besides; m3ter may update statement statuses, flags "
                "and URLs without an Update, so this is a warning",
                evidence=DERIVED_CHANGE,
            )
        else:
            yield VERSION_DT_LAST_MODIFIED.finding(after, "$.dtLastModified", message)


CHECKS = (
    Check((VERSION_MINIMUM,), snapshot=check_version, name="version"),
    Check((VERSION_DT_ORDER,), snapshot=check_dt_order, name="dt-order"),
    Check((VERSION_NO_DECREASE, VERSION_BUMP_ON_CHANGE), pair=compare_versions, name="versions", versioned=True),
    Check((VERSION_DT_LAST_MODIFIED,), pair=compare_dt_last_modified, name="dt-last-modified", versioned=True),
)

__all__ = ["CHECKS", "DERIVED_CHANGE", "DERIVED_FIELDS", "VOLATILE_VALUES", "content_view", "only_derived"]
