"""The rows a directory call looks up or locks, and contact rows as the records it hands out."""

from __future__ import annotations

import peewee

from ..catalog import Catalog
from ..errors import NotFound
from ..models import ContactCategory, ContactPerson, Customer
from ..records import ContactRecord, contact_record
from ..wording import Phrase


def customer_row(customer_id: int) -> Customer:
    row = Customer.get_or_none(Customer.id == customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return row


def lock_customer(database: peewee.Database, customer_id: int) -> Customer:
    """The customer's row, locked for the caller's write transaction: every change of a customer
    or its contact persons takes this lock first, so two writers cannot together break a rule."""
    query = Customer.select().where(Customer.id == customer_id)
    if isinstance(database, peewee.PostgresqlDatabase):
        # SQLite's IMMEDIATE transaction already holds the one write lock.
        query = query.for_update()
    row = query.first()
    if row is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return row


def contact_row(contact_id: int) -> ContactPerson:
    row = ContactPerson.get_or_none(ContactPerson.id == contact_id)
    if row is None:
        raise NotFound(Phrase("contact person {id} does not exist", id=contact_id))
    return row


def active_contacts(customer_id: int) -> peewee.ModelSelect:
    return ContactPerson.select().where((ContactPerson.customer == customer_id) & ContactPerson.deleted_at.is_null())


def kept_categories(contact_id: int, catalog: Catalog) -> frozenset[str]:
    """The contact person's opt-ins of categories ``catalog`` does not have."""
    links = ContactCategory.select(ContactCategory.category).where(ContactCategory.contact == contact_id)
    return frozenset(link.category for link in links if link.category not in catalog.keys)


def contact_records(rows: list[ContactPerson], catalog: Catalog) -> list[ContactRecord]:
    by_contact: dict[int, set[str]] = {row.id: set() for row in rows}
    if by_contact:
        for link in ContactCategory.select().where(ContactCategory.contact.in_(list(by_contact))):
            by_contact[link.contact_id].add(link.category)
    known = set(catalog.keys)
    return [
        contact_record(row, catalog.sort_keys(by_contact[row.id] & known), tuple(sorted(by_contact[row.id] - known)))
        for row in rows
    ]
