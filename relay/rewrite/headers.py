"""A message's header block, parsed once: fields located by offset in the original bytes.

The relay must hand on every header it does not change byte for byte (DKIM
signatures and Message-IDs depend on it), so parsing only ever *locates*
fields inside the original bytes. Values are decoded to text only to read
them (addresses, the category, DKIM tags), never to write them back.

Receiving parses a message's header block once into a ``HeaderBlock`` and
passes it along: the checks at DATA, the relay log entry and the rewrite all
read the same fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from contacts_tui.core.mail.encoded_words import decode_words

CRLF = b"\r\n"
LF = b"\n"

# One field: a line that starts with a non-blank character, plus every
# continuation line (starting with SP or HTAB) that follows it. Lines end in
# LF (CRLF counts too, the CR is part of the line); the last one may lack it.
_FIELD = re.compile(rb"[^ \t\r\n][^\n]*\n?(?:[ \t][^\n]*\n?)*")
_LINE_BREAK = re.compile(rb"\r?\n")
_LINE_ENDS = re.compile(rb"\r\n|\n|\r")


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


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """The header block of a message: its bytes, where it ends, its fields and its line ending.

    ``end`` is the offset in the message where the header block stops (see
    :func:`header_end`), so ``message[:end]`` is ``raw`` and ``message[end:]``
    the blank line and the body, which is never copied to be read.
    """

    raw: bytes
    fields: tuple[Field, ...]
    eol: bytes

    @classmethod
    def of(cls, message: bytes) -> HeaderBlock:
        end = header_end(message)
        raw = message[:end]
        return cls(raw, tuple(parse_fields(raw)), line_ending(raw or message[end : end + 2]))

    @property
    def end(self) -> int:
        return len(self.raw)

    def named(self, name: str) -> list[Field]:
        wanted = name.lower()
        return [field for field in self.fields if field.name == wanted]

    def texts(self, name: str) -> list[str]:
        """The values of every field called ``name`` (case-insensitive), unfolded."""
        return [field.text() for field in self.named(name)]

    def first(self, name: str) -> str:
        """The first such value, stripped; "" when there is none."""
        values = self.texts(name)
        return values[0].strip() if values else ""

    def count(self, name: str) -> int:
        return len(self.named(name))

    def addresses(self, names: tuple[str, ...] = ("to", "cc")) -> list[str]:
        """The addr-specs found in the named fields, in order, as written (case kept)."""
        wanted = {name.lower() for name in names}
        values = [field.text() for field in self.fields if field.name in wanted]
        # Groups ("undisclosed-recipients:;") and junk yield empty addresses.
        return [address for _, address in getaddresses(values) if address]

    def decoded(self, name: str) -> str:
        """The first value of ``name`` with RFC 2047 encoded-words decoded, stripped."""
        return decode_words(self.first(name)).strip()


def crlf_lines(data: bytes) -> bytes:
    """``data`` with every bare LF and bare CR made a CRLF.

    What the upstream reads: delivery sends CRLF line ends, so a bare CR or
    LF ends a line there. The receiver applies it first, so that the relay
    parses the header block exactly as it will be sent (a category or a Bcc
    after a bare CR is a header to both), and no line the upstream reads as
    "." can hide in the body (SMTP smuggling).
    """
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        return _LINE_ENDS.sub(b"\r\n", data)
    return data


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


def header_addresses(message: bytes, names: tuple[str, ...] = ("to", "cc")) -> list[str]:
    """The addresses in the message's To and Cc fields (or ``names``), in order; reads only the header block."""
    return HeaderBlock.of(message).addresses(names)
