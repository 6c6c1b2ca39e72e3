"""The response on the wire: RFC 8259 JSON exactly, the declared media type, numbers that fit their format.

``json.loads`` is lenient where RFC 8259 is not: it accepts ``NaN``/``Infinity``, strips nothing but also
refuses nothing about a byte order mark once decoded, and keeps the last of two members with one name.
:func:`decode` parses a 200 body strictly enough to *report* each of those (as :class:`WireIssue`) while
still returning the value a lenient reader would see, so every other rule judges the body as well.

Judged here, by the runner, from the raw bytes and headers: ``response.json-literal``, ``response.json-bom``,
``response.duplicate-member`` and ``response.media-type``. Judged from the decoded body like any other
snapshot rule: ``schema.int-range`` and ``schema.finite-number``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from m3ter_billing.redaction import scrub

from .sources import OAS_303, OAS_303_FORMATS, RFC_8259
from .spec import Spec
from .vocabulary import Check, Finding, NotJSON, Observation, Rule, Severity, json_path, standard

JSON_LITERAL = Rule(
    "response.json-literal",
    Severity.ERROR,
    standard(
        "Numeric values that cannot be represented in the grammar below (such as Infinity and NaN) are not permitted.",
        f"{RFC_8259}, section 6 Numbers",
    ),
    "A 200 body uses no non-standard literal (NaN, Infinity, -Infinity): they are not JSON, and strict "
    "parsers (msgspec, JavaScript's JSON.parse) refuse the whole body.",
)
JSON_BOM = Rule(
    "response.json-bom",
    Severity.ERROR,
    standard(
        "Implementations MUST NOT add a byte order mark (U+FEFF) to the beginning of a networked-transmitted "
        "JSON text.",
        f"{RFC_8259}, section 8.1 Character Encoding",
    ),
    "A 200 body does not start with a byte order mark (the rest of the body is still judged).",
)
DUPLICATE_MEMBER = Rule(
    "response.duplicate-member",
    Severity.ERROR,
    standard(
        "When the names within an object are not unique, the behavior of software that receives such an object "
        "is unpredictable.",
        f"{RFC_8259}, section 4 Objects",
    ),
    "No object repeats a member name. An error when the values differ (a first-wins and a last-wins reader "
    "see different entities; the other rules judge the last value), a warning when they are equal.",
)
MEDIA_TYPE = Rule(
    "response.media-type",
    Severity.ERROR,
    standard(
        "A map containing descriptions of potential response payloads. The key is a media type or [media type "
        "range](https://tools.ietf.org/html/rfc7231#appendix-D) and the value describes it.",
        f"{OAS_303}, Response Object content (both operations declare only application/json for 200)",
    ),
    "A 2xx response is labelled application/json (or a +json type, RFC 6838 section 4.2.8), with any parameters.",
)
INT_RANGE = Rule(
    "schema.int-range",
    Severity.ERROR,
    standard("`integer` | `int32` | signed 32 bits", f"{OAS_303_FORMATS} (int64 likewise: signed 64 bits)"),
    "An integer whose schema declares `format: int32` / `int64` lies within that range.",
)
FINITE_NUMBER = Rule(
    "schema.finite-number",
    Severity.WARNING,
    standard(
        "Since software that implements IEEE 754 binary64 (double precision) numbers [IEEE754] is generally "
        "available and widely used, good interoperability can be achieved by implementations that expect no more "
        "precision or range than these provide, in the sense that implementations will approximate JSON numbers "
        "within the expected precision.",
        f"{RFC_8259}, section 6 Numbers",
    ),
    "Every number is finite as an IEEE 754 double (a literal such as 1e400 is in RFC 8259's grammar but "
    "overflows to infinity in most readers). A warning: RFC 8259 allows such a number and only advises "
    "expecting no more range than binary64 for interoperability.",
)

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_RANGES: Mapping[str, tuple[int, int]] = {"int32": INT32, "int64": INT64}
MAX_DEPTH = 64
"""Deeper bodies are not judged (reported as ``response.json``): the spec's schemas nest five levels at most,
and RFC 8259 section 9 lets a parser limit nesting. Keeps every recursive rule far from Python's stack limit."""


class JSONLiteral(float):
    """A ``NaN`` / ``Infinity`` / ``-Infinity`` literal as the lenient reader decodes it (a float), marked so
    the rules can tell it from a number that overflowed."""

    literal: str

    def __new__(cls, literal: str) -> JSONLiteral:
        value = super().__new__(cls, float(literal.replace("Infinity", "inf")))
        value.literal = literal
        return value

    def __eq__(self, other: object) -> bool:
        """The same literal is the same value (``NaN`` too): two reads of one body compare equal."""
        if isinstance(other, JSONLiteral):
            return self.literal == other.literal
        return float.__eq__(self, other)

    def __hash__(self) -> int:
        return hash(self.literal)


_STAND_IN_PREFIX = 281
"""How many leading digits of a :class:`HugeInteger` its stand-in keeps: with the 39 of the digest, 320
digits, more than any finite double has (309), so a float compares with the stand-in as with the literal, and
fewer than the lowest limit Python lets a process set (640), so the stand-in always converts."""


class HugeInteger(int):
    """An integer literal with more digits than ``int()`` converts (``sys.get_int_max_str_digits()``: 4300 by
    default, a process-wide guard against quadratic conversions, which this tool leaves as it is). It is valid
    JSON, so the rules judge it as the integer it is: an ``int`` (``type: integer``, schema.int-range, drift),
    ``str()`` and ``repr()`` give the literal, and it compares with any number as the literal's value does.

    Its int value is a stand-in, since nothing may convert the literal: its sign, its first 281 digits and a
    128-bit digest of all of them. ``json.dumps`` writes that stand-in (it calls ``int.__repr__``: the state
    file, a quoted value), so it is short enough to convert, shows the literal's leading digits where a value is
    cut for a message, and is equal for two reads exactly when they send the same literal, also after a round
    trip through the state file. Ordering is the literal's: against a plain integer (fewer digits, as json gives
    it) only the sign counts, and a finite float is smaller than the stand-in too."""

    literal: str

    def __new__(cls, literal: str) -> HugeInteger:
        digits = literal.removeprefix("-")
        digest = int.from_bytes(hashlib.sha256(digits.encode()).digest()[:16])
        stand_in = int(f"{digits[:_STAND_IN_PREFIX]}{digest:039d}")
        value = super().__new__(cls, -stand_in if literal.startswith("-") else stand_in)
        value.literal = literal
        return value

    def __str__(self) -> str:
        return self.literal

    __repr__ = __str__

    def _order(self, other: object) -> int | None:
        """-1, 0 or 1 as this integer is below, equal to or above ``other``; None when ``other`` is no number
        or NaN (then the other side answers: every comparison with NaN is false)."""
        sign = -1 if self.literal.startswith("-") else 1
        if isinstance(other, HugeInteger):
            if other.literal.startswith("-") != (sign < 0):
                return sign
            mine, theirs = (len(self.literal), self.literal), (len(other.literal), other.literal)
            return 0 if mine == theirs else sign if mine > theirs else -sign
        if not isinstance(other, int | float) or other != other:
            return None
        if int(self) == other:  # its own stand-in, read back from the state file
            return 0
        if math.isinf(other):
            return -1 if other > 0 else 1
        return sign

    def __lt__(self, other: object) -> bool:
        order = self._order(other)
        return NotImplemented if order is None else order < 0

    def __le__(self, other: object) -> bool:
        order = self._order(other)
        return NotImplemented if order is None else order <= 0

    def __gt__(self, other: object) -> bool:
        order = self._order(other)
        return NotImplemented if order is None else order > 0

    def __ge__(self, other: object) -> bool:
        order = self._order(other)
        return NotImplemented if order is None else order >= 0


def _integer(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # more digits than int() converts: still a JSON integer (see HugeInteger)
        return HugeInteger(literal)


@dataclass(frozen=True, slots=True)
class WireIssue:
    """Something :func:`decode` noticed that RFC 8259 forbids or discourages."""

    rule: Rule
    path: str
    message: str
    severity: Severity | None = None


class _Pairs(dict[str, Any]):
    """An object that repeated a member name: the values of every repeated name, in order."""

    repeated: dict[str, list[Any]]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    repeated: dict[str, list[Any]] = {}
    for key, value in pairs:
        if key in out:
            repeated.setdefault(key, [out[key]]).append(value)
        out[key] = value
    if not repeated:
        return out
    marked = _Pairs(out)
    marked.repeated = repeated
    return marked


SHORT_JSON = 60
"""At most this many characters of a value in a finding's message (:func:`short_json`)."""


def exact_json(value: Any) -> str:
    """``value`` as JSON in full, secrets redacted: what a suggestion names (the exact value to add)."""
    return scrub(json.dumps(value, ensure_ascii=False, default=str))


def short_json(value: Any) -> str:
    """``value`` as JSON for a finding's message, at most 60 characters (and the ``...`` after a cut). Secrets
    are redacted before the cut: the reports redact every message again, but a token cut short no longer looks
    like one (a JWT needs its three segments), so its first characters would be shown. A string cut short
    stays a JSON string (its escapes whole, its closing quote kept): ``"COUNTER_ADJUST"...``."""
    text = exact_json(value)
    if len(text) <= SHORT_JSON:
        return text
    if isinstance(value, str):
        try:
            redacted = json.loads(text)
        except ValueError:  # (the redaction left no JSON string: cut the text as any other value)
            redacted = None
        if isinstance(redacted, str):
            cut = SHORT_JSON - 5  # the quotes and "..."
            while cut > 0 and len(json.dumps(redacted[:cut], ensure_ascii=False)) > SHORT_JSON - 3:
                cut -= 1
            return json.dumps(redacted[:cut], ensure_ascii=False) + "..."
    return text[: SHORT_JSON - 3] + "..."


# A string, taken whole from its opening quote to its closing one, or to the end of the text when it is never
# closed. Every repeat is possessive and the pattern matches at every quote, so each character is read once:
# linear on any body. (A string that must close could fail at each of the n quotes of a cut-off body of escaped
# quotes, a JSON document wrapped in a JSON string, and read to its end from each: quadratic.) Nothing after
# an unclosed quote is counted, which changes nothing: such a body is not JSON, and json.loads fails at the
# quote before reading any bracket after it.
_STRING = re.compile(r'"(?:[^"\\]++|\\[\s\S])*+"?+')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (without parsing it: safe on any input, in linear time)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets), initial=0))


_NESTED = (dict, list, float)


def _marked(body: Any) -> Iterator[tuple[str, Any]]:
    """(path, node) of every literal and every object that repeated a name (iteratively)."""
    stack: list[tuple[str, Any]] = [("$", body)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, JSONLiteral | _Pairs):
            yield path, node
        children: list[tuple[str | int, Any]] = []
        if isinstance(node, dict):
            children = [(str(key), value) for key, value in node.items()]
        elif isinstance(node, list):
            children = list(enumerate(node))
        stack.extend((json_path(path, key), value) for key, value in reversed(children) if isinstance(value, _NESTED))


TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def _too_deep(text: str) -> NotJSON:
    return NotJSON(text[:200], f"{TOO_DEEP}, which this check does not judge", limit=True)


def decode(content: bytes) -> tuple[Any, list[WireIssue]]:
    """The body as a lenient reader sees it (or :class:`NotJSON`), and what RFC 8259 says against it. An integer
    longer than ``int()`` converts is a :class:`HugeInteger`, never a reason to call the body not JSON."""
    issues: list[WireIssue] = []
    if content.startswith(b"\xef\xbb\xbf"):
        issues.append(WireIssue(JSON_BOM, "$", "the body starts with a UTF-8 byte order mark (EF BB BF)"))
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return NotJSON(content[:200].decode("utf-8", "replace"), f"not UTF-8 text (byte {exc.start})"), issues
    if nesting(text) > MAX_DEPTH:
        return _too_deep(text), issues
    marks: list[bool] = []

    def literal(name: str) -> JSONLiteral:
        marks.append(True)
        return JSONLiteral(name)

    def obj(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = _object(pairs)
        if isinstance(out, _Pairs):
            marks.append(True)
        return out

    try:
        body = json.loads(text, parse_constant=literal, object_pairs_hook=obj, parse_int=_integer)
    except RecursionError:  # not reached below MAX_DEPTH; kept so no input can crash the check
        return _too_deep(text), issues
    except ValueError as exc:
        return NotJSON(text[:200], str(exc)), issues
    if not marks:
        return body, issues
    for path, node in _marked(body):
        if isinstance(node, JSONLiteral):
            issues.append(WireIssue(JSON_LITERAL, path, f"{node.literal} is not a JSON value"))
            continue
        for name, values in node.repeated.items():
            distinct = len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1
            shown = " and ".join(short_json(v) for v in values)
            issues.append(
                WireIssue(
                    DUPLICATE_MEMBER,
                    json_path(path, name),
                    f"member {name!r} appears {len(values)} times, with {shown}"
                    + (" (readers disagree on which one counts; judged with the last)" if distinct else ""),
                    None if distinct else Severity.WARNING,
                )
            )
    return body, issues


def media_type_issue(content_type: str | None) -> WireIssue | None:
    """An issue when a 2xx ``Content-Type`` is not application/json or a ``+json`` type (parameters allowed)."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json")):
        return None
    label = repr(content_type) if content_type else "no Content-Type"
    return WireIssue(MEDIA_TYPE, "$", f"a 200 response labelled {label}, where the spec declares application/json")


def wire_findings(obs: Observation, issues: list[WireIssue]) -> list[Finding]:
    """The issues :func:`decode` / :func:`media_type_issue` found, as findings about ``obs``."""
    return [issue.rule.finding(obs, issue.path, issue.message, severity=issue.severity) for issue in issues]


def _numbers(spec: Spec, schema: Mapping[str, Any], value: Any, path: str, depth: int = 0) -> Iterator[tuple]:  # type: ignore[type-arg]
    """(path, value, format) for every number in ``value``, with the format its schema declares (``$ref`` and
    ``allOf`` followed, as m3ter's own document composes its response schemas)."""
    if depth > MAX_DEPTH or isinstance(value, bool):
        return
    if isinstance(value, int | float):
        _, resolved = spec.resolve(schema)
        yield path, value, resolved.get("format")
        return
    if not isinstance(value, dict | list):
        return
    shape = spec.shape(schema)
    if isinstance(value, dict):
        for key, item in value.items():
            sub = shape.properties.get(key, shape.additional)
            yield from _numbers(
                spec, sub if isinstance(sub, Mapping) else {}, item, json_path(path, str(key)), depth + 1
            )
    else:
        items = shape.items if isinstance(shape.items, Mapping) else {}
        for index, item in enumerate(value):
            yield from _numbers(spec, items, item, json_path(path, index), depth + 1)


def _beyond_double(value: int) -> bool:
    """Whether an integer rounds to infinity as an IEEE 754 double (a :class:`HugeInteger` has more than 4,000
    digits: always; its int value is only a stand-in)."""
    if isinstance(value, HugeInteger):
        return True
    try:
        float(value)
    except OverflowError:
        return True
    return False


def check_numbers(obs: Observation, spec: Spec) -> Iterator[Finding]:
    """Integers outside their declared int32/int64 range; numbers that are not finite doubles."""
    if isinstance(obs.body, NotJSON):
        return
    root = {"$ref": f"#/components/schemas/{spec.responses[obs.kind]}"}
    for path, value, fmt in _numbers(spec, root, obs.body, "$"):
        if isinstance(value, JSONLiteral):
            continue  # response.json-literal reports it
        if isinstance(value, float) and not math.isfinite(value):
            yield FINITE_NUMBER.finding(
                obs, path, "a number beyond the range of an IEEE 754 double (it reads as infinity)"
            )
            continue
        bounds = _RANGES.get(fmt) if isinstance(fmt, str) else None
        if bounds is None:
            if isinstance(value, int) and _beyond_double(value):  # an integer literal, where no range is declared
                yield FINITE_NUMBER.finding(
                    obs, path, "an integer beyond the range of an IEEE 754 double (it reads as infinity)"
                )
            continue
        if isinstance(value, float):
            if not value.is_integer():
                continue  # schema.type reports a fraction where an integer is declared
            value = int(value)
        low, high = bounds
        if not low <= value <= high:
            shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}... ({len(str(value))} digits)"
            yield INT_RANGE.finding(obs, path, f"{shown} is outside {fmt} ({low} to {high})")


CHECKS = (
    Check((JSON_LITERAL, JSON_BOM, DUPLICATE_MEMBER, MEDIA_TYPE), name="wire"),
    Check((INT_RANGE, FINITE_NUMBER), snapshot=check_numbers, name="numbers"),
)

__all__ = [
    "CHECKS",
    "DUPLICATE_MEMBER",
    "FINITE_NUMBER",
    "INT_RANGE",
    "JSON_BOM",
    "JSON_LITERAL",
    "MAX_DEPTH",
    "MEDIA_TYPE",
    "TOO_DEEP",
    "HugeInteger",
    "JSONLiteral",
    "WireIssue",
    "check_numbers",
    "decode",
    "exact_json",
    "media_type_issue",
    "short_json",
    "wire_findings",
]
