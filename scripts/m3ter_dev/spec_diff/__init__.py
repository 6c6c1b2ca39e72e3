"""Classify the changes between two versions of the spec for code that uses the generated package.

``kinds`` (the kinds of change and their classes), ``differ`` (walks two specs, records ``Change``\\ s),
``report`` (verdict, Markdown, JSON), ``sources`` (a spec from a file or a git revision), ``cli``
(``scripts/spec_diff.py``). The names below are the package's API for the changelog and the pipeline.
"""

from .differ import compare, pointer
from .kinds import CHANGE_KINDS, CLASSES, Change, ChangeKind, Classification, Context, classify
from .report import REPORT_MARKER, Report, changes_markdown, kinds_markdown
from .sources import UsageError, load, parse

__all__ = [
    "CHANGE_KINDS",
    "CLASSES",
    "REPORT_MARKER",
    "Change",
    "ChangeKind",
    "Classification",
    "Context",
    "Report",
    "UsageError",
    "changes_markdown",
    "classify",
    "compare",
    "kinds_markdown",
    "load",
    "parse",
    "pointer",
]
