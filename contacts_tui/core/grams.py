"""The index behind searches for one or two characters ("oy", "é", "山田") on SQLite.

The trigram index cannot match fewer than three characters, and without it
such a word scans the search text of every customer (60–90 ms at 100k). So
each customer's search text is also indexed by the characters and the pairs
of characters it holds: a word of one or two characters is in the text
exactly when it is one of them.

FTS5's trigram tokenizer makes them, in C, from the text with a mark between
and around its characters: "ab" becomes "␁a␁b␁", whose trigrams are "␁a␁"
(the character a), "a␁b" (the pair ab) and "␁b␁". No name or address holds
the mark (they may not contain control characters), so no token means
anything else. Computing the pairs in Python took twice as long, and an
import of 100k customers pays it for each.

SQLite marks the text with ``contacts_grams(search_text)``, a function every
connection registers (``db.py``), from triggers kept in step with any writer
that goes through this program. The index stores no text: removing a row
hands FTS5 the marked text it was given, so this function must never change
what it returns for a text without a migration that rebuilds the index.
"""

from __future__ import annotations

FUNCTION = "contacts_grams"
_MARK = "\x01"


def grams(text: str | None) -> str:
    """``text`` as the index takes it in: each character between marks."""
    if not text:
        return ""
    return _MARK + _MARK.join(text) + _MARK


def match_expression(word: str) -> str:
    """The FTS5 query that finds texts holding ``word`` (of one or two characters)."""
    token = _MARK + word + _MARK if len(word) == 1 else _MARK.join(word)
    return '"' + token.replace('"', '""') + '"'


GUARD_FUNCTION = "contacts_tui_required"
"""Called by triggers on what the search text is made of (m0016): another
SQLite tool has no such function, so its change stops before it makes the
search text stale. The name is what such a tool reports."""


def guard() -> None:
    return None
