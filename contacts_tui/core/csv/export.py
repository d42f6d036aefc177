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
from ..models import ContactCategory, ContactPerson, Customer
from .dialect import to_cell
from .read import COLUMNS, RECEIVE_ALL

_CHUNK = 1000


@database_call(lambda *args: Customer._meta.database)
def export_csv(
    catalog: Catalog, out: TextIO, progress: Callable[[int], None] | None = None, *, delimiter: str = ","
) -> int:
    """Write every customer and its active contact persons; returns the rows written.

    A customer with no contact persons, or with a phone number, gets a row of
    its own with empty contact fields.
    """
    plain = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    plain.writerow(COLUMNS)
    writer = _SpreadsheetSafe(plain)
    rows = 0
    last_key = None
    while True:
        query = Customer.select(Customer.id, Customer.name, Customer.email, Customer.email_key, Customer.phone)
        if last_key is not None:
            query = query.where(Customer.email_key > last_key)
        customers = list(query.order_by(Customer.email_key).limit(_CHUNK).namedtuples())
        if not customers:
            return rows
        last_key = customers[-1].email_key
        contacts = _contacts_of([c.id for c in customers])
        for customer in customers:
            theirs = contacts.get(customer.id, [])
            if not theirs or customer.phone:
                writer.writerow([customer.email, customer.name, "", "", customer.phone, "", ""])
                rows += 1
            for contact, categories in theirs:
                if contact.receive_all:
                    cats = RECEIVE_ALL
                else:
                    # Opt-ins an earlier catalog left are not the file's: import would refuse them.
                    cats = ";".join(catalog.sort_keys(categories & set(catalog.keys)))
                writer.writerow(
                    [customer.email, customer.name, contact.name, contact.email, contact.phone, contact.role, cats]
                )
                rows += 1
        if progress:
            progress(rows)


def _contacts_of(customer_ids: list[int]) -> dict[int, list[tuple]]:
    rows = list(
        ContactPerson.select(
            ContactPerson.id,
            ContactPerson.customer,
            ContactPerson.name,
            ContactPerson.email,
            ContactPerson.email_key,
            ContactPerson.phone,
            ContactPerson.role,
            ContactPerson.receive_all,
        )
        .where(ContactPerson.customer.in_(customer_ids) & ContactPerson.deleted_at.is_null())
        .order_by(ContactPerson.customer, ContactPerson.email_key)
        .namedtuples()
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
