"""Plain records the directory hands out; nothing outside the core sees ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .validate import DEFAULT_LANGUAGE, DEFAULT_ROLE


@dataclass(frozen=True, slots=True)
class CustomerInput:
    name: str
    email: str
    phone: str = ""
    notes: str | None = None
    """``None``: an edit keeps the stored note (a new customer has none)."""
    language: str | None = None
    """``None``: an edit keeps the stored language (a new customer gets the default)."""


@dataclass(frozen=True, slots=True)
class ContactInput:
    name: str
    email: str
    phone: str = ""
    role: str = DEFAULT_ROLE
    receive_all: bool = False
    categories: frozenset[str] | tuple[str, ...] = frozenset()
    notes: str | None = None
    """``None``: an edit keeps the stored note (a new contact person has none)."""


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    name: str
    email: str
    phone: str
    active: bool
    contact_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    portal_disabled_at: dt.datetime | None = None
    """Set while an admin keeps the customer from signing in to the portal."""
    last_sign_in_at: dt.datetime | None = None
    last_sign_in_channel: str | None = None
    """``ssh`` or ``web``: how the customer last signed in to the portal."""
    notes: str = ""
    """The admin's note: never in mail, never shown to the customer."""
    language: str = DEFAULT_LANGUAGE
    """The customer's language in the portal and its sign-in mail (validate.LANGUAGES)."""

    @property
    def portal_enabled(self) -> bool:
        return self.portal_disabled_at is None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: int
    customer_id: int
    name: str
    email: str
    phone: str
    role: str
    receive_all: bool
    categories: tuple[str, ...]
    deleted_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    kept: tuple[str, ...] = ()
    """Opt-ins of categories the catalog in use does not have: kept, doing
    nothing, since the catalog was switched (they come back with it)."""
    notes: str = ""
    """Kept by the admin and the customer; never in mail."""

    @property
    def active(self) -> bool:
        return self.deleted_at is None

    def as_input(self) -> ContactInput:
        return ContactInput(
            self.name, self.email, self.phone, self.role, self.receive_all, frozenset(self.categories), self.notes
        )


@dataclass(frozen=True, slots=True)
class Membership:
    """One customer at which an address is an active contact person."""

    contact_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class CustomerPage:
    rows: tuple[CustomerRecord, ...]
    total: int
    offset: int
    limit: int
    exact: bool = True
    """False: ``total`` is an estimate from the share of matches among the
    first customers (search.py); ``count_customers`` counts exactly."""


@dataclass(frozen=True, slots=True)
class Addition:
    """A contact person the relay adds as CC: the address, the display name,
    the customer whose contact person it is, and why it is added."""

    email: str
    name: str = ""
    customer_email: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CustomerMatch:
    id: int
    name: str
    email: str
    active: bool


@dataclass(frozen=True, slots=True)
class Audience:
    """The recipients who see one copy of a message, and the people the relay adds to it.

    A customer's contact persons are only ever shown to that customer: each
    customer that gets someone added has an audience of its own (its primary
    email as addressed, and its ``additions``), and every other recipient
    shares one audience to which nobody is added (``customers`` then holds
    the matched customers that add nobody: inactive, or nobody opted in).
    """

    recipients: tuple[str, ...]
    customers: tuple[CustomerMatch, ...] = ()
    additions: tuple[Addition, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def customer(self) -> CustomerMatch | None:
        """The customer whose contact persons this copy carries (None: the copy that adds nobody)."""
        return self.customers[0] if self.additions else None


@dataclass(frozen=True)
class Resolution:
    """What the relay should add to one message, and why (for its log).

    ``audiences`` splits the recipients into the copies the message goes out
    as (see ``Audience``); empty when the message is not for any customer's
    contact persons (no category, or an unknown one).
    """

    category: str | None
    customers: tuple[CustomerMatch, ...] = ()
    audiences: tuple[Audience, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def additions(self) -> tuple[Addition, ...]:
        """Everyone to add, over all the copies."""
        return tuple(person for audience in self.audiences for person in audience.additions)


def customer_record(row) -> CustomerRecord:
    return CustomerRecord(
        row.id,
        row.name,
        row.email,
        row.phone,
        bool(row.active),
        row.contact_count,
        row.created_at,
        row.updated_at,
        row.portal_disabled_at,
        row.last_sign_in_at,
        row.last_sign_in_channel,
        row.notes,
        row.language,
    )


def contact_record(row, categories: tuple[str, ...], kept: tuple[str, ...] = ()) -> ContactRecord:
    return ContactRecord(
        row.id,
        row.customer_id,
        row.name,
        row.email,
        row.phone,
        row.role,
        bool(row.receive_all),
        categories,
        row.deleted_at,
        row.created_at,
        row.updated_at,
        kept,
        row.notes,
    )
