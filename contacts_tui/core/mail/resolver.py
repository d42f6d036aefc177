"""The relay's question: whom to copy on a message, answered in one query."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable

from peewee import JOIN, SQL, Database, PostgresqlDatabase, fn

from ..catalog import Catalog
from ..errors import ValidationError
from ..models import ContactCategory, ContactPerson, Customer
from ..records import Addition, Audience, CustomerMatch, Resolution
from ..validate import clean_email, email_key
from .verdict import NO_CATEGORY


def _recipient_keys(address: str) -> tuple[str, ...]:
    """The address as typed and as stored: customers' emails are kept in the
    normalized form (an IDNA domain as Unicode), while senders without SMTPUTF8
    write the same domain as xn--…."""
    try:
        return (email_key(address), email_key(clean_email(address)))
    except ValidationError:
        return (email_key(address),)


_statements: weakref.WeakKeyDictionary[Database, dict[int, str]] = weakref.WeakKeyDictionary()


def _statement(database: Database, count: int) -> str:
    """The resolver's SQL for ``count`` recipient keys, built once.

    The relay asks this for every message; building the query through the
    ORM each time cost more CPU than running it. Parameters: the category,
    then the keys.
    """
    cache = _statements.setdefault(database, {})
    if count not in cache:
        opted_in = fn.EXISTS(
            ContactCategory.select(SQL("1")).where(
                (ContactCategory.contact == ContactPerson.id) & (ContactCategory.category == _CATEGORY)
            )
        )
        keys = [f"{_KEY}{n}" for n in range(count)]
        query = (
            Customer.select(
                Customer.id,
                Customer.name,
                Customer.email,
                Customer.email_key,
                Customer.active,
                ContactPerson.name,
                ContactPerson.email,
                ContactPerson.receive_all,
            )
            .join(
                ContactPerson,
                JOIN.LEFT_OUTER,
                on=(
                    (ContactPerson.customer == Customer.id)
                    & ContactPerson.deleted_at.is_null()
                    & (ContactPerson.receive_all | opted_in)
                ),
            )
            .where(Customer.email_key.in_(keys))
            .order_by(Customer.id, ContactPerson.id)
        )
        sql, params = query.sql()
        if params != [_CATEGORY, *keys]:  # the cached text is only right in this order
            raise RuntimeError(f"unexpected parameter order in the resolver's query: {params!r}")
        cache[count] = sql
    return cache[count]


def _run(database: Database, count: int, params: list[str]) -> list[tuple]:
    """The resolver's query; on PostgreSQL a statement prepared once per connection.

    PostgreSQL plans an unprepared query every time it is sent: for this
    join, planning took about five times as long as running it, on the
    server's CPU that the relay shares.
    """
    if not isinstance(database, PostgresqlDatabase):
        return database.execute_sql(_statement(database, count), params).fetchall()
    connection = database.connection()
    prepared = _prepared.setdefault(connection, set())
    name = f"contacts_resolve_{count}"
    if count not in prepared:
        numbered = iter(range(1, count + 2))
        sql = re.sub(r"%s", lambda _: f"${next(numbered)}", _statement(database, count))
        database.execute_sql(f"PREPARE {name} ({', '.join(['text'] * (count + 1))}) AS {sql}")
        prepared.add(count)
    return database.execute_sql(f"EXECUTE {name} ({', '.join(['%s'] * (count + 1))})", params).fetchall()


# The counts prepared on each PostgreSQL connection (a new connection starts with none).
_prepared: weakref.WeakKeyDictionary[object, set[int]] = weakref.WeakKeyDictionary()

_CATEGORY = "\x00category"
_KEY = "\x00key"


def resolve(catalog: Catalog, recipients: Iterable[str], category_value: str | None) -> Resolution:
    """Active, opted-in contact persons of the customers among ``recipients``,
    split into the copies the message goes out as (see ``Audience``).

    Customers match by primary email, case-insensitively. Each customer that
    gets someone added has a copy of its own, so no customer sees another's
    contact persons; everyone else shares one copy that adds nobody. An
    address that is a contact person at several matched customers is added
    once, to the copy of the first of them among the recipients.
    """
    value = (category_value or "").strip()
    if not value:
        return Resolution(None, reason=NO_CATEGORY)
    category = catalog.resolve(value)
    if category is None:
        return Resolution(None, reason=f"unknown notification category {value!r}")
    addressed = [r for r in recipients if r]
    keys_of = [(r, _recipient_keys(r)) for r in addressed]
    keys = sorted({key for _, found in keys_of for key in found})
    if not keys:
        return Resolution(category, reason="no recipients")

    database = Customer._meta.database
    rows = _run(database, len(keys), [category, *keys])

    customers: dict[int, CustomerMatch] = {}
    people: dict[int, list[tuple[str, str, bool]]] = {}
    by_key: dict[str, int] = {}
    for cid, cname, cemail, ckey, cactive, pname, pemail, receive_all in rows:
        if cid not in customers:
            customers[cid] = CustomerMatch(cid, cname, cemail, bool(cactive))
            people[cid] = []
            by_key[ckey] = cid
        if pemail is not None:
            people[cid].append((pname, pemail, bool(receive_all)))
    owner = _owners(keys_of, by_key)
    order = list(dict.fromkeys(cid for cid in owner.values() if cid is not None))
    if len(order) == 1 and None not in owner.values() and customers[order[0]].active and people[order[0]]:
        # The everyday message: for one customer, nobody else. One copy, as addressed.
        customer = customers[order[0]]
        additions = tuple(
            Addition(
                pemail,
                pname,
                customer_email=customer.email,
                reason="receives all notifications" if receive_all else f"opted in to {category}",
            )
            for pname, pemail, receive_all in people[order[0]]
        )
        reason = f"{len(additions)} contact person(s) of {customer.name} opted in to {category}"
        return Resolution(category, (customer,), (Audience(tuple(addressed), (customer,), additions, reason),), reason)
    if order and None in owner.values():
        # A recipient the sender addressed that is one of a matched customer's
        # own contact persons sees that customer's copy: they are its people.
        member_of: dict[str, int] = {}
        for cid in order:
            if customers[cid].active:
                for _, pemail, _ in people[cid]:
                    member_of.setdefault(email_key(pemail), cid)
        for r, cid in _owners(keys_of, member_of).items():
            if owner[r] is None:
                owner[r] = cid

    audiences: list[Audience] = []
    copied_by: dict[str, str] = {}  # a person's address key -> the customer whose copy carries it
    shared: list[CustomerMatch] = []
    shared_notes: list[str] = []
    quiet: set[int] = set()  # active customers with nobody opted in (not those whose people another's copy carries)
    for cid in order:
        customer = customers[cid]
        if not customer.active:
            shared.append(customer)
            continue
        if not people[cid]:
            quiet.add(cid)
        found: list[Addition] = []
        notes: list[str] = []
        for pname, pemail, receive_all in people[cid]:
            key = email_key(pemail)
            if key in copied_by:
                notes.append(f"{pemail} is a contact person of {copied_by[key]} too and gets that customer's copy")
                continue
            copied_by[key] = customer.name
            why = "receives all notifications" if receive_all else f"opted in to {category}"
            found.append(Addition(pemail, pname, customer_email=customer.email, reason=why))
        if found:
            mine = tuple(r for r in addressed if owner[r] == cid)
            reason = f"{len(found)} contact person(s) of {customer.name} opted in to {category}"
            audiences.append(Audience(mine, (customer,), tuple(found), reason, tuple(notes)))
        else:
            shared.append(customer)
            shared_notes.extend(notes)
    copied = {audience.customers[0].id for audience in audiences}
    rest = tuple(r for r in addressed if owner[r] not in copied)
    if rest:
        audiences.append(
            Audience(
                rest,
                tuple(shared),
                (),
                _shared_reason(rest, shared, quiet, owner, category, order),
                tuple(shared_notes),
            )
        )

    # The one real cause of each matched customer's part: inactive, nobody
    # opted in, or its contact persons added (perhaps through another's copy).
    causes = [_inactive(c) for c in customers.values() if not c.active]
    if quiet:
        causes.append(f"nobody at {_names(customers[cid] for cid in order if cid in quiet)} is opted in to {category}")
    added = sum(len(audience.additions) for audience in audiences)
    if not customers:
        reason, causes = "no recipient is a customer's primary email", []
    elif not added:
        reason, causes = "; ".join(causes), []
    else:
        giving = _names(audience.customers[0] for audience in audiences if audience.additions)
        reason = f"{added} contact person(s) of {giving} opted in to {category}"
    every_note = tuple(causes) + tuple(note for audience in audiences for note in audience.notes)
    return Resolution(category, tuple(customers.values()), tuple(audiences), reason, every_note)


def _owners(keys_of: list[tuple[str, tuple[str, ...]]], by_key: dict[str, int]) -> dict[str, int | None]:
    """The customer id each recipient belongs to by one of its keys, or None."""
    owner: dict[str, int | None] = {}
    for recipient, keys in keys_of:
        found = None
        for key in keys:
            found = by_key.get(key)
            if found is not None:
                break
        owner[recipient] = found
    return owner


def _shared_reason(
    recipients: tuple[str, ...],
    customers: list[CustomerMatch],
    quiet: set[int],
    owner: dict[str, int | None],
    category: str,
    matched: list[int],
) -> str:
    """Why nobody is added to the copy for these recipients. ``customers``: the
    matched ones that add nobody here; ``quiet``: those of them with nobody
    opted in; ``matched``: every matched customer (the message is for some customer)."""
    strangers = [r for r in recipients if owner[r] is None]
    parts = []
    waiting = [c for c in customers if c.id in quiet]
    if waiting:
        parts.append(f"nobody at {_names(waiting)} is opted in to {category}")
    elsewhere = [c for c in customers if c.active and c.id not in quiet]
    if elsewhere:
        parts.append(f"everyone opted in at {_names(elsewhere)} is added to another customer's copy")
    parts += [_inactive(c) for c in customers if not c.active]
    if strangers and not matched:
        parts.append("no recipient is a customer's primary email")
    elif strangers:
        parts.append(f"{', '.join(strangers)}: no customer's primary email")
    return "; ".join(parts)


def _inactive(customer: CustomerMatch) -> str:
    return f"customer {customer.name} <{customer.email}> is inactive: no contact persons added"


def _names(customers: Iterable[CustomerMatch]) -> str:
    return ", ".join(c.name for c in customers)
