"""The steps of a bulk change: going through a selection a batch at a time,
and checking (and writing) one batch.

A batch holds about ``BATCH`` records, never splitting a customer's: the
checks that count (the contact limit, an address once per customer) see
all of a customer's records in one transaction. The checks are the rule
functions of ``rules``, the writes those of ``writes``, the history entries
those a single change records, so a bulk change is the same changes one by
one, in fewer statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import peewee
from peewee import chunked

from ...catalog import Catalog
from ...errors import FieldError
from ...models import ContactCategory, ContactPerson, Customer
from .. import history, writes
from ..filters import person_condition
from ..history import Actor, Entry
from ..rules import deleted_error, duplicate_conflict, limit_error, primary_conflict
from ..search import shown_condition
from .actions import DELETE, RECEIVE_ALL_OFF, RECEIVE_ALL_ON, RESTORE, BulkAction, BulkRecord, Refusal, Selection

BATCH = 500
"""Records per transaction: a few dozen statements, well under a second."""
_SCAN = 2_000
"""Customers read per query going through all that a search shows."""

Pair = tuple[int, int]
"""(record id, its customer's id); for a customer, its id twice."""


@dataclass
class Checked:
    """What the checks made of a batch."""

    change: list[Pair] = field(default_factory=list)
    unchanged: int = 0
    refused: list[Refusal] = field(default_factory=list)


# -- going through a selection -------------------------------------------------


def customer_batches(database: peewee.Database, selection: Selection, max_contacts: int) -> Iterator[list[Pair]]:
    """The selected customers, in id order, a batch at a time."""
    for ids in _customer_ids(database, selection, max_contacts):
        yield from _grouped([(customer_id, customer_id) for customer_id in ids])


def contact_batches(database: peewee.Database, selection: Selection, max_contacts: int) -> Iterator[list[Pair]]:
    """The selected contact persons, by customer, a batch at a time."""
    if selection.contact_ids:
        pairs: list[Pair] = []
        for chunk in chunked(selection.contact_ids, BATCH):
            query = ContactPerson.select(ContactPerson.id, ContactPerson.customer).where(
                _among(ContactPerson.id, chunk)
            )
            pairs.extend(query.tuples())
        yield from _grouped(sorted(pairs, key=lambda pair: (pair[1], pair[0])))
        return
    for ids in _customer_ids(database, selection, max_contacts):
        person, owner = ContactPerson.alias("bp"), Customer.alias("bo")
        query = (
            person.select(person.id, person.customer)
            .join(owner, on=(owner.id == person.customer))
            .where(_among(person.customer, ids) & person_condition(selection.filter, person, owner.email_key))
            .order_by(person.customer, person.id)
        )
        yield from _grouped(list(query.tuples()))


def _customer_ids(database: peewee.Database, selection: Selection, max_contacts: int) -> Iterator[list[int]]:
    if not selection.shown:
        for chunk in chunked(selection.customer_ids, _SCAN):
            yield list(chunk)
        return
    # One query, read a chunk at a time: asked again per chunk, a text index
    # would gather its matches again each time (a domain's: 0.3 s at 100k).
    # The ids are what the plan keeps anyway; the rows are read per batch.
    condition = shown_condition(database, selection.text, selection.filter, max_contacts)
    query = Customer.select(Customer.id)
    if condition is not None:
        query = query.where(condition)
    cursor = database.execute(query.order_by(Customer.id))
    while rows := cursor.fetchmany(_SCAN):
        kept = [row[0] for row in rows if row[0] not in selection.excluded]
        if kept:
            yield kept


def _among(column: peewee.ColumnBase, ids: Sequence[int]) -> peewee.Expression:
    """``column IN (ids)``, its parameters written at once: peewee's ``in_``
    builds each of hundreds of values on its own, which took half a plan's time."""
    if not ids:
        return peewee.SQL("1 = 0")
    param = column.model._meta.database.param
    return peewee.Expression(column, peewee.OP.IN, peewee.SQL(f"({', '.join([param] * len(ids))})", list(ids)))


def _grouped(pairs: Sequence[Pair]) -> Iterator[list[Pair]]:
    batch: list[Pair] = []
    for pair in pairs:
        if len(batch) >= BATCH and pair[1] != batch[-1][1]:
            yield batch
            batch = []
        batch.append(pair)
    if batch:
        yield batch


def slices(ids: Sequence[int], owners: Sequence[int]) -> Iterator[list[Pair]]:
    """A plan's records again, a batch at a time, a customer's never split."""
    yield from _grouped(list(zip(ids, owners, strict=True)))


def records_of(action: BulkAction, ids: list[int]) -> list[BulkRecord]:
    """Records by id, named, in the order of ``ids``."""
    if action.on_customers:
        rows = {row.id: row for row in _customer_rows(ids)}
        return [BulkRecord(rows[i].email, rows[i].name) for i in ids if i in rows]
    rows = {row.id: row for row in _contact_rows(ids)}
    return [
        BulkRecord(rows[i].customer_email, rows[i].customer_name, rows[i].name, rows[i].email) for i in ids if i in rows
    ]


# -- checking and writing a batch ------------------------------------------------


def check_batch(action: BulkAction, batch: list[Pair], limit: int) -> Checked:
    """What the rules make of a batch now; nothing is written."""
    ids = [record_id for record_id, _ in batch]
    if action.on_customers:
        return _check_customers(action, _customer_rows(ids))
    rows = _contact_rows(ids)
    return _check_contacts(action, rows, _categories(rows), _active(rows, action), limit)[0]


def apply_batch(
    database: peewee.Database,
    action: BulkAction,
    batch: list[Pair],
    catalog: Catalog,
    limit: int,
    actor: Actor,
    now: dt.datetime,
) -> Checked:
    """Check a batch again under its customers' locks and write what passes,
    with one history entry per record; inside the caller's transaction."""
    ids = [record_id for record_id, _ in batch]
    _lock(database, {owner for _, owner in batch})
    if action.on_customers:
        rows = _customer_rows(ids)
        checked = _check_customers(action, rows)
        passing = {record_id for record_id, _ in checked.change}
        _write_customers(action, [row for row in rows if row.id in passing], actor, now)
        return checked
    rows = _contact_rows(ids)
    categories = _categories(rows)
    checked, changing = _check_contacts(action, rows, categories, _active(rows, action), limit)
    _write_contacts(action, changing, categories, catalog, actor, now)
    return checked


def _lock(database: peewee.Database, customer_ids: Iterable[int]) -> None:
    # As Directory._lock_customer, for many: SQLite's IMMEDIATE transaction
    # holds the one write lock already. In id order, so two bulk changes
    # never wait for each other in a circle.
    if isinstance(database, peewee.PostgresqlDatabase):
        query = Customer.select(Customer.id).where(_among(Customer.id, sorted(customer_ids))).order_by(Customer.id)
        list(query.for_update().tuples())


def _customer_rows(ids: list[int]) -> list:
    query = Customer.select(Customer.id, Customer.name, Customer.email, Customer.active)
    return list(query.where(_among(Customer.id, ids)).order_by(Customer.id).namedtuples())


def _check_customers(action: BulkAction, rows: list) -> Checked:
    checked = Checked()
    for row in rows:
        if bool(row.active) == action.on:
            checked.unchanged += 1
        else:
            checked.change.append((row.id, row.id))
    return checked


def _write_customers(action: BulkAction, rows: list, actor: Actor, now: dt.datetime) -> None:
    writes.set_customers_active([row.id for row in rows], action.on, now)
    what = history.CUSTOMER_ACTIVATED if action.on else history.CUSTOMER_DEACTIVATED
    changes = [["active", not action.on, action.on]]
    history.record(actor, [Entry(row.id, row.email, what, changes) for row in rows], now)


def _contact_rows(ids: list[int]) -> list:
    query = (
        ContactPerson.select(
            ContactPerson.id,
            ContactPerson.customer,
            ContactPerson.name,
            ContactPerson.email,
            ContactPerson.email_key,
            ContactPerson.receive_all,
            ContactPerson.deleted_at,
            Customer.name.alias("customer_name"),
            Customer.email.alias("customer_email"),
            Customer.email_key.alias("customer_key"),
        )
        .join(Customer)
        .where(_among(ContactPerson.id, ids))
        .order_by(ContactPerson.customer, ContactPerson.id)
    )
    return list(query.namedtuples())


def _categories(rows: list) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {row.id: set() for row in rows}
    if found:
        links = ContactCategory.select(ContactCategory.contact, ContactCategory.category)
        for contact_id, key in links.where(_among(ContactCategory.contact, list(found))).tuples():
            found[contact_id].add(key)
    return found


def _active(rows: list, action: BulkAction) -> dict[int, dict[str, str]]:
    """For a restore: each customer's active contact persons, address by key."""
    if action.verb != RESTORE or not rows:
        return {}
    active: dict[int, dict[str, str]] = {row.customer: {} for row in rows}
    query = ContactPerson.select(ContactPerson.customer, ContactPerson.email_key, ContactPerson.email).where(
        _among(ContactPerson.customer, list(active)) & ContactPerson.deleted_at.is_null()
    )
    for customer_id, key, email in query.tuples():
        active[customer_id][key] = email
    return active


def _check_contacts(
    action: BulkAction, rows: list, categories: dict[int, set[str]], active: dict[int, dict[str, str]], limit: int
) -> tuple[Checked, list]:
    """The checks of Directory's single changes, record by record; also the rows that pass."""
    checked, passing = Checked(), []
    for row in rows:
        errors, same = _contact_errors(action, row, categories[row.id], active, limit)
        if errors:
            reason = "; ".join(error.message for error in errors)
            checked.refused.append(Refusal(row.id, row.customer, row.name, row.email, row.customer_name, reason))
        elif same:
            checked.unchanged += 1
        else:
            checked.change.append((row.id, row.customer))
            passing.append(row)
    return checked, passing


def _contact_errors(
    action: BulkAction, row, categories: set[str], active: dict[int, dict[str, str]], limit: int
) -> tuple[list[FieldError], bool]:
    """(what a rule refuses, whether the record is as the action would make it already)."""
    if action.verb == DELETE:
        return [], row.deleted_at is not None
    if action.verb == RESTORE:
        if row.deleted_at is None:
            return [], True
        # As undelete_contact: the address must be free, then there must be room.
        people = active[row.customer]
        errors = [
            error
            for error in (
                primary_conflict(row.email_key, row.email, row.customer_key),
                duplicate_conflict(row.email, people.get(row.email_key)),
            )
            if error is not None
        ]
        if not errors:
            full = limit_error(len(people), limit, row.customer_name)
            errors = [full] if full else []
        if not errors:
            people[row.email_key] = row.email  # the next one of this customer counts it
        return errors, False
    # Switching a category or receive-all: a deleted person is read-only.
    if row.deleted_at is not None:
        return [deleted_error(row.name)], False
    if action.category is not None:
        return [], (action.category in categories) == action.on
    return [], bool(row.receive_all) == action.on


def _write_contacts(
    action: BulkAction, rows: list, categories: dict[int, set[str]], catalog: Catalog, actor: Actor, now: dt.datetime
) -> None:
    if not rows:
        return
    ids = [row.id for row in rows]
    if action.category is not None:
        writes.switch_category(ids, action.category, action.on, now)
        known = set(catalog.keys)

        def shown(keys: set[str]) -> list[str]:
            # As a single change records them: the catalog's keys, in its order.
            return list(catalog.sort_keys(keys & known))

        switched = {action.category}
        entries = [
            Entry(
                row.customer,
                row.customer_email,
                history.CATEGORIES_CHANGED,
                [["categories", shown(before), shown(before | switched if action.on else before - switched)]],
                row.id,
                row.email,
            )
            for row in rows
            for before in (categories[row.id],)
        ]
    elif action.verb in (RECEIVE_ALL_ON, RECEIVE_ALL_OFF):
        writes.set_receive_all(ids, action.on, now)
        changes = [["receive all", not action.on, action.on]]
        entries = [
            Entry(row.customer, row.customer_email, history.RECEIVE_ALL_CHANGED, changes, row.id, row.email)
            for row in rows
        ]
    else:
        writes.set_deleted(ids, action.verb == DELETE, now)
        writes.refresh_customers({row.customer for row in rows})
        what = history.CONTACT_DELETED if action.verb == DELETE else history.CONTACT_RESTORED
        restoring = action.verb == RESTORE
        changes = [["active", not restoring, restoring]]
        entries = [Entry(row.customer, row.customer_email, what, changes, row.id, row.email) for row in rows]
    history.record(actor, entries, now)
