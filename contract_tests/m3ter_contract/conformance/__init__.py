"""``m3ter-conformance``: the live conformance check (see the README, "The conformance check").

The runner reads bills and statement jobs read-only, rate limited and concurrently; the rules in
:mod:`m3ter_contract.rules` judge every response; reports come out as JSON, JUnit XML, Markdown and a
terminal table.
"""

from .runner import Options, Problem, RunResult, Target, run

__all__ = ["Options", "Problem", "RunResult", "Target", "run"]
