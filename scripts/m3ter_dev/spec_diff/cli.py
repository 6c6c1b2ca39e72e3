"""``scripts/spec_diff.py``: classify the changes between two versions of the spec for consumers.

    python scripts/spec_diff.py --base origin/main                 # a git revision against the working tree
    python scripts/spec_diff.py --base old.yaml --head new.yaml    # two files
    python scripts/spec_diff.py --base HEAD --markdown report.md --json report.json
    python scripts/spec_diff.py --kinds                            # the classification table

Every change is breaking, announced or compatible (see ``--kinds``). Exit status: 0 no breaking change (or
the major of ``info.version`` was raised), 1 breaking change without a major bump, 2 usage error
(unreadable file, unknown revision, invalid YAML).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..layout import SPEC
from .report import Report, kinds_markdown
from .sources import UsageError, load, parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spec_diff.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="git revision (reads REV:spec/m3ter-billing.yaml) or a file")
    parser.add_argument("--head", default=str(SPEC), help="the new spec file (default: the working tree's)")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here (default: stdout)")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--kinds", action="store_true", help="print the classification table and exit")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.kinds:
        sys.stdout.write(kinds_markdown())
        return 0
    if args.base is None:
        parser.print_usage(sys.stderr)
        print("spec_diff.py: error: --base is required", file=sys.stderr)
        return 2
    try:
        head_path = Path(args.head)
        if not head_path.is_file():
            raise UsageError(f"{args.head}: no such file")
        head = parse(head_path.read_text(encoding="utf-8"), args.head)
        result = Report.between(load(args.base), head, args.base, args.head)
    except UsageError as exc:
        print(f"spec_diff: {exc}", file=sys.stderr)
        return 2
    markdown = result.markdown()
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"spec_diff: {result.summary()}", file=sys.stderr)
    return result.exit_code
