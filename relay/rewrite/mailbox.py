"""Writing mailboxes for the Cc field: display names as atoms, quoted strings or
RFC 2047 encoded-words, folded to stay within 78 columns.

This is the only text the rewrite writes into a message; everything else is
copied from the original bytes.
"""

from __future__ import annotations

import base64
import re

MAX_LINE = 78  # RFC 5322 2.1.1: SHOULD stay within 78, MUST within 998.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
# An encoded word is at most 75 characters (RFC 2047 2); ours stay below
# that so "Cc: " plus one word plus a comma still fits in 78.
_MAX_WORD = 72
_WORD_OVERHEAD = len("=?utf-8?q??=")


def clean_display_name(name: str) -> str:
    """The name with control characters and line breaks gone and blank runs collapsed.

    The directory already refuses such names; doing it again here means a
    name can never smuggle a line break (and so a header) into the message.
    """
    visible = "".join(" " if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch for ch in name)
    return " ".join(visible.split())


def _q_encode(chunk: str) -> str:
    out = []
    for byte in chunk.encode("utf-8"):
        if byte in _Q_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("_")
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def _b_encode(chunk: str) -> str:
    return base64.b64encode(chunk.encode("utf-8")).decode("ascii")


def encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded-words (UTF-8), each short enough for one line.

    Q suits mostly-Latin names, B suits CJK and emoji; the shorter wins. Words
    are cut at spaces where possible (the space going inside the next word,
    since decoders drop blanks between encoded-words), else between
    characters, never inside a character's UTF-8 bytes: each word decodes on
    its own as the RFC requires.
    """
    q_len = len(_q_encode(text))
    b_len = (len(text.encode("utf-8")) + 2) // 3 * 4
    encode, kind = (_q_encode, "q") if q_len <= b_len else (_b_encode, "b")
    budget = _MAX_WORD - _WORD_OVERHEAD
    words, chunk = [], ""
    for piece in re.findall(r" ?[^ ]+| ", text):
        if chunk and len(encode(chunk + piece)) > budget:
            words.append(f"=?utf-8?{kind}?{encode(chunk)}?=")
            chunk = ""
        for ch in piece if len(encode(piece)) > budget else [piece]:
            if chunk and len(encode(chunk + ch)) > budget:
                words.append(f"=?utf-8?{kind}?{encode(chunk)}?=")
                chunk = ""
            chunk += ch
    if chunk:
        words.append(f"=?utf-8?{kind}?{encode(chunk)}?=")
    return words


def _plain_word(word: str) -> bool:
    # "=?" is atext, but a word holding it could be taken for an encoded-word.
    return len(word) <= _MAX_WORD and "=?" not in word and bool(_ATEXT.fullmatch(word))


def display_name_tokens(name: str) -> list[str]:
    """The display name as a phrase, split where the line may be folded.

    An ASCII name stays as atoms, or becomes one quoted-string if it has
    specials (folded only at its own spaces, which unfolding restores).
    Otherwise plain words stay atoms and each run of other words becomes
    encoded-words: readable in the raw, and fewer adjacent encoded-words,
    whose separating blanks some parsers wrongly keep (CPython gh-128110).
    """
    name = clean_display_name(name)
    if not name:
        return []
    words = name.split(" ")
    if name.isascii() and "=?" not in name:
        if all(_ATEXT.fullmatch(word) for word in words):
            quoted = words
        else:
            quoted = [word.replace("\\", "\\\\").replace('"', '\\"') for word in words]
            quoted[0] = '"' + quoted[0]
            quoted[-1] += '"'
        if max(map(len, quoted)) <= _MAX_WORD:
            return quoted
        # Longer words cannot be folded; encoded-words can be cut anywhere,
        # which keeps every line far below the 998-octet limit.
    tokens: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:  # the empty sentinel flushes the last run
        if word and not _plain_word(word):
            run.append(word)
            continue
        if run:
            tokens += encoded_words(" ".join(run))
            run = []
        if word:
            tokens.append(word)
    return tokens


def mailbox_tokens(address: str, name: str = "") -> list[str]:
    """A mailbox (``name <addr>`` or a bare ``addr``) as foldable tokens."""
    name_tokens = display_name_tokens(name)
    if not name_tokens:
        return [address]
    return [*name_tokens, f"<{address}>"]


def fold_tokens(mailboxes: list[list[str]], column: int, eol: bytes, *, fold_first: bool = True) -> bytes:
    """Mailboxes joined with commas, folded to stay within 78 columns.

    Folds go between mailboxes; only a mailbox too long for a line of its own
    is folded between its tokens. ``column`` is how much of the current line
    is used already (``len("Cc:")`` for a new field); the result starts with
    the blank or fold before the first mailbox. With ``fold_first`` false the
    first token stays on the current line (a bare ``Cc:`` line helps nobody).
    """
    fold = eol.decode("ascii") + " "
    out: list[str] = []
    may_fold = fold_first
    for index, tokens in enumerate(mailboxes):
        if index < len(mailboxes) - 1:
            tokens = [*tokens[:-1], tokens[-1] + ","]
        whole = " ".join(tokens)
        fits_here = column + 1 + len(whole) <= MAX_LINE
        if fits_here or (may_fold and len(whole) + 1 <= MAX_LINE):
            tokens = [whole]  # keep the mailbox in one piece on this or the next line
        for token in tokens:
            if may_fold and column + 1 + len(token) > MAX_LINE:
                out.append(fold)
                column = 1
            else:
                out.append(" ")
                column += 1
            out.append(token)
            column += len(token)
            may_fold = True
    return "".join(out).encode("utf-8")
