"""The directory's writes, each in one place, for one row or for thousands.

``Directory`` calls them for a single edit and the CSV import with whole
batches, so a column is written the same way whichever way a change comes in.
They check no rule (the callers have, under the customer's lock) and run
inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from peewee import chunked

from ..models import ContactCategory, ContactPerson, Customer
from .multirow import insert_rows
from .rules import CleanContact, CleanCustomer, name_sort_key, search_text

BATCH = 500
"""Rows per statement: well under SQLite's limit of variables per statement."""

_CUSTOMER_COLUMNS = (
    "name",
    "name_key",
    "email",
    "email_key",
    "phone",
    "active",
    "contact_count",
    "search_text",
    "notes",
    "language",
    "created_at",
    "updated_at",
)
_CONTACT_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "email_key",
    "phone",
    "role",
    "receive_all",
    "notes",
    "created_at",
    "updated_at",
)


def _stamp(now: dt.datetime) -> str:
    # Raw inserts bypass the field converters; this text is what they store.
    return now.isoformat(sep=" ")


def insert_customers(
    customers: Sequence[tuple[CleanCustomer, Sequence[CleanContact]]], now: dt.datetime
) -> dict[str, int]:
    """Insert new customers; returns their ids by email key.

    Each comes with the contact persons ``insert_contacts`` adds next: their
    count and search text are stored with the customer, not updated after.
    """
    stamp = _stamp(now)
    ids: dict[str, int] = {}
    for batch in chunked(customers, BATCH):
        rows = [
            (
                customer.name,
                name_sort_key(customer.name),
                customer.email,
                customer.key,
                customer.phone,
                True,
                len(contacts),
                search_text(
                    customer.name, customer.email, [(c.name, c.email, c.notes) for c in contacts], customer.notes
                ),
                customer.notes,
                customer.language,
                stamp,
                stamp,
            )
            for customer, contacts in batch
        ]
        returned = insert_rows(Customer, _CUSTOMER_COLUMNS, rows, ("id", "email_key"))
        ids.update((key, new_id) for new_id, key in returned)
    return ids


def update_customer(customer_id: int, customer: CleanCustomer, now: dt.datetime) -> None:
    """Every field of the customer; ``refresh_customers`` brings the search text up to date."""
    Customer.update(
        name=customer.name,
        name_key=name_sort_key(customer.name),
        email=customer.email,
        email_key=customer.key,
        phone=customer.phone,
        notes=customer.notes,
        language=customer.language,
        updated_at=now,
    ).where(Customer.id == customer_id).execute()


def refresh_customers(customer_ids: Iterable[int]) -> dict[int, int]:
    """Store each customer's count of active contact persons and its search
    text, read afresh; returns the counts by customer id."""
    counts: dict[int, int] = {}
    for batch in chunked(sorted(set(customer_ids)), BATCH):
        active: dict[int, list[tuple[str, str, str]]] = {customer_id: [] for customer_id in batch}
        query = (
            ContactPerson.select(ContactPerson.customer, ContactPerson.name, ContactPerson.email, ContactPerson.notes)
            .where(ContactPerson.customer.in_(batch) & ContactPerson.deleted_at.is_null())
            .order_by(ContactPerson.id)
            .tuples()
        )
        for customer_id, name, email, notes in query:
            active[customer_id].append((name, email, notes))
        stored = Customer.select(
            Customer.id, Customer.name, Customer.email, Customer.notes, Customer.contact_count, Customer.search_text
        ).where(Customer.id.in_(batch))
        for customer_id, name, email, notes, count, text in stored.tuples():
            people = active[customer_id]
            counts[customer_id] = len(people)
            fresh = search_text(name, email, people, notes)
            # Unchanged rows are left alone: a write would make the search
            # indexes (triggers on search_text) redo their work for nothing.
            if count != len(people) or text != fresh:
                query = Customer.update(contact_count=len(people), search_text=fresh)
                query.where(Customer.id == customer_id).execute()
    return counts


def insert_contacts(contacts: Sequence[tuple[int, CleanContact]], now: dt.datetime) -> list[int]:
    """Insert active contact persons ``(customer id, contact)`` with their
    categories; returns their new ids in the order given."""
    stamp = _stamp(now)
    ids: list[int] = []
    for batch in chunked(contacts, BATCH):
        rows = [
            (customer_id, c.name, c.email, c.key, c.phone, c.role, c.receive_all, c.notes, stamp, stamp)
            for customer_id, c in batch
        ]
        returned = insert_rows(ContactPerson, _CONTACT_COLUMNS, rows, ("id", "customer_id", "email_key"))
        # RETURNING promises no order, so new ids are matched by their unique key.
        new_ids = {(customer_id, key): new_id for new_id, customer_id, key in returned}
        batch_ids = [new_ids[(customer_id, c.key)] for customer_id, c in batch]
        _insert_categories([(new_id, c.categories) for new_id, (_, c) in zip(batch_ids, batch, strict=True)])
        ids.extend(batch_ids)
    return ids


def update_contacts(contacts: Sequence[tuple[int, CleanContact]], now: dt.datetime) -> None:
    """Every field of contact persons ``(id, contact)``, and their categories."""
    for contact_id, c in contacts:
        ContactPerson.update(
            name=c.name,
            email=c.email,
            email_key=c.key,
            phone=c.phone,
            role=c.role,
            receive_all=c.receive_all,
            notes=c.notes,
            updated_at=now,
        ).where(ContactPerson.id == contact_id).execute()
    write_categories({contact_id: c.categories for contact_id, c in contacts})


def set_deleted(contact_ids: Iterable[int], deleted: bool, now: dt.datetime) -> None:
    """Soft-delete contact persons (mail to them stops with the next message), or restore them."""
    for batch in chunked(list(contact_ids), BATCH):
        ContactPerson.update(deleted_at=now if deleted else None, updated_at=now).where(
            ContactPerson.id.in_(batch)
        ).execute()


def switch_category(contact_ids: Sequence[int], key: str, on: bool, now: dt.datetime) -> None:
    """Opt contact persons in to one category, or out of it (they must not have, or have, it)."""
    for batch in chunked(list(contact_ids), BATCH):
        if on:
            insert_rows(ContactCategory, ("contact_id", "category"), [(contact_id, key) for contact_id in batch])
        else:
            ContactCategory.delete().where(
                ContactCategory.contact.in_(batch) & (ContactCategory.category == key)
            ).execute()
        ContactPerson.update(updated_at=now).where(ContactPerson.id.in_(batch)).execute()


def set_receive_all(contact_ids: Iterable[int], enabled: bool, now: dt.datetime) -> None:
    for batch in chunked(list(contact_ids), BATCH):
        ContactPerson.update(receive_all=enabled, updated_at=now).where(ContactPerson.id.in_(batch)).execute()


def set_customers_active(customer_ids: Iterable[int], active: bool, now: dt.datetime) -> None:
    """Activate customers, or deactivate them (their contact persons get no copies meanwhile)."""
    for batch in chunked(list(customer_ids), BATCH):
        Customer.update(active=active, updated_at=now).where(Customer.id.in_(batch)).execute()


def write_categories(categories: Mapping[int, frozenset[str]]) -> None:
    """Replace the categories of contact persons (by id) with these."""
    for batch in chunked(list(categories), BATCH):
        ContactCategory.delete().where(ContactCategory.contact.in_(batch)).execute()
    _insert_categories(categories.items())


def _insert_categories(categories: Iterable[tuple[int, frozenset[str]]]) -> None:
    links = [(contact_id, key) for contact_id, keys in categories for key in sorted(keys)]
    for batch in chunked(links, BATCH * 2):
        insert_rows(ContactCategory, ("contact_id", "category"), batch)
