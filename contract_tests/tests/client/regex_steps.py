"""A step-counting backtracking matcher for the regular expressions the scrubber uses.

CPython's ``re`` does not expose how much work a search does, and timing it would make a test depend on the
machine. This module runs the *same* pattern (parsed by ``re._parser``, the parser ``re`` itself uses) with
the same leftmost-first backtracking semantics as ``re.sub`` and counts every character test and every
backtracking attempt, so a test can bound the work of a scrub by operation count, deterministically.

It supports the constructs the scrubber's patterns use: literals, classes (ranges, categories, negation),
``IGNORECASE``, greedy and possessive repeats (of single characters, and possessive repeats of groups),
groups, alternation, ``\\b``, and one-character lookbehind. Anything else raises ``NotImplementedError``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

# The regex engine's own parser (CPython 3.11+); typeshed ships no stubs for these private modules.
c: Any = importlib.import_module("re._constants")
_parser: Any = importlib.import_module("re._parser")

Cont = Callable[[int], int | None]


class BudgetExceeded(Exception):
    """The search needed more steps than allowed (so it is not linear with the given constant)."""


class Counter:
    def __init__(self, budget: int) -> None:
        self.steps = 0
        self.budget = budget

    def tick(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.budget:
            raise BudgetExceeded(self.steps)


def _is_code(code: int) -> Callable[[str], bool]:
    return lambda ch: ord(ch) == code


def _in_range(low: int, high: int) -> Callable[[str], bool]:
    return lambda ch: low <= ord(ch) <= high


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    c.CATEGORY_SPACE: str.isspace,
    c.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    c.CATEGORY_DIGIT: str.isdecimal,
    c.CATEGORY_WORD: _is_word,
    c.CATEGORY_NOT_WORD: lambda ch: not _is_word(ch),
}


def _char_test(op: Any, av: Any, icase: bool) -> Callable[[str], bool] | None:
    """A predicate for a node that matches exactly one character, or None for any other node."""
    if op is c.LITERAL:
        want = chr(av)
        return (lambda ch: ch.lower() == want.lower()) if icase else (lambda ch: ch == want)
    if op is c.NOT_LITERAL:
        other = chr(av)
        return lambda ch: ch != other
    if op is c.IN:
        negate = False
        tests: list[Callable[[str], bool]] = []
        for item_op, item_av in av:
            if item_op is c.NEGATE:
                negate = True
            elif item_op is c.LITERAL:
                tests.append(_is_code(item_av))
            elif item_op is c.RANGE:
                tests.append(_in_range(item_av[0], item_av[1]))
            elif item_op is c.CATEGORY:
                tests.append(_CATEGORIES[item_av])
            else:
                raise NotImplementedError(item_op)

        def plain(ch: str) -> bool:
            return any(t(ch) for t in tests) != negate

        def folded(ch: str) -> bool:
            return any(t(o) for t in tests for o in (ch, ch.lower(), ch.upper())) != negate

        base = folded if icase else plain
        cache: dict[str, bool] = {}

        def test(ch: str) -> bool:  # memoised per character: the verdict depends on the character only
            hit = cache.get(ch)
            if hit is None:
                hit = cache[ch] = base(ch)
            return hit

        return test
    return None


class Matcher:
    def __init__(self, pattern: re.Pattern[str], counter: Counter) -> None:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        self.icase = bool(parsed.state.flags & re.IGNORECASE)
        self.nodes = list(parsed)
        self.counter = counter
        self.text = ""
        self._tests: dict[tuple[Any, int], Callable[[str], bool] | None] = {}

    def _test(self, op: Any, av: Any) -> Callable[[str], bool] | None:
        key = (op, id(av))
        if key not in self._tests:
            self._tests[key] = _char_test(op, av, self.icase)
        return self._tests[key]

    def _seq(self, nodes: list[Any], index: int, pos: int, cont: Cont) -> int | None:
        if index == len(nodes):
            return cont(pos)
        op, av = nodes[index]
        text, tick = self.text, self.counter.tick
        single = self._test(op, av)
        if single is not None:
            tick()
            if pos < len(text) and single(text[pos]):
                return self._seq(nodes, index + 1, pos + 1, cont)
            return None
        if op is c.SUBPATTERN:
            return self._seq(list(av[-1]), 0, pos, lambda p: self._seq(nodes, index + 1, p, cont))
        if op is c.BRANCH:
            for alternative in av[1]:
                tick()
                end = self._seq(list(alternative), 0, pos, lambda p: self._seq(nodes, index + 1, p, cont))
                if end is not None:
                    return end
            return None
        if op is c.AT:
            tick()
            if av is c.AT_BOUNDARY:
                before = pos > 0 and _is_word(text[pos - 1])
                after = pos < len(text) and _is_word(text[pos])
                return self._seq(nodes, index + 1, pos, cont) if before != after else None
            raise NotImplementedError(av)
        if op is c.ASSERT_NOT:
            direction, sub = av
            (sub_op, sub_av), *rest = list(sub)
            test = self._test(sub_op, sub_av)
            if direction != -1 or test is None or rest:
                raise NotImplementedError("only one-character negative lookbehind")
            tick()
            if pos > 0 and test(text[pos - 1]):
                return None
            return self._seq(nodes, index + 1, pos, cont)
        if op in (c.MAX_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, body = av
            body = list(body)
            if len(body) == 1 and (test := self._test(*body[0])) is not None:
                end = pos
                limit = len(text) if high is c.MAXREPEAT else min(len(text), pos + high)
                while end < limit:
                    tick()
                    if not test(text[end]):
                        break
                    end += 1
                if end - pos < low:
                    return None
                if op is c.POSSESSIVE_REPEAT:
                    return self._seq(nodes, index + 1, end, cont)
                for stop in range(end, pos + low - 1, -1):  # greedy: give back one at a time
                    tick()
                    found = self._seq(nodes, index + 1, stop, cont)
                    if found is not None:
                        return found
                return None
            if op is c.POSSESSIVE_REPEAT:  # a group repeated possessively: each pass takes its first match
                count, end = 0, pos
                while high is c.MAXREPEAT or count < high:
                    tick()
                    step_end = self._seq(body, 0, end, lambda p: p)
                    if step_end is None or step_end == end:
                        break
                    count, end = count + 1, step_end
                return self._seq(nodes, index + 1, end, cont) if count >= low else None
        raise NotImplementedError(op)

    def sub_steps(self, text: str) -> tuple[int, list[tuple[int, int]]]:
        """Scan ``text`` as ``pattern.sub`` does; return the steps counted and the match spans."""
        self.text = text
        spans: list[tuple[int, int]] = []
        pos = 0
        while pos <= len(text):
            self.counter.tick()
            end = self._seq(self.nodes, 0, pos, lambda p: p)
            if end is None:
                pos += 1
                continue
            spans.append((pos, end))
            pos = end if end > pos else pos + 1
        return self.counter.steps, spans


def count_steps(pattern: re.Pattern[str], text: str, budget: int) -> tuple[int, list[tuple[int, int]]]:
    """Steps ``pattern.sub`` needs on ``text`` and the spans it replaces; ``BudgetExceeded`` past ``budget``."""
    return Matcher(pattern, Counter(budget)).sub_steps(text)


def hostile(unit: str, size: int) -> str:
    """An adversarial input of about ``size`` characters: ``unit`` repeated (doubling the length doubles
    the structure)."""
    return unit * max(1, size // len(unit))


def repeats(nodes: Any) -> list[Any]:
    """The operator of every repeat in a parsed pattern (``re._parser.parse``), nested ones included."""
    found: list[Any] = []
    for op, av in nodes:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            found.append(op)
            found.extend(repeats(av[2]))
        elif op is c.SUBPATTERN:
            found.extend(repeats(av[-1]))
        elif op is c.BRANCH:
            for alternative in av[1]:
                found.extend(repeats(alternative))
        elif op in (c.ASSERT, c.ASSERT_NOT):
            found.extend(repeats(av[1]))
    return found


def repeats_of(pattern: re.Pattern[str]) -> list[Any]:
    """The operator of every repeat in ``pattern``."""
    return repeats(_parser.parse(pattern.pattern, pattern.flags))


def possessive_only(pattern: re.Pattern[str]) -> bool:
    """Whether every repeat of ``pattern`` (if any) is possessive: it never gives characters back."""
    return all(op is c.POSSESSIVE_REPEAT for op in repeats_of(pattern))
