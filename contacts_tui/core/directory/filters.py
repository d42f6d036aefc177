"""Filters of the directory: by role, by category opted in, by status, by email domain.

One ``Filter`` value says which customers and contact persons are meant. The
customers screen and the customer screen show it in their header line, the
search SQL combines it with the search words (search.py), and ``contacts-tui
list`` and ``export`` take it from their options; a bulk change gets the same
value, so "all that the filter shows" means the same rows everywhere.

A filter has two levels. Its customer conditions (the statuses of a
customer) keep or drop a customer. Its contact conditions (role, category,
the deleted status, the domain) are met by a contact person, and a customer
is kept when one of its contact persons meets them all. The domain is met by
a contact person whose own address is at the domain or whose customer's
primary email is: "the bookkeepers of customers at acme.example" and "the
records of the bookkeeping firm ledger.example" are both one filter.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, fields, replace
from typing import Any

import peewee

from ..catalog import Catalog
from ..errors import ValidationError
from ..models import ContactCategory, ContactPerson, Customer
from ..validate import clean_role, clean_text

STATUSES = {
    "inactive": "inactive customers",
    "deleted": "deleted contact persons",
    "no-contacts": "customers without contact persons",
    "at-limit": "customers at the contact limit",
    "portal-disabled": "portal sign-in disabled",
    "never-signed-in": "never signed in to the portal",
}
"""Every status a filter can ask for, with what it keeps."""

CONTACT_STATUSES = frozenset({"deleted"})
"""Statuses a contact person has; the others are a customer's."""


@dataclass(frozen=True)
class Filter:
    """Which customers and contact persons are meant; every field None means all."""

    role: str | None = None
    """A role of ``validate.ROLES``."""
    category: str | None = None
    """A category key of the catalog: opted in to it (or receiving all)."""
    opted_in: bool = True
    """False: the contact persons NOT opted in to ``category``."""
    status: str | None = None
    """A key of ``STATUSES``."""
    domain: str | None = None
    """An email domain, lowercased, without the @."""

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "opted_in")

    @property
    def on_contacts(self) -> bool:
        """Whether a contact person must meet something (and which ones do matters)."""
        return bool(self.role or self.category or self.domain or self.status in CONTACT_STATUSES)

    def parts(self) -> list[str]:
        """The filter in a word or two each, for a header line at 80 columns."""
        words = []
        if self.role:
            words.append(f"role {self.role}")
        if self.category:
            words.append(("in " if self.opted_in else "not in ") + self.category)
        if self.status:
            words.append(self.status)
        if self.domain:
            words.append(f"@{self.domain}")
        return words

    def describe(self) -> str:
        return ", ".join(self.parts())

    def without(self, name: str) -> Filter:
        changes: dict[str, Any] = {name: None, **({"opted_in": True} if name == "category" else {})}
        return replace(self, **changes)


NO_FILTER = Filter()


def clean_filter(
    catalog: Catalog,
    *,
    role: str | None = None,
    category: str | None = None,
    not_category: str | None = None,
    status: str | None = None,
    domain: str | None = None,
) -> Filter:
    """A Filter from what a user typed; ValidationError names the field that is wrong."""
    problems: list[ValidationError] = []
    clean: dict[str, object] = {}
    if role not in (None, ""):
        try:
            clean["role"] = clean_role(role)
        except ValidationError as exc:
            problems.append(exc)
    if category not in (None, "") and not_category not in (None, ""):
        problems.append(ValidationError.single("category", "Give a category to be opted in to or not, not both"))
    for field, value, opted in (("category", category, True), ("not_category", not_category, False)):
        if value in (None, ""):
            continue
        key = str(value).strip().lower()
        if key not in catalog.keys:
            problems.append(
                ValidationError.single(
                    field, f"Unknown category {str(value).strip()!r}; the catalog has {', '.join(catalog.keys)}"
                )
            )
        else:
            clean["category"], clean["opted_in"] = key, opted
    if status not in (None, ""):
        key = str(status).strip().lower().replace("_", "-").replace(" ", "-")
        if key not in STATUSES:
            problems.append(
                ValidationError.single("status", f"Unknown status {status!r}; choose one of {', '.join(STATUSES)}")
            )
        else:
            clean["status"] = key
    if domain not in (None, ""):
        try:
            clean["domain"] = clean_domain(domain)
        except ValidationError as exc:
            problems.append(exc)
    if problems:
        raise ValidationError([error for problem in problems for error in problem.errors])
    return Filter(**clean)  # type: ignore[arg-type]


def clean_domain(value: object) -> str:
    text = clean_text(value, "domain", label="Domain", required=True, max_length=253).lower().lstrip("@")
    if not text or any(ch.isspace() or ch in "@%_\\" for ch in text):
        raise ValidationError.single("domain", f"{value!r} is not an email domain (like acme.example)")
    return text


# -- SQL ---------------------------------------------------------------------


def _at(address: peewee.ColumnBase, domain: str) -> peewee.Expression:
    # Addresses are stored lowercased (email_key), and so is the domain.
    return address.endswith("@" + domain)


def person_condition(
    flt: Filter, person: type[ContactPerson], customer_email: peewee.ColumnBase, *, deleted_too: bool = False
) -> peewee.Expression:
    """What a contact person (``person``, an alias of ContactPerson) must meet,
    ``customer_email`` being its customer's email_key; ``deleted_too`` lets
    deleted ones meet it as well (a customer screen showing them)."""
    if deleted_too and flt.status != "deleted":
        conditions = []
    elif flt.status == "deleted":
        # A promoted person's record waits, deleted, under the primary email
        # (see make_primary): not a contact person anyone deleted.
        conditions = [person.deleted_at.is_null(False), person.email_key != customer_email]
    else:
        conditions = [person.deleted_at.is_null()]
    if flt.role:
        conditions.append(person.role == flt.role)
    if flt.category:
        chosen = ContactCategory.alias("fc")
        opted = person.receive_all | peewee.fn.EXISTS(
            chosen.select(peewee.SQL("1")).where((chosen.contact == person.id) & (chosen.category == flt.category))
        )
        conditions.append(opted if flt.opted_in else ~opted)
    if flt.domain:
        conditions.append(_at(person.email_key, flt.domain) | _at(customer_email, flt.domain))
    return functools.reduce(operator.and_, conditions) if conditions else peewee.SQL("1 = 1")


def customer_condition(flt: Filter, max_contacts: int, source: peewee.Source | None = None) -> peewee.Expression | None:
    """The WHERE condition of the customers ``flt`` keeps, or None for all.

    ``source`` is a derived table of customer rows (with the columns named
    here) to test instead of the customer table itself.
    """

    def column(name: str) -> peewee.ColumnBase:
        return getattr(Customer, name) if source is None else source.c[name]

    conditions = []
    status = flt.status
    if status == "inactive":
        conditions.append(column("active") == False)  # noqa: E712 - SQL, not Python
    elif status == "no-contacts":
        conditions.append(column("contact_count") == 0)
    elif status == "at-limit":
        conditions.append(column("contact_count") >= max_contacts)
    elif status == "portal-disabled":
        conditions.append(column("portal_disabled_at").is_null(False))
    elif status == "never-signed-in":
        conditions.append(column("last_sign_in_at").is_null())
    if flt.on_contacts:
        person = ContactPerson.alias("fp")
        inner = person_condition(flt, person, column("email_key"))
        has_person = peewee.fn.EXISTS(person.select(peewee.SQL("1")).where((person.customer == column("id")) & inner))
        if flt.domain and flt.status != "deleted" and not (flt.role or flt.category):
            # The domain alone: a customer at the domain is kept without a
            # look at its contact persons (it may have none).
            has_person = _at(column("email_key"), flt.domain) | has_person
        conditions.append(has_person)
    return functools.reduce(operator.and_, conditions) if conditions else None


FILTER_COLUMNS = ("id", "email_key", "active", "contact_count", "portal_disabled_at", "last_sign_in_at")
"""The customer columns customer_condition reads."""


def filter_gather(flt: Filter) -> peewee.Expression | None:
    """An indexed superset of the customers ``flt`` keeps, for gathering few of
    them without testing every customer; None where no index serves.

    The contact person's conditions are tested exactly by ``customer_condition``;
    this only narrows (m0017 made the indexes).
    """
    person = ContactPerson.alias("gp")
    if flt.status == "deleted":
        return Customer.id.in_(person.select(person.customer).where(person.deleted_at.is_null(False)))
    if flt.role:
        return Customer.id.in_(person.select(person.customer).where(person.role == flt.role))
    return None
