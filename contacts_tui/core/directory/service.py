"""The directory service: the one place that enforces the rules.

The TUI, the CLI, the CSV import and the relay all go through ``Directory``.
Every write runs in one transaction that first locks the customer, so two
admins (or an admin and an import) cannot together break a rule that each of
them checked alone. The catalog and the contact limit are those stored in
the database (settings.py), read again every few seconds, so a
change reaches every running program.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import replace

import peewee

from ..catalog import Catalog
from ..db import database_call
from ..errors import ValidationError
from ..interrupt import Stop
from ..mail import resolver
from ..migrate import write_transaction
from ..models import ContactCategory, ContactPerson, Customer, utcnow
from ..records import (
    ContactInput,
    ContactRecord,
    CustomerInput,
    CustomerPage,
    CustomerRecord,
    Membership,
    Resolution,
    customer_record,
)
from ..validate import DEFAULT_LANGUAGE, DEFAULT_ROLE, clean_categories, email_key
from . import history, search, settings, writes
from .acting import Acting
from .bulk.actions import BulkAction, BulkPlan, BulkRecord, BulkResult, Selection
from .bulk.calls import BulkChanges, Progress
from .checks import RuleChecks, check_not_deleted
from .filters import NO_FILTER, Filter, clean_filter, person_condition
from .history import Actor, Change
from .rows import (
    active_contacts,
    contact_records,
    contact_row,
    customer_row,
    kept_categories,
    lock_customer,
)
from .rules import (
    CleanContact,
    CleanCustomer,
    Problems,
    deleted_cannot_be_primary,
    name_sort_key,
    primary_conflict,
    primary_is_contact,
)

_uses_database = database_call(lambda self, *args: self.database)


def _database_call(function):
    """A public directory call: the stored settings are fresh, driver failures become DatabaseUnavailable."""

    @functools.wraps(function)
    def call(self, *args, **kwargs):
        self.follow_settings()
        return function(self, *args, **kwargs)

    return _uses_database(call)


class Directory:
    """Customers and their contact persons, under the directory rules (the
    README's table): a name and a valid email; an address once per customer
    and never the customer's primary email; at most ``max_contacts`` active
    contact persons; soft deletes; make primary swaps atomically.

    Built from four collaborators: ``settings`` (the catalog and the limit
    the database stores, followed: settings.Following), ``checks`` (the
    rules of ``rules``, with what they need from the database: checks.py),
    ``acting`` (who makes each change and the history entry it writes:
    acting.py) and ``bulk`` (one change to many records: bulk/). The writes
    are those of ``writes``, which the CSV import uses too. Every write
    records one change in the history, in its transaction, as the
    directory's actor (``as_actor``).
    """

    def __init__(
        self, database: peewee.Database, catalog: Catalog | None = None, max_contacts: int | None = None
    ) -> None:
        self.database = database
        self.settings = settings.Following(database, catalog, max_contacts)
        self.checks = RuleChecks(self.settings)
        self.acting = Acting(database)
        self.bulk = BulkChanges(database, self.settings, self.acting)

    # -- the stored settings, followed ---------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self.settings.catalog

    @property
    def max_contacts(self) -> int:
        return self.settings.max_contacts

    @property
    def stored(self) -> settings.Stored:
        """What the database held when last read."""
        return self.settings.stored

    def refresh_settings(self) -> None:
        """Read the stored catalog and limit now."""
        self.settings.refresh_settings()

    def follow_settings(self) -> None:
        self.settings.follow_settings()

    def limit_for_write(self) -> int:
        return self.settings.limit_for_write()

    # -- who acts, and what was done ------------------------------------------

    @property
    def actor(self) -> Actor:
        """Whom this directory records changes for; by default the admin at this terminal."""
        return self.acting.actor

    def as_actor(self, actor: Actor) -> Directory:
        """This directory (the same database and settings) recording its changes as ``actor``."""
        other = copy.copy(self)
        other.acting = self.acting.as_actor(actor)
        other.bulk = BulkChanges(other.database, other.settings, other.acting)
        return other

    @_database_call
    def history(
        self, customer_id: int | None = None, since: dt.datetime | None = None, limit: int = 500
    ) -> list[Change]:
        """Recorded changes, newest first: of one customer (``customer_id``) or of all, from ``since`` (naive UTC)."""
        return self.acting.changes(customer_id, since, limit)

    @_database_call
    def customer_once_at(self, email: str) -> CustomerRecord | None:
        """The customer whose primary email this was when a change was recorded; ``None`` if none was."""
        return self.acting.customer_once_at(email)

    @_database_call
    def set_portal_access(self, customer_id: int, enabled: bool) -> CustomerRecord:
        """Let the customer sign in to the portal, or stop it from signing in (recorded in the history)."""
        return self.acting.set_portal_access(customer_id, enabled)

    @_database_call
    def portal_locked_until(self, customer_id: int) -> dt.datetime | None:
        """When the customer may next ask for a sign-in code, while it has had
        as many as an hour allows (naive UTC); ``None``: it may now."""
        return self.acting.portal_locked_until(customer_id)

    @_database_call
    def unlock_portal(self, customer_id: int) -> dt.datetime | None:
        """Let the customer ask for sign-in codes at once, though it had as many as
        an hour allows (recorded in the history). Returns when the lock would have
        ended; ``None`` when there was none, and nothing is recorded."""
        return self.acting.unlock_portal(customer_id)

    @_database_call
    def set_language(self, customer_id: int, language: str) -> CustomerRecord:
        """The customer's language in the portal and its sign-in mail (recorded in the history)."""
        return self.acting.set_language(customer_id, language)

    @_database_call
    def record_sign_in(self, customer_id: int, channel: str) -> CustomerRecord:
        """Note that the customer signed in to the portal now, over ``ssh`` or ``web``; not a change of the history."""
        return self.acting.record_sign_in(customer_id, channel)

    # -- customers ---------------------------------------------------------

    @_database_call
    def get_customer(self, customer_id: int) -> CustomerRecord:
        return customer_record(customer_row(customer_id))

    @_database_call
    def find_customer(self, email: str) -> CustomerRecord | None:
        row = Customer.get_or_none(Customer.email_key == email_key(email))
        return customer_record(row) if row else None

    @_database_call
    def create_customer(self, data: CustomerInput) -> CustomerRecord:
        clean = self.checks.clean_customer(data, None)
        with write_transaction(self.database):
            self.checks.customer_email_free(clean.key, clean.email, None)
            ids = writes.insert_customers([(clean, ())], utcnow())
            record = customer_record(customer_row(ids[clean.key]))
            added = history.customer_fields(record)
            del added["active"]  # every new customer is
            if added["language"] == DEFAULT_LANGUAGE:
                del added["language"]  # as for the phone: what was given, not a default
            self.acting.record(history.CUSTOMER_ADDED, record, history.differences(None, added))
            return record

    @_database_call
    def update_customer(self, customer_id: int, data: CustomerInput) -> CustomerRecord:
        clean = self.checks.clean_customer(data, customer_id)
        with write_transaction(self.database):
            row = lock_customer(self.database, customer_id)
            clean = replace(
                clean,
                notes=row.notes if data.notes is None else clean.notes,
                language=row.language if data.language is None else clean.language,
            )
            self.checks.customer_email_free(clean.key, clean.email, customer_id)
            clash = active_contacts(customer_id).where(ContactPerson.email_key == clean.key).first()
            if clash:
                raise ValidationError([primary_is_contact(clean.email)])
            writes.update_customer(row.id, clean, utcnow())
            self._refresh_customer(row)
            record = customer_record(customer_row(row.id))
            changes = history.differences(
                history.customer_fields(customer_record(row)), history.customer_fields(record)
            )
            if changes:
                self.acting.record(history.CUSTOMER_EDITED, record, changes)
            return record

    @_database_call
    def set_customer_active(self, customer_id: int, active: bool) -> CustomerRecord:
        with write_transaction(self.database):
            row = lock_customer(self.database, customer_id)
            if bool(row.active) != bool(active):
                action = history.CUSTOMER_ACTIVATED if active else history.CUSTOMER_DEACTIVATED
                self.acting.record(action, row, [["active", bool(row.active), bool(active)]])
            row.active = active
            row.updated_at = utcnow()
            row.save()
        return customer_record(row)

    @_database_call
    def search_customers(
        self,
        text: str = "",
        *,
        sort: str = "name",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        filter: Filter = NO_FILTER,
        stop: Stop | None = None,
    ) -> CustomerPage:
        """One page of customers matching every word of ``text`` (name, email,
        contacts) that ``filter`` keeps. Where many match, the page's total is
        an estimate (``exact`` False); ``count_customers`` counts them.
        ``stop.stop()`` from another thread ends the call with Interrupted."""
        return search.customer_page(
            self.database, text, sort, descending, offset, limit, filter, self.max_contacts, stop
        )

    @_database_call
    def count_customers(self, text: str = "", *, filter: Filter = NO_FILTER, stop: Stop | None = None) -> int:
        """How many customers match ``text`` and ``filter``, exactly."""
        return search.count_customers(self.database, text, filter, self.max_contacts, stop)

    def clean_filter(self, **values: str | None) -> Filter:
        """A Filter from what was typed (role, category, not_category, status,
        domain), checked against this database's catalog."""
        return clean_filter(self.catalog, **values)

    # -- contact persons ---------------------------------------------------

    @_database_call
    def get_contact(self, contact_id: int) -> ContactRecord:
        return contact_records([contact_row(contact_id)], self.catalog)[0]

    @_database_call
    def list_contacts(
        self, customer_id: int, *, include_deleted: bool = False, filter: Filter = NO_FILTER
    ) -> list[ContactRecord]:
        """Active contacts by name; with ``include_deleted`` the inactive ones
        follow; only those ``filter`` keeps."""
        customer = customer_row(customer_id)
        # A promoted person's record waits, deleted, under the primary email
        # (see make_primary); it is not a contact to show or restore.
        query = ContactPerson.select().where(
            (ContactPerson.customer == customer_id) & (ContactPerson.email_key != customer.email_key)
        )
        if filter.on_contacts:
            query = query.where(
                person_condition(filter, ContactPerson, peewee.Value(customer.email_key), deleted_too=include_deleted)
            )
        elif not include_deleted:
            query = query.where(ContactPerson.deleted_at.is_null())
        rows = sorted(query, key=lambda r: (r.deleted_at is not None, name_sort_key(r.name), r.id))
        return contact_records(rows, self.catalog)

    @_database_call
    def add_contact(self, customer_id: int, data: ContactInput) -> ContactRecord:
        clean = self.checks.clean_contact(data, customer_id=customer_id)
        with write_transaction(self.database):
            customer = lock_customer(self.database, customer_id)
            self.checks.contact_email(customer, clean.key, clean.email, clean.name, exclude=None, adding=True)
            (contact_id,) = writes.insert_contacts([(customer_id, clean)], utcnow())
            self._refresh_customer(customer)
            record = self.get_contact(contact_id)
            changes = history.differences(None, history.contact_fields(record))
            self.acting.record(history.CONTACT_ADDED, customer, changes, record)
            return record

    @_database_call
    def update_contact(self, contact_id: int, data: ContactInput, *, apply_to_all: bool = False) -> ContactRecord:
        """Save an edit; ``apply_to_all`` copies name and phone to the other
        active records with the old address. A deleted contact person is refused:
        restore it first."""
        with write_transaction(self.database):
            row = contact_row(contact_id)
            customer = lock_customer(self.database, row.customer_id)
            row = contact_row(contact_id)
            check_not_deleted(row)
            clean = self.checks.clean_contact(data, contact_id=contact_id)
            if clean.key != row.email_key:
                self.checks.contact_email(customer, clean.key, clean.email, clean.name, exclude=row.id, adding=False)
            else:
                problems = Problems()
                problems.add(primary_conflict(clean.key, clean.email, customer.email_key))
                problems.raise_if_any(clean.name)
            old_key, now = row.email_key, utcnow()
            before = history.contact_fields(contact_records([row], self.catalog)[0])
            if data.notes is None:
                clean = replace(clean, notes=row.notes)
            kept = kept_categories(row.id, self.catalog)
            if kept:
                # Opt-ins of an earlier catalog are not the form's to remove.
                clean = replace(clean, categories=clean.categories | kept)
            writes.update_contacts([(row.id, clean)], now)
            touched = {customer.id}
            if apply_to_all:
                touched |= self._apply_everywhere(old_key, row.id, clean.name, clean.phone, now)
            for customer_id in touched:
                self._refresh_customer(lock_customer(self.database, customer_id))
            record = self.get_contact(contact_id)
            changes = history.differences(before, history.contact_fields(record))
            if changes:
                self.acting.record(history.CONTACT_EDITED, customer, changes, record, now=now)
            return record

    @_database_call
    def delete_contact(self, contact_id: int) -> ContactRecord:
        """Soft delete: mail to the person stops with the next message."""
        with write_transaction(self.database):
            row = contact_row(contact_id)
            customer = lock_customer(self.database, row.customer_id)
            if row.deleted_at is None:
                writes.set_deleted([row.id], True, utcnow())
                self._refresh_customer(customer)
                self.acting.record(history.CONTACT_DELETED, customer, [["active", True, False]], row)
            return self.get_contact(contact_id)

    @_database_call
    def undelete_contact(self, contact_id: int) -> ContactRecord:
        """Restore a soft-deleted contact person, re-checking the limit and uniqueness."""
        with write_transaction(self.database):
            row = contact_row(contact_id)
            customer = lock_customer(self.database, row.customer_id)
            if row.deleted_at is not None:
                self.checks.contact_email(customer, row.email_key, row.email, row.name, exclude=row.id, adding=True)
                writes.set_deleted([row.id], False, utcnow())
                self._refresh_customer(customer)
                self.acting.record(history.CONTACT_RESTORED, customer, [["active", False, True]], row)
            return self.get_contact(contact_id)

    @_database_call
    def set_category(self, contact_id: int, category: str, enabled: bool) -> ContactRecord:
        (key,) = clean_categories([category], self.catalog)
        with write_transaction(self.database):
            row = contact_row(contact_id)
            customer = lock_customer(self.database, row.customer_id)
            check_not_deleted(row)
            before = contact_records([row], self.catalog)[0]
            query = ContactCategory.delete().where(
                (ContactCategory.contact == contact_id) & (ContactCategory.category == key)
            )
            query.execute()
            if enabled:
                ContactCategory.insert(contact=contact_id, category=key).execute()
            ContactPerson.update(updated_at=utcnow()).where(ContactPerson.id == contact_id).execute()
            after = self.get_contact(contact_id)
            if after.categories != before.categories:
                changes = [["categories", list(before.categories), list(after.categories)]]
                self.acting.record(history.CATEGORIES_CHANGED, customer, changes, after)
        return after

    @_database_call
    def toggle_category(self, contact_id: int, category: str) -> ContactRecord:
        # Compare the catalog key, not what was typed: "BILLING" is "billing".
        (key,) = clean_categories([category], self.catalog)
        current = self.get_contact(contact_id)
        return self.set_category(contact_id, key, key not in current.categories)

    @_database_call
    def set_receive_all(self, contact_id: int, enabled: bool) -> ContactRecord:
        with write_transaction(self.database):
            row = contact_row(contact_id)
            customer = lock_customer(self.database, row.customer_id)
            check_not_deleted(row)
            if bool(row.receive_all) != bool(enabled):
                self.acting.record(
                    history.RECEIVE_ALL_CHANGED, customer, [["receive all", bool(row.receive_all), bool(enabled)]], row
                )
            row.receive_all, row.updated_at = enabled, utcnow()
            row.save()
        return self.get_contact(contact_id)

    @_database_call
    def make_primary(self, contact_id: int) -> CustomerRecord:
        """Swap a contact person and the customer's primary email, atomically.

        The old primary address stays on as a contact person. Met for the
        first time, it receives all notifications, so nobody loses mail they
        got before the swap. The promoted person's record is kept, hidden
        while the address is the primary: swapping back restores it exactly
        as it was (name, phone, role, categories and "receive all") instead
        of starting a stranger named after the customer. A swap never adds a
        category to anyone's record.
        """
        with write_transaction(self.database):
            contact = contact_row(contact_id)
            customer = lock_customer(self.database, contact.customer_id)
            if contact.deleted_at is not None:
                raise ValidationError([deleted_cannot_be_primary()], contact.name)
            self.checks.customer_email_free(contact.email_key, contact.email, customer.id)
            old_email, old_key = customer.email, customer.email_key
            now = utcnow()
            writes.set_deleted([contact.id], True, now)
            swapped = CleanCustomer(
                customer.name, contact.email, contact.email_key, customer.phone, customer.notes, customer.language
            )
            writes.update_customer(customer.id, swapped, now)
            previous = (
                ContactPerson.select()
                .where((ContactPerson.customer == customer.id) & (ContactPerson.email_key == old_key))
                .order_by(ContactPerson.deleted_at.desc())
                .first()
            )
            if previous is None:
                old_primary = CleanContact(
                    customer.name, old_email, old_key, customer.phone, DEFAULT_ROLE, True, frozenset(), ""
                )
                writes.insert_contacts([(customer.id, old_primary)], now)
            else:
                writes.set_deleted([previous.id], False, now)
            self._refresh_customer(customer)
            record = customer_record(customer_row(customer.id))
            self.acting.record(
                history.MADE_PRIMARY, record, [["primary email", old_email, contact.email]], contact, now=now
            )
            return record

    @_database_call
    def memberships(self, email: str) -> list[Membership]:
        """Every customer at which this address is an active contact person."""
        query = (
            ContactPerson.select(ContactPerson, Customer)
            .join(Customer)
            .where((ContactPerson.email_key == email_key(email)) & ContactPerson.deleted_at.is_null())
            .order_by(Customer.name_key, Customer.id)
        )
        return [Membership(r.id, r.customer.id, r.customer.name, r.customer.email, r.name, r.phone) for r in query]

    # -- bulk changes (see bulk/) -----------------------------------------

    @_database_call
    def plan_bulk(
        self, selection: Selection, action: BulkAction, *, progress: Progress | None = None, stop: Stop | None = None
    ) -> BulkPlan:
        """Check every selected record against the rules; nothing is written.
        ``stop.stop()`` from another thread ends it with Interrupted."""
        return self.bulk.plan_bulk(selection, action, progress=progress, stop=stop)

    @_database_call
    def apply_bulk(self, plan: BulkPlan, *, progress: Progress | None = None, stop: Stop | None = None) -> BulkResult:
        """Change the records of ``plan``, each checked again, a batch per
        transaction; ``stop.stop()`` ends it after the batch it is in."""
        return self.bulk.apply_bulk(plan, progress=progress, stop=stop)

    @_database_call
    def bulk_records(self, plan: BulkPlan, start: int = 0, count: int = 500) -> list[BulkRecord]:
        """Records ``start`` to ``start + count`` of the plan's, in its order, by name."""
        return self.bulk.bulk_records(plan, start, count)

    @_database_call
    def last_bulk_change(self) -> tuple[BulkAction, Selection] | None:
        """The newest bulk change this directory's actor made (through its channel); None if it made none."""
        return self.bulk.last_bulk_change()

    # -- the relay's question ---------------------------------------------

    @_database_call
    def resolve(self, recipients: Iterable[str], category_value: str | None) -> Resolution:
        """Who to add as CC to a message for these envelope recipients, in one query."""
        return resolver.resolve(self.catalog, recipients, category_value)

    @_database_call
    def counts(self) -> tuple[int, int]:
        """(customers, active contact persons)."""
        customers = Customer.select().count()
        contacts = ContactPerson.select().where(ContactPerson.deleted_at.is_null()).count()
        return customers, contacts

    # -- internals ---------------------------------------------------------

    def _apply_everywhere(self, key: str, contact_id: int, name: str, phone: str, now) -> set[int]:
        rows = list(
            ContactPerson.select(ContactPerson, Customer.email.alias("customer_email"))
            .join(Customer)
            # Deleted records stay as they were, read-only until restored.
            .where(
                (ContactPerson.email_key == key) & (ContactPerson.id != contact_id) & ContactPerson.deleted_at.is_null()
            )
            .objects()
        )
        if rows:
            ContactPerson.update(name=name, phone=phone, updated_at=now).where(
                ContactPerson.id.in_([r.id for r in rows])
            ).execute()
        # Each customer's history shows the edit of its own contact person.
        history.record(
            self.acting.actor,
            [
                history.Entry(
                    r.customer_id,
                    r.customer_email,
                    history.CONTACT_EDITED,
                    history.differences({"name": r.name, "phone": r.phone}, {"name": name, "phone": phone}),
                    r.id,
                    r.email,
                )
                for r in rows
                if (r.name, r.phone) != (name, phone)
            ],
            now,
        )
        return {r.customer_id for r in rows}

    def _refresh_customer(self, customer: Customer) -> None:
        """Bring the stored contact count and search text up to date after a change."""
        customer.contact_count = writes.refresh_customers([customer.id])[customer.id]
