"""The index behind searches for one or two letters ("oy", "é", "山田") on SQLite.

The trigram index cannot match fewer than three characters, and without it
such a word scans the search text of every customer (60–90 ms at 100k). So
each customer's search text is also indexed by the characters and the pairs
of characters it holds: a word of one or two characters is in the text
exactly when it is one of them. The grams are written as the hex of their
UTF-8 bytes, which every FTS5 tokenizer keeps as one token and which no two
grams share.

SQLite computes them with ``contacts_grams(search_text)``, a function every
connection registers (``db.py``), from triggers kept in step with any writer
that goes through this program. The index stores no text: removing a row
hands FTS5 the tokens it was given, so this function must never change what
it returns for a text without a migration that rebuilds the index.
"""

from __future__ import annotations

import operator

FUNCTION = "contacts_grams"
SHORTEST = 1
LONGEST = 2
"""Words of up to this many characters are looked up here; longer ones in the trigram index."""


class _Hex(dict):
    # The same few thousand grams recur in every text; each is encoded once.
    def __missing__(self, gram: str) -> str:
        token = self[gram] = gram.encode().hex()
        return token


_HEX = _Hex()


def grams(text: str | None) -> str:
    """The tokens that index ``text``: each character and each pair of adjacent characters."""
    if not text:
        return ""
    found = set(map(operator.add, text, text[1:]))
    found.update(text)
    return " ".join(map(_HEX.__getitem__, found))


def match_expression(word: str) -> str:
    """The FTS5 query that finds texts holding ``word`` (of SHORTEST to LONGEST characters)."""
    return '"' + _HEX[word] + '"'
