"""Reading the contact CSV: encoding, separator, quoting, columns and per-row cleaning.

Rows come out cleaned by the same functions the directory uses, or as errors
that carry the line number and the column, so a user can fix the file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO, cast

from ..catalog import Catalog
from ..directory.rules import CleanContact, clean_contact
from ..errors import ValidationError
from ..records import ContactInput
from ..validate import NAME_MAX, clean_email, clean_language, clean_notes, clean_phone, clean_text, email_key
from .dialect import DELIMITER_NAMES, CsvFormat, encoding_name, from_cell, open_lines

COLUMNS = ("customer_email", "customer_name", "contact_name", "contact_email", "phone", "role", "categories")
OPTIONAL = ("notes", "language")
"""Columns a file may have after ``categories``; without them it imports as before.
``notes`` is the contact person's note (on a row that only defines the customer,
the customer's, as ``phone`` is), ``language`` the customer's portal language."""
EXPORTED = COLUMNS + OPTIONAL
RECEIVE_ALL = "all"
# Field names of the directory's errors, as the CSV spells them.
FIELD_COLUMNS = {
    "name": "contact_name",
    "email": "contact_email",
    "phone": "phone",
    "role": "role",
    "categories": "categories",
    "notes": "notes",
}


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    message: str
    # Whose row it was, when its customer_email could be read: --sync must
    # not take a skipped row for a contact person the file left out.
    customer_key: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CsvFormatError(Exception):
    """The file cannot be read as this CSV at all (wrong columns, broken quoting)."""

    def __init__(self, error: RowError):
        self.error = error
        super().__init__(str(error))


@dataclass(slots=True)
class Row:
    """One cleaned data row: a customer, and a contact person unless it only defines the customer."""

    line: int
    customer_email: str
    customer_key: str
    customer_name: str
    customer_phone: str
    contact: CleanContact | None
    customer_notes: str = ""
    """On a row that only defines the customer: its note ("" where none is given)."""
    language: str | None = None
    """The customer's language, where the row gives one."""
    notes_column: bool = False
    """The file has a ``notes`` column: a contact person's empty note there clears it."""


def _decoded_lines(lines: Iterator[bytes], encoding: str, errors: list[RowError]) -> Iterator[str]:
    """Physical lines as text; a line that does not decode is reported and replaced."""
    for number, raw in enumerate(lines, start=1):
        if number == 1 and encoding in ("utf-8", "utf-8-sig") and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex().upper()
            hint = "; save the file as UTF-8, or give --encoding (Excel's CSV is often cp1252)"
            errors.append(
                RowError(
                    number,
                    None,
                    f"not valid {encoding_name(encoding)} (byte 0x{bad} at position {exc.start + 1}){hint}",
                )
            )
            yield raw.decode(encoding, errors="replace")


def read_rows(
    stream: BinaryIO,
    catalog: Catalog,
    errors: list[RowError],
    on_row: Callable[[int], None] | None = None,
    found: CsvFormat | None = None,
) -> Iterator[Row]:
    """Clean rows one by one; problems go to ``errors`` and the row is left out.

    ``found`` holds the separator and encoding given by the user; what it
    leaves open is found in the file and filled in."""
    found = found if found is not None else CsvFormat()
    decode_errors: list[RowError] = []
    lines, text = open_lines(stream, found, COLUMNS)
    # open_lines filled in what the user left open.
    delimiter, encoding = cast(str, found.delimiter), cast(str, found.encoding)
    source = _decoded_lines(lines, encoding, decode_errors) if lines is not None else _text_lines(text)
    reader = csv.reader(source, strict=True, delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvFormatError(RowError(1, None, f"the header cannot be read: {exc}")) from None
    if decode_errors:
        raise CsvFormatError(decode_errors[0])
    header = _check_header(header, delimiter)
    order = [header.index(column) if column in header else None for column in EXPORTED]
    width = len(header)
    cache: dict[str, tuple[str, str] | RowError] = {}
    end = 1
    while True:
        start = end + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            raise CsvFormatError(RowError(start, None, f"broken quoting: {exc} (is a quote missing?)")) from None
        end = reader.line_num
        if fields is None:
            return
        if decode_errors:
            errors.extend(decode_errors)
            decode_errors.clear()
            continue
        if on_row:
            on_row(end)
        if not fields or fields == [""]:
            continue
        if len(fields) != width:
            hint = "an unquoted comma in a value?" if len(fields) > width else "a field left out?"
            errors.append(RowError(start, None, f"expected {width} fields, found {len(fields)} ({hint})"))
            continue
        values = [None if i is None else from_cell(fields[i]) for i in order]
        row = _clean_row(start, values, catalog, cache, errors)
        if row is not None:
            yield row


def _text_lines(text) -> Iterator[str]:
    """Lines of a UTF-16 or UTF-32 file; one that does not decode stops the import."""
    number = 0
    try:
        for number, line in enumerate(text, start=1):
            yield line.lstrip("\ufeff") if number == 1 else line
    except UnicodeDecodeError as exc:
        raise CsvFormatError(RowError(number + 1, None, f"not valid {text.encoding}: {exc.reason}")) from None


def _check_header(header: list[str] | None, delimiter: str) -> list[str]:
    """The header's column names, trimmed; a CsvFormatError if they are not the import's columns."""
    if not header:
        raise CsvFormatError(RowError(1, None, "the file is empty; the first line must name the columns"))
    names = [name.strip() for name in header]
    for separator, shown in DELIMITER_NAMES.items():
        if separator != delimiter and len(names) == 1 and all(c in names[0].split(separator) for c in COLUMNS):
            raise CsvFormatError(
                RowError(
                    1,
                    None,
                    f"the columns are separated by {shown}, not by {DELIMITER_NAMES.get(delimiter, repr(delimiter))}; "
                    "leave out --delimiter and the separator is found by itself",
                )
            )
    missing = [c for c in COLUMNS if c not in names]
    unknown = [repr(n) if n else "an empty one (a comma too many?)" for n in names if n not in EXPORTED]
    twice = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(unknown))
    if twice:
        problems.append("repeated column(s) " + ", ".join(twice))
    if problems:
        optional = " (optional after them: " + ",".join(OPTIONAL) + ")"
        raise CsvFormatError(RowError(1, None, "; ".join(problems) + "; expected " + ",".join(COLUMNS) + optional))
    return names


def _clean_row(line, values, catalog, cache, errors) -> Row | None:
    customer_email, customer_name, contact_name, contact_email, phone, role, categories, notes, language = values
    count = len(errors)
    customer = cache.get(customer_email)
    if customer is None:
        try:
            clean = clean_email(customer_email, "customer_email")
            customer = (clean, email_key(clean))
        except ValidationError as exc:
            customer = RowError(line, "customer_email", exc.errors[0].message)
        cache[customer_email] = customer
    if isinstance(customer, RowError):
        errors.append(RowError(line, customer.column, customer.message))
    try:
        customer_name = clean_text(
            customer_name, "customer_name", label="Customer name", required=False, max_length=NAME_MAX
        )
    except ValidationError as exc:
        errors.append(RowError(line, "customer_name", exc.errors[0].message))

    contact = None
    customer_phone = customer_notes = ""
    if contact_name.strip() or contact_email.strip():
        categories = categories.strip()
        receive_all = categories.lower() == RECEIVE_ALL
        keys = () if receive_all else tuple(k for k in categories.split(";") if k.strip())
        try:
            data = ContactInput(contact_name, contact_email, phone, role, receive_all, keys, notes)
            contact = clean_contact(data, catalog)
        except ValidationError as exc:
            errors.extend(RowError(line, FIELD_COLUMNS.get(e.field or "", None), e.message) for e in exc.errors)
    else:
        if role.strip() or categories.strip():
            errors.append(
                RowError(
                    line, "contact_email", "role and categories need a contact person (contact_name and contact_email)"
                )
            )
        try:
            customer_phone = clean_phone(phone)
        except ValidationError as exc:
            errors.append(RowError(line, "phone", exc.errors[0].message))
        try:
            customer_notes = clean_notes(notes)
        except ValidationError as exc:
            errors.append(RowError(line, "notes", exc.errors[0].message))
    given_language = None
    if language is not None and language.strip():
        try:
            given_language = clean_language(language)
        except ValidationError as exc:
            errors.append(RowError(line, "language", exc.errors[0].message))
    if len(errors) != count:
        if not isinstance(customer, RowError):
            errors[count:] = [replace(e, customer_key=customer[1]) for e in errors[count:]]
        return None
    return Row(
        line,
        customer[0],
        customer[1],
        customer_name,
        customer_phone,
        contact,
        customer_notes,
        given_language,
        notes is not None,
    )
