"""Generate contract_tests/RULES.md from the registry: ``python -m m3ter_contract.rules.doc [--check] [PATH]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import RULES
from .vocabulary import Evidence, Rule, SourceKind

HEADER = """# Conformance rules

Generated from `contract_tests/m3ter_contract/rules/` by `python -m m3ter_contract.rules.doc`; do not edit
by hand (a test fails when this file is stale). Each rule has a stable name (used in reports), a severity
(`error` fails `m3ter-conformance`, `warning` does not) and the evidence it stands on, of one of three kinds:

- **documented**: m3ter's own words, quoted verbatim from its published OpenAPI document
  (`spec/upstream/m3ter-upstream-subset.json`, `spec/upstream/m3ter-upstream-rule-excerpts.json`);
- **standard**: the words of a standard the spec is written in (OpenAPI, JSON Schema), quoted verbatim from
  `spec/upstream/standards-excerpts.json` (each document there names its URL, commit and retrieval date);
- **inferred**: our reading of what m3ter wrote, in one sentence. An inferred rule is a warning by default;
  `--strict-inferred` makes its findings errors (the column *strict* shows the severity then).

A rule whose check is partly an inference names that part's evidence too (*also* in the evidence column):
its findings of that part are inferred warnings. Every finding in a report names the kind and source of the
evidence it stands on. A test fails when an `error` rule is not documented or standard, or when a quote is not
found verbatim at the place it cites in the committed reference material. This file ships in the harness's
wheel as `m3ter_contract/reference/RULES.md` (the reference material beside it, in `upstream/`);
`m3ter-conformance --list-rules [--json]` lists the same rules.

| rule | severity | strict | kind | what is checked | evidence | where |
|---|---|---|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quoted(evidence: Evidence) -> str:
    text = _cell(evidence.text)
    return text if evidence.kind is SourceKind.INFERRED else f"\u201c{text}\u201d"


def _evidence(rule: Rule) -> str:
    parts = [_quoted(rule.source)]
    parts += [f"*also* ({e.kind}, {_cell(e.ref)}): {_quoted(e)}" for e in rule.also]
    return "<br>".join(parts)


def render() -> str:
    rows = [
        f"| `{rule.name}` | {rule.severity} | {rule.strict_severity} | {rule.source.kind} | {_cell(rule.summary)} "
        f"| {_evidence(rule)} | {_cell(rule.source.where)} |"
        for rule in RULES
    ]
    return HEADER + "\n".join(rows) + "\n"


def default_path() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "contract_tests").is_dir():
            return parent / "contract_tests" / "RULES.md"
    return Path("contract_tests/RULES.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m m3ter_contract.rules.doc", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, help="where to write (default: contract_tests/RULES.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale instead of writing")
    args = parser.parse_args(argv)
    path: Path = args.path or default_path()
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            print(f"{path} is stale: run python -m m3ter_contract.rules.doc", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(RULES)} rules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
