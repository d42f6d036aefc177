"""A message's header block as bytes: locating fields, reading values, writing mailboxes.

The relay must hand on every header it does not change byte for byte (DKIM
signatures and Message-IDs depend on it), so this module only ever *locates*
fields by offset inside the original bytes. Values are decoded to text only to
read them (addresses, the category, DKIM tags), never to write them back. The
one thing it writes is new mailboxes for the Cc field, folded and encoded.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.utils import getaddresses

CRLF = b"\r\n"
LF = b"\n"

# One field: a line that starts with a non-blank character, plus every
# continuation line (starting with SP or HTAB) that follows it. Lines end in
# LF (CRLF counts too, the CR is part of the line); the last one may lack it.
_FIELD = re.compile(rb"[^ \t\r\n][^\n]*\n?(?:[ \t][^\n]*\n?)*")
_LINE_BREAK = re.compile(rb"\r?\n")


@dataclass(frozen=True, slots=True)
class Field:
    """One header field as it sits in the header block.

    ``raw`` is the exact bytes including continuation lines and the final line
    ending; ``start``/``end`` are its offsets in the header block.
    """

    name: str
    raw: bytes
    start: int
    end: int

    @property
    def value_bytes(self) -> bytes:
        """The bytes after the colon, unfolded, without the line ending."""
        colon = self.raw.find(b":")
        return _LINE_BREAK.sub(b"", self.raw[colon + 1 :])

    def text(self) -> str:
        """The unfolded value as text (UTF-8; undecodable bytes replaced), stripped."""
        return self.value_bytes.decode("utf-8", "replace").strip()


def split_message(data: bytes) -> tuple[bytes, bytes]:
    """Split a message into its header block and the rest, so that ``head + rest == data``.

    The header block holds every header line with its own line ending; the
    rest starts with the blank separator line and carries the body. A message
    without a blank line is all header block; one that starts with a blank
    line has an empty header block.
    """
    cut = header_end(data)
    return data[:cut], data[cut:]


def header_end(data: bytes) -> int:
    """Where the header block of ``data`` ends (see :func:`split_message`).

    The offset lets callers slice the header block without copying the body,
    which for a large attachment costs more than the whole rewrite.
    """
    if data.startswith((b"\r\n", b"\n")):
        return 0
    # Look for the CRLF separator first; a bare "\n\n" only counts when it
    # comes earlier. Bounding the second search keeps a CRLF message with a
    # large body from being scanned end to end for a pattern it never holds.
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n", 0, len(data) if crlf < 0 else crlf + 2)
    ends = [i for i in (crlf, lf) if i >= 0]
    return min(ends) + 1 if ends else len(data)


def line_ending(header_block: bytes) -> bytes:
    """The line ending of the first line of ``header_block``: CRLF or a bare LF."""
    newline = header_block.find(b"\n")
    if newline < 0:
        return CRLF  # SMTP's own line ending, for a message of one open line
    return CRLF if header_block[newline - 1 : newline] == b"\r" else LF


def parse_fields(header_block: bytes) -> list[Field]:
    """Every field of the header block, in order, with lowercased names.

    A line without a colon (junk, or an mbox ``From `` line) becomes a field
    with an empty name, so callers can skip it while its bytes stay in place.
    """
    fields = []
    for match in _FIELD.finditer(header_block):
        raw = match.group()
        colon = raw.find(b":")
        first_line_end = raw.find(b"\n")
        if colon < 0 or (0 <= first_line_end < colon):
            name = ""
        else:
            # obs-syntax allows blanks between the name and the colon.
            name = raw[:colon].rstrip(b" \t").decode("latin-1").lower()
        fields.append(Field(name, raw, match.start(), match.end()))
    return fields


def field_texts(fields: list[Field], name: str) -> list[str]:
    """The values of every field called ``name`` (case-insensitive), unfolded."""
    wanted = name.lower()
    return [field.text() for field in fields if field.name == wanted]


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words in ``text``; anything undecodable stays as given."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def addresses_in_fields(fields: list[Field], names: tuple[str, ...] = ("to", "cc")) -> list[str]:
    """The addr-specs found in the named fields, in order, as written (case kept)."""
    wanted = {name.lower() for name in names}
    values = [field.text() for field in fields if field.name in wanted]
    # Groups ("undisclosed-recipients:;") and junk yield empty addresses.
    return [address for _, address in getaddresses(values) if address]


def header_addresses(message: bytes, names: tuple[str, ...] = ("to", "cc")) -> list[str]:
    """The addresses present in the message's To and Cc fields (or ``names``), in order.

    Reads only the header block, so it is cheap on large messages.
    """
    return addresses_in_fields(parse_fields(message[: header_end(message)]), names)


# --- writing mailboxes ------------------------------------------------------

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


def fold_tokens(
    mailboxes: list[list[str]], column: int, eol: bytes, *, fold_first: bool = True
) -> bytes:
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
