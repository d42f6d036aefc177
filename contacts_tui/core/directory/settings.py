"""The catalog in use, the contact person limit and the sender of the
portal's sign-in mails, stored in the database.

Every process of one database (the TUI, each CLI command, every relay)
reads them from here, so they agree: an import with its own limit can no
longer leave customers that the next plain start shows as "11 of 10". A
database that has none stored yet (new, or from before version 6 of the
schema) takes what the first program that opens it was given, or the
defaults. Changing them is ``change_limit`` and ``change_catalog``
(``contacts-tui settings``), which check the customers first and say what
happens to opt-ins; nothing is deleted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import peewee

from ..catalog import DEFAULT_CATALOG, DEFAULT_PRESET, Catalog, catalog_data, parse_catalog
from ..db import database_call
from ..errors import CatalogError, DirectoryError
from ..migrate import write_transaction
from ..models import ContactCategory, ContactPerson, Customer, Setting, utcnow
from ..validate import clean_email
from .rules import DEFAULT_MAX_CONTACTS, checked_limit

CATALOG, LIMIT, MAIL_FROM = "catalog", "max_contacts", "mail_from"
_on_database = database_call(lambda database, *args: database)
NAMED = 10
"""Customers or categories named in a message; more are counted."""


class SettingsDiffer(DirectoryError):
    """An option or environment variable asks for another catalog or limit than the database holds."""


@dataclass(frozen=True)
class Stored:
    catalog_name: str = DEFAULT_PRESET
    catalog: Catalog = DEFAULT_CATALOG
    max_contacts: int = DEFAULT_MAX_CONTACTS
    mail_from: str = ""
    """The sender of the portal's sign-in code mails; "" for the default (``signin.MailRoute``)."""

    def describe_catalog(self) -> str:
        return f"{self.catalog_name} ({', '.join(self.catalog.keys)})"


def read(database: peewee.Database) -> Stored:
    """What the database holds; defaults for what it does not hold (yet)."""
    rows = {row.name: row.value for row in Setting.select().where(Setting.name.in_([CATALOG, LIMIT, MAIL_FROM]))}
    stored = Stored()
    if CATALOG in rows:
        stored = Stored(*_catalog_from(rows[CATALOG]), stored.max_contacts)
    if LIMIT in rows:
        stored = Stored(stored.catalog_name, stored.catalog, int(rows[LIMIT]))
    if MAIL_FROM in rows:
        stored = replace(stored, mail_from=rows[MAIL_FROM])
    return stored


def locked_limit(database: peewee.Database) -> int:
    """The limit, read inside a write transaction that adds contact persons.

    On PostgreSQL the row is locked for share: a change of the limit (which
    locks it for update, then counts) waits for this addition, or this
    addition waits and sees the new limit, never both passing their checks."""
    query = Setting.select(Setting.value).where(Setting.name == LIMIT)
    if isinstance(database, peewee.PostgresqlDatabase):
        query = query.for_update("FOR SHARE")
    row = query.first()
    return int(row.value) if row else DEFAULT_MAX_CONTACTS


@_on_database
def adopt(database: peewee.Database, catalog: tuple[str, Catalog] | None, limit: int | None) -> str | None:
    """Store what is given (or the default) where the database holds nothing yet; the name of
    the catalog when this stored the database's first one (a new database), else None.

    Without a limit given, a database whose customers were filled under a
    larger one (``--max-contacts 11`` before the limit was stored) keeps
    that larger one: the default would show them as "11 of 10"."""
    present = {row.name for row in Setting.select(Setting.name)}
    if {CATALOG, LIMIT} <= present:
        return None  # the usual open: nothing to write, no lock taken
    name, chosen = catalog or (DEFAULT_PRESET, DEFAULT_CATALOG)
    with write_transaction(database):
        values = {CATALOG: _catalog_value(name, chosen)}
        if limit is not None:
            _refuse_over(limit, "nothing was stored")
            values[LIMIT] = str(limit)
        else:
            values[LIMIT] = str(max(DEFAULT_MAX_CONTACTS, most_contacts()))
        for key, value in values.items():
            # Two programs starting at once: the first one's values stay.
            Setting.insert(name=key, value=value, updated_at=utcnow()).on_conflict_ignore().execute()
    return name if CATALOG not in present else None


def most_contacts() -> int:
    """The most active contact persons any customer has."""
    return Customer.select(peewee.fn.MAX(Customer.contact_count)).scalar() or 0


def check(stored: Stored, catalog: tuple[str, Catalog] | None, limit: int | None) -> None:
    """Refuse options that ask for something else than the database holds."""
    problems = []
    if catalog is not None and catalog[1] != stored.catalog:
        problems.append(
            f"this database uses the catalog {stored.describe_catalog()}, not {catalog[0]}; "
            f"'contacts-tui settings --catalog {catalog[0]}' switches it (add --dry-run to see what happens to opt-ins)"
        )
    if limit is not None and limit != stored.max_contacts:
        problems.append(
            f"this database allows {stored.max_contacts} contact persons per customer, not {limit}; "
            f"'contacts-tui settings --max-contacts {limit}' changes it for every program "
            "(it checks the customers first)"
        )
    if problems:
        raise SettingsDiffer(
            "; and ".join(problems) + ". Every program reads them from the database: leave out "
            "--catalog/--max-contacts (and CONTACTS_CATALOG/CONTACTS_MAX_CONTACTS)"
        )


SECONDS = 2.0
"""How long the stored catalog and limit are taken as read: a change made by
``contacts-tui settings`` reaches a running relay or TUI within this time, and
the relay reads them at most once in it, not for every message."""

_uses_database = database_call(lambda self, *args: self.database)


class Following:
    """The catalog and limit of one database, as ``Directory`` uses them:
    read again when ``follow_settings`` finds them older than ``SECONDS``.

    ``catalog`` and ``max_contacts`` pin those for this object (tests, tools);
    left out, they follow what the database stores.
    """

    def __init__(
        self,
        database: peewee.Database,
        catalog: Catalog | None = None,
        max_contacts: int | None = None,
    ) -> None:
        if max_contacts is not None:
            checked_limit(max_contacts)
        self.database = database
        self._pinned_catalog, self._pinned_limit = catalog, max_contacts
        self._stored = Stored()
        self._read_at: float | None = None
        if catalog is None or max_contacts is None:
            self.refresh_settings()

    @property
    def catalog(self) -> Catalog:
        return self._pinned_catalog or self._stored.catalog

    @property
    def stored(self) -> Stored:
        """What the database held when last read."""
        return self._stored

    @property
    def max_contacts(self) -> int:
        return self._pinned_limit or self._stored.max_contacts

    @_uses_database
    def refresh_settings(self) -> None:
        """Read the stored catalog and limit now."""
        self._stored = read(self.database)
        self._read_at = time.monotonic()

    def follow_settings(self) -> None:
        if self._pinned_catalog is not None and self._pinned_limit is not None:
            return
        if self._read_at is None or time.monotonic() - self._read_at > SECONDS:
            self.refresh_settings()

    def limit_for_write(self) -> int:
        """The limit, read afresh inside a transaction that adds contact persons."""
        if self._pinned_limit is not None:
            return self._pinned_limit
        return locked_limit(self.database)


# -- changing them ------------------------------------------------------------


@_on_database
def change_limit(database: peewee.Database, limit: int, *, dry_run: bool = False) -> list[str]:
    """Set the limit, unless a customer has more active contact persons; returns what it did."""
    checked_limit(limit)
    with write_transaction(database):
        old = _locked(database, LIMIT)
        current = int(old) if old is not None else DEFAULT_MAX_CONTACTS
        _refuse_over(limit, f"the limit stays at {current}")
        if limit == current:
            return [f"Contact persons per customer: at most {limit}."]
        if not dry_run:
            _store(LIMIT, str(limit))
    now = "would be" if dry_run else "now"
    return [f"Contact persons per customer: {now} at most {limit} (was {current})."]


@_on_database
def change_mail_from(database: peewee.Database, address: str, *, dry_run: bool = False) -> list[str]:
    """Set the sender of the portal's sign-in mails ("" for the default); returns what it did."""
    value = clean_email(address, "--mail-from") if address.strip() else ""
    with write_transaction(database):
        old = _locked(database, MAIL_FROM) or ""
        if value == old:
            return [f"Sign-in codes are mailed from {value or 'the default sender'}."]
        if not dry_run:
            if value:
                _store(MAIL_FROM, value)
            else:
                Setting.delete().where(Setting.name == MAIL_FROM).execute()
    now = "would be" if dry_run else "are now"
    return [f"Sign-in codes {now} mailed from {value or 'the default sender'} (was {old or 'the default sender'})."]


@_on_database
def change_catalog(
    database: peewee.Database,
    name: str,
    catalog: Catalog,
    *,
    copies: dict[str, str] | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Switch the catalog; returns what happens to each opt-in.

    Opt-ins of categories the new catalog lacks are kept (hidden, and
    restored by switching back): nothing is deleted. ``copies`` maps such a
    category to one of the new catalog whose opt-in each of its contact
    persons gets as well (``--map account=general``).
    """
    copies = dict(copies or {})
    for old, new in copies.items():
        if new not in catalog.keys:
            raise CatalogError(f"--map {old}={new}: {name} has no category {new!r}; it has {', '.join(catalog.keys)}")
    with write_transaction(database):
        raw = _locked(database, CATALOG)
        old_name, old_catalog = _catalog_from(raw) if raw is not None else (DEFAULT_PRESET, DEFAULT_CATALOG)
        if catalog == old_catalog:
            return [f"Catalog: {old_name} ({', '.join(catalog.keys)})."]
        counts = _opt_ins()
        unknown = sorted(set(copies) - set(counts) - set(old_catalog.keys))
        if unknown:
            raise CatalogError(
                f"--map: nobody is opted in to {', '.join(unknown)}, and {old_name} has no such category"
            )
        verb = "would switch" if dry_run else "switched"
        lines = [
            f"Catalog: {verb} from {old_name} ({', '.join(old_catalog.keys)}) to {name} ({', '.join(catalog.keys)})."
        ]
        for key in old_catalog.sort_keys(tuple(counts)):
            people = counts[key]
            if key in catalog.keys:
                lines.append(f"  {key}: {people:,} opt-in(s) stay ({name} has {key} too).")
                continue
            line = (
                f"  {key}: {people:,} opt-in(s) are kept but do nothing while {name} has no {key}; "
                "switching back brings them back."
            )
            if key in copies:
                line += f" Each of those contact persons also gets {copies[key]}."
            lines.append(line)
        receive_all = (
            ContactPerson.select().where(ContactPerson.receive_all & ContactPerson.deleted_at.is_null()).count()
        )
        if receive_all:
            lines.append(f"  {receive_all:,} contact person(s) receive all: they get every category of {name} too.")
        gone = [k for k in old_catalog.keys if k not in catalog.keys]
        if gone:
            lines.append(
                f"  Mail tagged {', '.join(gone)} (or their email types) will pass without contact persons "
                f"unless {name} names that type too."
            )
        if not dry_run:
            for old, new in copies.items():
                _copy_opt_ins(old, new)
            _store(CATALOG, _catalog_value(name, catalog))
    return lines


def _refuse_over(limit: int, outcome: str) -> None:
    over = list(
        Customer.select(Customer.name, Customer.email, Customer.contact_count)
        .where(Customer.contact_count > limit)
        .order_by(Customer.contact_count.desc(), Customer.name_key)
        .limit(NAMED)
        .namedtuples()
    )
    if over:
        count = Customer.select().where(Customer.contact_count > limit).count()
        named = ", ".join(f"{c.name} <{c.email}> ({c.contact_count})" for c in over)
        more = f" and {count - NAMED:,} more" if count > NAMED else ""
        raise DirectoryError(
            f"{count:,} customer(s) have more than {limit} active contact persons: {named}{more}. "
            f"Delete some of theirs first; {outcome}"
        )


def _opt_ins() -> dict[str, int]:
    """Opt-ins of active contact persons, by category."""
    query = (
        ContactCategory.select(ContactCategory.category, peewee.fn.COUNT(ContactCategory.contact))
        .join(ContactPerson)
        .where(ContactPerson.deleted_at.is_null())
        .group_by(ContactCategory.category)
        .tuples()
    )
    return dict(query)


def _copy_opt_ins(old: str, new: str) -> None:
    already = ContactCategory.select(ContactCategory.contact).where(ContactCategory.category == new)
    source = ContactCategory.select(ContactCategory.contact, peewee.Value(new)).where(
        (ContactCategory.category == old) & ContactCategory.contact.not_in(already)
    )
    ContactCategory.insert_from(source, [ContactCategory.contact, ContactCategory.category]).execute()


def _locked(database: peewee.Database, name: str) -> str | None:
    query = Setting.select(Setting.value).where(Setting.name == name)
    if isinstance(database, peewee.PostgresqlDatabase):
        query = query.for_update()
    row = query.first()
    return row.value if row else None


def _store(name: str, value: str) -> None:
    Setting.insert(name=name, value=value, updated_at=utcnow()).on_conflict(
        conflict_target=[Setting.name], update={Setting.value: value, Setting.updated_at: utcnow()}
    ).execute()


def _catalog_value(name: str, catalog: Catalog) -> str:
    return json.dumps({"name": name, "catalog": catalog_data(catalog)}, ensure_ascii=False)


def _catalog_from(value: str) -> tuple[str, Catalog]:
    data = json.loads(value)
    return data["name"], parse_catalog(data["catalog"], f"the catalog {data['name']} stored in the database")
