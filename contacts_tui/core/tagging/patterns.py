"""Patterns of tagging rules, in a linear-time engine (RE2).

An admin's pattern runs on every message without a category header, so it
must not be able to stall the relay: RE2 matches in time linear in the text
whatever the pattern (``(a+)+$`` included), and refuses what needs
backtracking (backreferences, lookaround) when the rule is saved, with the
position of what it refused. Matching is case-insensitive, as in Postfix's
header_checks, and never captures groups: only "does it match" is asked,
which RE2 answers with its fastest automaton.
"""

from __future__ import annotations

from collections.abc import Sequence

import re2

MAX_LENGTH = 1000
"""Characters a pattern may have: a rule is a line an admin reads, not a program."""

MAX_MEMORY = 2 * 1024 * 1024
"""Bytes RE2 may use for one compiled pattern; a larger one is refused when saved."""

MATCHED_CHARACTERS = 65536
"""Characters of a header's value a rule reads (a field may be 100 KiB; real ones are far shorter)."""


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True
    # RE2 would write a refused pattern to standard error: in the TUI, over
    # the screen. The error comes back to the caller instead.
    options.log_errors = False
    options.max_mem = MAX_MEMORY
    return options


OPTIONS = _options()


class PatternError(Exception):
    """A pattern RE2 does not take: what is wrong, and where (0-based, or None)."""

    def __init__(self, problem: str, position: int | None) -> None:
        super().__init__(problem, position)
        self.problem, self.position = problem, position

    def __str__(self) -> str:
        where = f" at character {self.position + 1}" if self.position is not None else ""
        return f"{self.problem}{where}"


# RE2's words for what it refused, as an admin who knows Perl's patterns reads them.
_PROBLEMS = {
    "missing )": "a ( is not closed",
    "unexpected )": "a ) has no ( before it",
    "missing ]": "a [ is not closed",
    "invalid perl operator": "lookahead and lookbehind are not supported (they need backtracking)",
    "invalid escape sequence": "this escape is not supported (backreferences like \\1 need backtracking)",
    "invalid repetition size": "a repetition count is over 1,000, or the repetitions multiply past it",
    "bad repetition operator": "a repetition operator follows another",
    "no argument for repetition operator": "a repetition operator has nothing before it to repeat",
    "invalid character class range": "a character range runs backwards",
    "invalid character class": "a character class is not valid",
    "invalid named capture group": "a named group is not valid",
    "trailing \\": "the pattern ends in a lone \\",
    "pattern too large - compile failed": "the pattern is too large",
}


def compile_pattern(text: str) -> re2._Regexp:
    """``text`` compiled, or PatternError saying what is wrong and where."""
    if not text:
        raise PatternError("the pattern is empty", None)
    if len(text) > MAX_LENGTH:
        raise PatternError(f"the pattern is longer than {MAX_LENGTH:,} characters", MAX_LENGTH)
    try:
        return re2.compile(text, OPTIONS)
    except re2.error as exc:
        raise _pattern_error(text, exc) from None


def _pattern_error(text: str, exc: re2.error) -> PatternError:
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, _, fragment = message.partition(": ")
    problem = _PROBLEMS.get(code, code or "RE2 does not take this pattern")
    if code in ("missing )", "missing ]"):
        # RE2 names the rest of the pattern from some point; where the bracket opens says more.
        position = _unclosed(text, "(" if code == "missing )" else "[")
        fragment = ""
    else:
        position = text.find(fragment) if fragment else -1
    if fragment and fragment != text:
        problem += f" ({fragment!r})"
    return PatternError(problem, position if position >= 0 else None)


def _unclosed(text: str, opening: str) -> int:
    """Where the last ( (or [) that is never closed opens; -1 if none is found."""
    opened: list[int] = []
    in_class = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
                if opening == "[":
                    opened.pop()
        elif char == "[":
            in_class = True
            if opening == "[":
                opened.append(index)
        elif opening == "(" and char == "(":
            opened.append(index)
        elif opening == "(" and char == ")" and opened:
            opened.pop()
        index += 1
    return opened[-1] if opened else -1


def literal(text: str) -> str:
    """A pattern that finds ``text`` as it is ("contains")."""
    return re2.escape(text)


class PatternSet:
    """Several patterns matched against one text in one pass (RE2's Set).

    With a hundred rules on the Subject the relay reads the Subject once,
    not a hundred times: ``matching`` answers which of them match.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.size = len(patterns)
        self._set = re2.Set.SearchSet(OPTIONS)
        for pattern in patterns:
            self._set.Add(pattern)  # each was compiled alone first (compile_pattern)
        self._set.Compile()

    def matching(self, text: str) -> list[int]:
        """The indexes of the patterns that match somewhere in ``text``."""
        return self._set.Match(text[:MATCHED_CHARACTERS]) or []
