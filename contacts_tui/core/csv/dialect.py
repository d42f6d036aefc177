"""The CSV files spreadsheets write and read: their encodings and separators,
and cells that a spreadsheet must take as text, never as a formula.

Excel in Dutch, German and French settings saves "CSV" separated by
semicolons in Windows-1252; its "Unicode text" is UTF-16 with tabs. Import
finds both by itself; export writes them when asked. A cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a CR is a formula to Excel and
LibreOffice (``=HYPERLINK(...)`` in a contact's name would run when an admin
opens the export), so export puts an apostrophe before it, as OWASP advises,
and import takes that apostrophe off again: export then import is still a
round trip, byte for byte (phone numbers begin with ``+``).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}
GUESSED_ENCODING = "cp1252"
"""What a file that is not UTF-8 is read as: Excel's "CSV" in western Europe."""
SNIFF_BYTES = 64 * 1024

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def needs_quote(value: str) -> bool:
    """Whether a spreadsheet would take ``value`` as a formula, or (with an
    apostrophe in front already) export must keep that apostrophe apart from the one it adds."""
    while value.startswith(QUOTE):
        value = value[1:]
    return value.startswith(FORMULA_STARTS)


def to_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it as text."""
    return QUOTE + value if value and needs_quote(value) else value


def from_cell(cell: str) -> str:
    """The value ``to_cell`` made ``cell`` from; any other cell as it is
    ("'t Hart" keeps its apostrophe, "'+31 6" typed in Excel loses it)."""
    if cell.startswith(QUOTE) and needs_quote(cell[1:]):
        return cell[1:]
    return cell


def delimiter_option(text: str) -> str:
    """``--delimiter``: one character, or its name ("tab", "semicolon")."""
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "bar": "|"}
    value = names.get(text.strip().lower(), text)
    if len(value) != 1 or value in '"\r\n' or value.isalnum():
        raise ValueError(f"{text!r} is not a separator: give one character such as ';' or the word 'tab'")
    return value


def encoding_option(text: str) -> str:
    """``--encoding``: a codec Python knows, by its usual names (cp1252, latin-1, utf-8-sig, utf-16)."""
    try:
        return codecs.lookup(text.strip()).name
    except LookupError:
        raise ValueError(f"unknown encoding {text!r}: try utf-8, utf-8-sig, cp1252 or utf-16") from None


@dataclass
class CsvFormat:
    """How a file is written: given by the user, or found by ``sniff``."""

    delimiter: str | None = None
    encoding: str | None = None
    guessed_encoding: bool = False
    """The file was not UTF-8 and no --encoding was given: read as Windows-1252."""

    def describe(self) -> str:
        """ "Windows-1252, separated by semicolons" """
        separator = DELIMITER_NAMES.get(self.delimiter or ",", repr(self.delimiter))
        return f"{encoding_name(self.encoding or 'utf-8')}, separated by {separator}"


def encoding_name(encoding: str) -> str:
    """An encoding as people know it: "Windows-1252", "UTF-8"."""
    name = codecs.lookup(encoding).name
    return {"cp1252": "Windows-1252", "utf-8": "UTF-8", "utf-8-sig": "UTF-8 with a BOM"}.get(name, name)


def open_lines(
    stream: BinaryIO, found: CsvFormat, columns: Iterable[str]
) -> tuple[Iterator[bytes] | None, io.TextIOBase | None]:
    """Look at the start of ``stream`` and fill in what ``found`` leaves open.

    Returns the physical lines as bytes (for encodings where a line ends at
    b"\\n", so each can be decoded and reported alone) or, for UTF-16 and
    UTF-32, a text stream.
    """
    head = stream.read(SNIFF_BYTES)
    if len(head) == SNIFF_BYTES:
        head += stream.readline()  # whole lines only: the rest is read from the stream
    if found.encoding is None:
        found.encoding, found.guessed_encoding = _sniff_encoding(head)
    if codecs.lookup(found.encoding).name.startswith(("utf-16", "utf-32")):
        text = io.TextIOWrapper(io.BytesIO(head + stream.read()), encoding=found.encoding, newline="")
        if found.delimiter is None:
            start = text.read(SNIFF_BYTES)
            text.seek(0)
            found.delimiter = sniff_delimiter(start.lstrip("\ufeff").split("\n", 1)[0], columns)
        return None, text
    lines = _chain(io.BytesIO(head), stream)
    if found.delimiter is None:
        first = head.split(b"\n", 1)[0].decode(found.encoding, errors="replace").lstrip("\ufeff")
        found.delimiter = sniff_delimiter(first, columns)
    return lines, None


def _chain(*parts: Iterable[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield from part


def _sniff_encoding(head: bytes) -> tuple[str, bool]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    try:
        # A character cut at the end of the sample is no reason to doubt UTF-8.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", False
    except UnicodeDecodeError:
        return GUESSED_ENCODING, True


def sniff_delimiter(header: str, columns: Iterable[str]) -> str:
    """The separator that splits the header line into the most of ``columns`` (a comma when none does)."""
    known = set(columns)
    best, best_count = ",", 0
    for delimiter in DELIMITERS:
        names = {name.strip().strip('"') for name in header.split(delimiter)}
        count = len(names & known)
        if count > best_count:
            best, best_count = delimiter, count
    return best
