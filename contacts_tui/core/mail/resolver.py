"""The relay's question: whom to copy on a message, answered in one query."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable

from peewee import JOIN, SQL, Database, PostgresqlDatabase, fn

from ..catalog import Catalog
from ..errors import ValidationError
from ..models import ContactCategory, ContactPerson, Customer
from ..records import Addition, CustomerMatch, Resolution
from ..validate import clean_email, email_key


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
    """Active, opted-in contact persons of the customers among ``recipients``.

    Customers match by primary email, case-insensitively. Each address is
    added once even when it is a contact at several matched customers.
    """
    value = (category_value or "").strip()
    if not value:
        return Resolution(None, reason="no notification category header")
    category = catalog.resolve(value)
    if category is None:
        return Resolution(None, reason=f"unknown notification category {value!r}")
    keys = sorted({key for r in recipients if r for key in _recipient_keys(r)})
    if not keys:
        return Resolution(category, reason="no recipients")

    database = Customer._meta.database
    rows = _run(database, len(keys), [category, *keys])

    customers: dict[int, CustomerMatch] = {}
    additions: list[Addition] = []
    seen: set[str] = set()
    notes: list[str] = []
    for cid, cname, cemail, cactive, pname, pemail, receive_all in rows:
        if cid not in customers:
            customers[cid] = CustomerMatch(cid, cname, cemail, bool(cactive))
            if not cactive:
                notes.append(f"customer {cname} <{cemail}> is inactive: no contact persons added")
        if pemail is None or not cactive or email_key(pemail) in seen:
            continue
        seen.add(email_key(pemail))
        why = "receives all notifications" if receive_all else f"opted in to {category}"
        additions.append(Addition(pemail, pname, customer_email=cemail, reason=why))

    if not customers:
        reason = "no recipient is a customer's primary email"
    elif not additions:
        names = ", ".join(c.name for c in customers.values())
        reason = f"nobody at {names} is opted in to {category}"
    else:
        names = ", ".join(c.name for c in customers.values())
        reason = f"{len(additions)} contact person(s) of {names} opted in to {category}"
    return Resolution(category, tuple(customers.values()), tuple(additions), reason, tuple(notes))
