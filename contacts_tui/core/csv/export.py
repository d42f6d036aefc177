"""Export of the directory as CSV, streamed so memory stays flat at any size.

Customers come in email order, contact persons in email order within them,
so an export of an import of an export is byte-identical. Every cell goes
through ``to_cell``: a name like ``=HYPERLINK(...)`` reaches a spreadsheet as
text, not as a formula (dialect.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import TextIO

from ..catalog import Catalog
from ..db import database_call
from ..directory.filters import NO_FILTER, Filter, customer_condition, person_condition
from ..models import ContactCategory, ContactPerson, Customer
from .dialect import to_cell
from .read import EXPORTED, RECEIVE_ALL

_CHUNK = 1000


@database_call(lambda *args: Customer._meta.database)
def export_csv(
    catalog: Catalog,
    out: TextIO,
    progress: Callable[[int], None] | None = None,
    *,
    delimiter: str = ",",
    flt: Filter = NO_FILTER,
    max_contacts: int = 10,
) -> int:
    """Write every customer and its active contact persons (those ``flt``
    keeps); returns the rows written.

    A customer with no contact persons, or with a phone number or a note,
    gets a row of its own with empty contact fields (with a filter on contact
    persons, only their rows). The customer's language is on each of its
    rows, as its name is.
    """
    plain = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    plain.writerow(EXPORTED)
    writer = _SpreadsheetSafe(plain)
    rows = 0
    for customers in customer_batches(flt, max_contacts):
        for customer, theirs in customers:
            if (not theirs or customer.phone or customer.notes) and not flt.on_contacts:
                writer.writerow(
                    [customer.email, customer.name, "", "", customer.phone, "", "", customer.notes, customer.language]
                )
                rows += 1
            for contact, categories in theirs:
                writer.writerow(
                    [
                        customer.email,
                        customer.name,
                        contact.name,
                        contact.email,
                        contact.phone,
                        contact.role,
                        categories_cell(catalog, contact.receive_all, categories),
                        contact.notes,
                        customer.language,
                    ]
                )
                rows += 1
        if progress:
            progress(rows)
    return rows


def categories_cell(catalog: Catalog, receive_all: bool, categories: set[str]) -> str:
    if receive_all:
        return RECEIVE_ALL
    # Opt-ins an earlier catalog left are not the file's: import would refuse them.
    return ";".join(catalog.sort_keys(categories & set(catalog.keys)))


def customer_batches(flt: Filter = NO_FILTER, max_contacts: int = 10):
    """The customers ``flt`` keeps in email order, a batch at a time, each with
    its contact persons that ``flt`` keeps (active ones when it says nothing
    of them) and their categories: ``[(customer, [(contact, categories)])]``."""
    condition = customer_condition(flt, max_contacts)
    last_key = None
    while True:
        query = Customer.select(
            Customer.id,
            Customer.name,
            Customer.email,
            Customer.email_key,
            Customer.phone,
            Customer.notes,
            Customer.language,
        )
        if condition is not None:
            query = query.where(condition)
        if last_key is not None:
            query = query.where(Customer.email_key > last_key)
        customers = list(query.order_by(Customer.email_key).limit(_CHUNK).namedtuples())
        if not customers:
            return
        last_key = customers[-1].email_key
        contacts = _contacts_of([c.id for c in customers], flt)
        yield [(customer, contacts.get(customer.id, [])) for customer in customers]


def _contacts_of(customer_ids: list[int], flt: Filter = NO_FILTER) -> dict[int, list[tuple]]:
    person = ContactPerson.alias("p")
    if flt.on_contacts:
        owner = Customer.alias("owner")
        kept = person_condition(flt, person, owner.email_key)
        query = person.select(
            person.id,
            person.customer,
            person.name,
            person.email,
            person.email_key,
            person.phone,
            person.role,
            person.receive_all,
            person.deleted_at,
            person.notes,
        ).join(owner, on=(owner.id == person.customer))
    else:
        kept = person.deleted_at.is_null()
        query = person.select(
            person.id,
            person.customer,
            person.name,
            person.email,
            person.email_key,
            person.phone,
            person.role,
            person.receive_all,
            person.deleted_at,
            person.notes,
        )
    rows = list(
        query.where(person.customer.in_(customer_ids) & kept).order_by(person.customer, person.email_key).namedtuples()
    )
    categories: dict[int, set[str]] = {}
    if rows:
        links = ContactCategory.select(ContactCategory.contact, ContactCategory.category).where(
            ContactCategory.contact.in_([r.id for r in rows])
        )
        for contact_id, category in links.tuples():
            categories.setdefault(contact_id, set()).add(category)
    grouped: dict[int, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row.customer, []).append((row, categories.get(row.id, set())))
    return grouped


class _SpreadsheetSafe:
    """A csv writer whose cells a spreadsheet shows as text (``to_cell``)."""

    def __init__(self, writer) -> None:
        self.writer = writer

    def writerow(self, row: list[str]) -> None:
        self.writer.writerow([to_cell(value) for value in row])
