"""The directory rules as pure functions over plain values, and every message they give.

The directory service checks single edits with them and the CSV import checks
whole files with them, so both say the same thing in the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..catalog import Catalog
from ..errors import DirectoryError, FieldError, LimitReached, ValidationError
from ..records import ContactInput, CustomerInput
from ..validate import (
    clean_categories,
    clean_email,
    clean_language,
    clean_name,
    clean_notes,
    clean_phone,
    clean_role,
    email_key,
)
from ..wording import Phrase

DEFAULT_MAX_CONTACTS = 10


class Problems:
    """Collects field errors so one save reports every problem at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    @contextmanager
    def checking(self) -> Iterator[None]:
        try:
            yield
        except ValidationError as exc:
            self.errors.extend(exc.errors)

    def add(self, error: FieldError | None) -> None:
        if error is not None:
            self.errors.append(error)

    def raise_if_any(self, subject: str | None = None) -> None:
        if self.errors:
            raise ValidationError(self.errors, subject)


@dataclass(frozen=True, slots=True)
class CleanCustomer:
    name: str
    email: str
    key: str
    phone: str
    notes: str
    language: str


@dataclass(frozen=True, slots=True)
class CleanContact:
    name: str
    email: str
    key: str
    phone: str
    role: str
    receive_all: bool
    categories: frozenset[str]
    notes: str


def clean_customer(data: CustomerInput) -> CleanCustomer:
    """The customer's fields, cleaned; a note or language left out (``None``)
    comes out empty or the default, for the caller to keep the stored one."""
    problems = Problems()
    name = email = phone = notes = language = ""
    with problems.checking():
        name = clean_name(data.name)
    with problems.checking():
        email = clean_email(data.email)
    with problems.checking():
        phone = clean_phone(data.phone)
    with problems.checking():
        notes = clean_notes(data.notes)
    with problems.checking():
        language = clean_language(data.language)
    problems.raise_if_any()
    return CleanCustomer(name, email, email_key(email), phone, notes, language)


def clean_contact(data: ContactInput, catalog: Catalog) -> CleanContact:
    try:
        # The common case is clean input; collecting errors field by field
        # only pays off when there is something to report.
        email = clean_email(data.email)
        return CleanContact(
            clean_name(data.name),
            email,
            email_key(email),
            clean_phone(data.phone),
            clean_role(data.role),
            bool(data.receive_all),
            clean_categories(data.categories, catalog),
            clean_notes(data.notes),
        )
    except ValidationError:
        pass
    problems = Problems()
    name = email = phone = role = notes = ""
    categories: frozenset[str] = frozenset()
    with problems.checking():
        name = clean_name(data.name)
    with problems.checking():
        email = clean_email(data.email)
    with problems.checking():
        phone = clean_phone(data.phone)
    with problems.checking():
        role = clean_role(data.role)
    with problems.checking():
        categories = clean_categories(data.categories, catalog)
    with problems.checking():
        notes = clean_notes(data.notes)
    problems.raise_if_any(name or None)
    return CleanContact(name, email, email_key(email), phone, role, bool(data.receive_all), categories, notes)


def primary_taken(email: str, other_customer: str) -> FieldError:
    """A customer's primary email is no other customer's."""
    return FieldError("email", f"{email} is already the primary email of customer {other_customer!r}")


def primary_is_contact(email: str) -> FieldError:
    """A new primary email that is one of the customer's active contact persons: that is a swap."""
    return FieldError("email", f"{email} is a contact person of this customer; use 'make primary' to swap them")


def deleted_cannot_be_primary() -> FieldError:
    return FieldError(None, "restore this contact person before making it primary")


def needs_a_name(email: str) -> FieldError:
    """A customer the directory does not have yet, named nowhere (an import row without a customer name)."""
    return FieldError("customer_name", f"{email} is a new customer and needs a name")


def primary_conflict(key: str, email: str, customer_key: str) -> FieldError | None:
    if key == customer_key:
        return FieldError(
            "email",
            Phrase("{email} is this customer's primary email, which gets every notification already", email=email),
        )
    return None


def duplicate_contact(email: str, existing: str, line: int | None = None) -> FieldError:
    """``email`` is an active contact person's already, stored as ``existing``
    (or written so on an earlier ``line`` of an import)."""
    if line is None:
        # The portal's wording (no import lines there), which it says in the customer's language.
        if existing == email:
            return FieldError("email", Phrase("{email} is already a contact person of this customer", email=email))
        return FieldError(
            "email",
            Phrase(
                "{email} is already a contact person of this customer (as {existing})", email=email, existing=existing
            ),
        )
    notes = ([] if existing == email else [f"as {existing}"]) + [f"on line {line}"]
    return FieldError("email", f"{email} is already a contact person of this customer ({', '.join(notes)})")


def duplicate_conflict(email: str, existing: str | None) -> FieldError | None:
    """``existing`` is the address as stored on another active record, if any."""
    return None if existing is None else duplicate_contact(email, existing)


LIMIT_AT_LEAST_ONE = "the contact person limit must be at least 1"


def checked_limit(limit: int) -> int:
    """A contact person limit as given (an option, the environment, a stored
    setting): at least 1, or a DirectoryError that says so."""
    if limit < 1:
        raise DirectoryError(LIMIT_AT_LEAST_ONE)
    return limit


THIS_CUSTOMER = Phrase("this customer")


def limit_error(active_count: int, limit: int, customer: str = THIS_CUSTOMER) -> FieldError | None:
    """The error for one more active contact person at a customer that has
    ``active_count``: the limit's one wording, for single edits and imports."""
    if active_count >= limit:
        return FieldError(
            None,
            Phrase("{customer} already has {limit} contact persons — remove one first", customer=customer, limit=limit),
        )
    return None


def deleted_error(name: str) -> FieldError:
    """A deleted contact person is read-only until it is restored, whoever asks."""
    return FieldError(None, Phrase("{name} is deleted: restore this contact person before changing it", name=name))


def raise_limit(active_count: int, limit: int, subject: str | None) -> None:
    error = limit_error(active_count, limit)
    if error:
        raise LimitReached([error], subject)


_NUMBER = re.compile(r"[0-9]+")
SORT_KEY_MAX = 200


def name_sort_key(name: str) -> str:
    """How names sort, as people count: case-folded, and numbers by their
    value ("Person 2" before "Person 10", as a file manager sorts).

    Each run of digits is written as its length, then the digits without
    leading zeros: "person 10" is "person 210", "person 2" is "person 12".
    Numbers of nine digits or more compare as text among themselves.
    """

    def number(match: re.Match[str]) -> str:
        digits = match.group().lstrip("0") or "0"
        return f"{min(len(digits), 9)}{digits}"

    return _NUMBER.sub(number, name.casefold())[:SORT_KEY_MAX]


def search_text(name: str, email: str, contacts: Iterable[tuple[str, str, str]], notes: str = "") -> str:
    """What customer search matches: names, addresses and notes, case-folded;
    ``contacts`` are the active contact persons' (name, email, note).

    Addresses are folded like the names and like the query (search.py folds
    every word): ``lower()`` keeps "ß" where ``casefold()`` makes it "ss", so
    an address typed exactly as stored would not be found. A note is there
    only when there is one, so the text of a customer without notes is what
    it was before notes existed (no index had to be rebuilt for them).
    """
    parts = [name.casefold(), email.strip().casefold()]
    if notes:
        parts.append(notes.casefold())
    for contact_name, contact_email, contact_notes in contacts:
        parts.append(contact_name.casefold())
        parts.append(contact_email.strip().casefold())
        if contact_notes:
            parts.append(contact_notes.casefold())
    return " | ".join(parts)
