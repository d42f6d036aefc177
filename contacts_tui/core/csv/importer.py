"""Bulk import of customers and contact persons from CSV.

The whole file is checked against the directory rules before anything is
written, then written in one transaction: all or nothing, unless the caller
asks to skip invalid rows. It checks with the rule functions single edits use
(``rules``) and writes with their write functions (``writes``), in batches:
300k rows one by one would take many minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from peewee import chunked

from ..db import database_call, is_postgres
from ..directory import history, writes
from ..directory.rules import (
    CleanContact,
    CleanCustomer,
    duplicate_contact,
    limit_error,
    needs_a_name,
    primary_conflict,
)
from ..directory.service import Directory
from ..migrate import write_transaction
from ..models import ContactCategory, ContactPerson, Customer, utcnow
from ..validate import DEFAULT_LANGUAGE
from .dialect import CsvFormat
from .import_history import ImportHistory
from .read import Row, RowError, read_rows
from .report import ImportFailed, ImportReport

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): phases are "reading" (bytes), "writing" (rows)."""

_ANALYZE_AFTER = 10_000


@dataclass(slots=True)
class _Existing:
    id: int
    name: str
    email: str
    phone: str
    notes: str
    language: str
    active: dict[str, Any] = field(default_factory=dict)  # email_key -> contact row (a query's namedtuple)
    deleted: dict[str, Any] = field(default_factory=dict)
    categories: dict[int, frozenset[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Customer:
    key: str
    email: str
    name: str
    name_line: int
    phone: str = ""
    notes: str = ""
    language: str | None = None
    language_line: int = 0
    lines: list[int] = field(default_factory=list)
    contacts: dict[str, tuple[int, CleanContact]] = field(default_factory=dict)
    existing: _Existing | None = None
    notes_column: bool = False


# Like every directory call: a writer racing the import (the same new customer
# created at once) or a lost connection is a DirectoryError, not a traceback,
# and a pooled connection goes back afterwards.
@database_call(lambda directory, *args: directory.database)
def import_csv(
    directory: Directory,
    stream: BinaryIO,
    *,
    dry_run: bool = False,
    sync: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    size: int = 0,
    csv_format: CsvFormat | None = None,
    source: str | None = None,
) -> ImportReport:
    """Import a CSV stream; raises ImportFailed (with every error) unless it is clean or skip_invalid.

    ``csv_format``: the separator and encoding, where the user gave them;
    the rest is found in the file (``report.csv_format`` says what was used).
    ``source``: the file's name, which the history records as the author of
    every change (by default the stream's own name)."""
    report = ImportReport(csv_format=csv_format or CsvFormat())
    errors = report.errors
    on_row: Callable[[int], None] | None = None
    # Reading progress is the byte offset; a pipe (stdin) has none to tell.
    if progress is not None and _seekable(stream):

        def read_progress(_line: int) -> None:
            if report.rows % 2000 == 0:
                progress("reading", stream.tell(), size)

        on_row = read_progress

    customers: dict[str, _Customer] = {}
    lines: set[int] = set()
    for row in read_rows(stream, directory.catalog, errors, on_row, report.csv_format):
        report.rows += 1
        lines.add(row.line)
        _collect(customers, row, errors)
    report.rows += len({e.line for e in errors} - lines)
    with write_transaction(directory.database):
        _load_existing(customers)
        held = _held_from_sync(customers, errors) if sync and skip_invalid else set()
        if held is None:
            sync, held, report.sync_held = False, set(), -1
        else:
            report.sync_held = len(held)
        _check(customers, directory.limit_for_write(), sync, held, errors)
        bad_lines = {e.line for e in errors}
        if bad_lines and not skip_invalid:
            errors.sort(key=lambda e: e.line)
            raise ImportFailed(report)
        report.rows_skipped = len(bad_lines)
        _drop_lines(customers, bad_lines)
        changes = ImportHistory(history.import_actor(_source_name(stream, source)), directory.catalog, utcnow())
        _write(customers, sync, report, dry_run, progress, held, changes)
        if not dry_run:
            changes.flush()
    errors.sort(key=lambda e: e.line)
    report.written = not dry_run
    if report.written and report.rows >= _ANALYZE_AFTER and is_postgres(directory.database):
        # Fresh statistics, or the first searches after a bulk load are
        # planned as if the tables were empty.
        for table in ("customer", "contact_person", "contact_category"):
            directory.database.execute_sql(f"ANALYZE {table}")
    return report


def _source_name(stream: BinaryIO, source: str | None) -> str:
    name = source if source is not None else getattr(stream, "name", "")
    # Standard input is named "<stdin>", a file opened by descriptor by its number.
    return name if isinstance(name, str) and not name.startswith("<") else "-"


def _seekable(stream: BinaryIO) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def _collect(customers: dict[str, _Customer], row: Row, errors: list[RowError]) -> None:
    plan = customers.get(row.customer_key)
    if plan is None:
        plan = customers[row.customer_key] = _Customer(
            row.customer_key, row.customer_email, row.customer_name, row.line, notes_column=row.notes_column
        )
    elif row.customer_name and plan.name and row.customer_name != plan.name:
        errors.append(
            RowError(
                row.line,
                "customer_name",
                f"differs from line {plan.name_line} ({plan.name!r}); a customer has one name",
                row.customer_key,
            )
        )
        return
    elif row.customer_name and not plan.name:
        plan.name, plan.name_line = row.customer_name, row.line
    if row.language and plan.language and row.language != plan.language:
        errors.append(
            RowError(
                row.line,
                "language",
                f"differs from line {plan.language_line} ({plan.language!r}); a customer has one language",
                row.customer_key,
            )
        )
        return
    elif row.language and not plan.language:
        plan.language, plan.language_line = row.language, row.line
    plan.lines.append(row.line)
    if row.contact is None:
        # As the phone: a customer's note comes from a row that only defines the customer.
        for name, value in (("phone", row.customer_phone), ("notes", row.customer_notes)):
            given = getattr(plan, name)
            if value and given and value != given:
                label = "phone" if name == "phone" else "note"
                errors.append(
                    RowError(
                        row.line, name, f"differs from the customer's {label} {given!r} given before", row.customer_key
                    )
                )
            elif value:
                setattr(plan, name, value)
        return
    first = plan.contacts.get(row.contact.key)
    if first is not None:
        duplicate = duplicate_contact(row.contact.email, first[1].email, line=first[0])
        errors.append(RowError(row.line, "contact_email", duplicate.message, row.customer_key))
        return
    conflict = primary_conflict(row.contact.key, row.contact.email, plan.key)
    if conflict:
        errors.append(RowError(row.line, "contact_email", conflict.message, row.customer_key))
        return
    plan.contacts[row.contact.key] = (row.line, row.contact)


def _load_existing(customers: dict[str, _Customer]) -> None:
    for keys in chunked(sorted(customers), writes.BATCH):
        query = (
            Customer.select(
                Customer.id,
                Customer.name,
                Customer.email,
                Customer.email_key,
                Customer.phone,
                Customer.notes,
                Customer.language,
            )
            .where(Customer.email_key.in_(keys))
            .order_by(Customer.email_key)
        )
        if is_postgres(Customer._meta.database):
            # Lock the customers as the directory does for a single edit, so
            # an admin adding a contact meanwhile is counted against the limit.
            # Sorted, so two imports take their locks in the same order.
            query = query.for_update()
        found = {c.id: c for c in query.namedtuples()}
        if not found:
            continue
        existing = {cid: _Existing(c.id, c.name, c.email, c.phone, c.notes, c.language) for cid, c in found.items()}
        contacts = list(
            ContactPerson.select(
                ContactPerson.id,
                ContactPerson.customer,
                ContactPerson.name,
                ContactPerson.email,
                ContactPerson.email_key,
                ContactPerson.phone,
                ContactPerson.role,
                ContactPerson.receive_all,
                ContactPerson.deleted_at,
                ContactPerson.notes,
            )
            .where(ContactPerson.customer.in_(list(found)))
            .order_by(ContactPerson.id)
            .namedtuples()
        )
        for contact in contacts:
            target = existing[contact.customer]
            bucket = target.active if contact.deleted_at is None else target.deleted
            bucket[contact.email_key] = contact
        ids = [c.id for c in contacts]
        for id_chunk in chunked(ids, writes.BATCH):
            links: dict[int, set[str]] = {}
            for link in ContactCategory.select().where(ContactCategory.contact.in_(id_chunk)):
                links.setdefault(link.contact_id, set()).add(link.category)
            for contact in contacts:
                if contact.id in links:
                    existing[contact.customer].categories[contact.id] = frozenset(links[contact.id])
        for cid, customer in found.items():
            customers[customer.email_key].existing = existing[cid]


def _check(customers: dict[str, _Customer], limit: int, sync: bool, held: set[str], errors: list[RowError]) -> None:
    for plan in customers.values():
        if plan.existing is None and not plan.name:
            for line in plan.lines:
                errors.append(RowError(line, "customer_name", needs_a_name(plan.email).message, plan.key))
            continue
        active = plan.existing.active if plan.existing is not None else {}
        synced = sync and plan.key not in held
        kept = 0 if synced else sum(1 for key in active if key not in plan.contacts)
        # Contact persons the file names that are active already take no more room.
        count = kept + sum(1 for key in plan.contacts if key in active)
        hint = " (counting those already in the database; --sync drops the ones not in the file)" if kept else ""
        for key, (line, _) in plan.contacts.items():
            if key in active:
                continue
            error = limit_error(count, limit, plan.email)
            if error:
                errors.append(RowError(line, "contact_email", error.message + hint, plan.key))
            else:
                count += 1


def _held_from_sync(customers: dict[str, _Customer], errors: list[RowError]) -> set[str] | None:
    """The existing customers --sync must leave alone: a skipped row of theirs
    may have been meant for any of their contact persons. ``None``: some
    skipped row names no customer that can be read, so none is safe."""
    if any(e.customer_key is None for e in errors):
        return None
    return {e.customer_key for e in errors if e.customer_key in customers and customers[e.customer_key].existing}


def _drop_lines(customers: dict[str, _Customer], bad_lines: set[int]) -> None:
    if not bad_lines:
        return
    for key in list(customers):
        plan = customers[key]
        plan.contacts = {k: v for k, v in plan.contacts.items() if v[0] not in bad_lines}
        plan.lines = [line for line in plan.lines if line not in bad_lines]
        if not plan.lines:
            del customers[key]


def _write(
    customers: dict[str, _Customer],
    sync: bool,
    report: ImportReport,
    dry_run: bool,
    progress,
    held: set[str],
    changes: ImportHistory,
) -> None:
    now = changes.now
    new = [p for p in customers.values() if p.existing is None]
    old = [(p, p.existing) for p in customers.values() if p.existing is not None]
    report.customers_created = len(new)
    for p in new if dry_run else ():
        report.change(f"new customer {p.email} ({p.name})")
        for _, contact in p.contacts.values():
            report.change(f"  add {contact.email} ({contact.name})")
    total = len(customers) + sum(len(p.contacts) for p in customers.values())
    done = 0

    inserts: list[tuple[int, CleanContact]] = []  # (customer id, contact person) to add
    for batch in chunked(new, writes.BATCH):
        rows = [
            (CleanCustomer(p.name, p.email, p.key, p.phone, p.notes, p.language or DEFAULT_LANGUAGE), _contacts_of(p))
            for p in batch
        ]
        ids = {} if dry_run else writes.insert_customers(rows, now)
        for customer, _ in rows if not dry_run else ():
            changes.customer_added(ids[customer.key], customer)
        inserts.extend((ids.get(customer.key, 0), contact) for customer, contacts in rows for contact in contacts)
        done += len(batch)
        if progress:
            progress("writing", done, total)

    changed: list[int] = []
    for p, ex in old:
        touched, changed_here = _update_customer(p, ex, sync and p.key not in held, report, dry_run, inserts, changes)
        if changed_here:
            changed.append(ex.id)
        done += 1 + touched
        if progress and done % 2000 < len(p.contacts) + 1:
            progress("writing", done, total)
    report.contacts_added += len(inserts)

    emails = {} if dry_run else _customer_emails(customers, inserts)
    for batch in chunked(inserts, writes.BATCH):
        if not dry_run:
            for contact_id, (customer_id, contact) in zip(writes.insert_contacts(batch, now), batch, strict=True):
                changes.contact_added(customer_id, emails[customer_id], contact_id, contact)
        done += len(batch)
        if progress:
            progress("writing", min(done, total), total)
    if not dry_run:
        # New customers were written with their counts; these changed since.
        writes.refresh_customers(changed)


def _customer_emails(customers: dict[str, _Customer], inserts: list[tuple[int, CleanContact]]) -> dict[int, str]:
    """The primary email of each customer that gets contact persons, by id, for the history."""
    wanted = {customer_id for customer_id, _ in inserts}
    found = {p.existing.id: p.existing.email for p in customers.values() if p.existing and p.existing.id in wanted}
    missing = sorted(wanted - set(found))
    for batch in chunked(missing, writes.BATCH):
        found.update(Customer.select(Customer.id, Customer.email).where(Customer.id.in_(batch)).tuples())
    return found


def _contacts_of(plan: _Customer) -> list[CleanContact]:
    return [contact for _, contact in plan.contacts.values()]


def _update_customer(
    p: _Customer, ex: _Existing, sync, report, dry_run, inserts, changes: ImportHistory
) -> tuple[int, bool]:
    """Apply the file to one existing customer; new contact rows go to ``inserts``,
    what changes to the history (``changes``). Returns the rows of the file it
    took and whether anything changed there. Opt-ins of categories the catalog
    lacks are not the file's to change: they stay, as a switch of the catalog left them."""
    now, known = changes.now, changes.known
    recorded: list[tuple[str, Any, list]] = []  # (action, contact row, [field, before, after]) for the history
    touched = 0
    edits = [
        [label, old, new]
        for label, old, new in (
            ("name", ex.name, p.name),
            ("phone", ex.phone, p.phone),
            ("notes", ex.notes, p.notes),
            ("language", ex.language, p.language),
        )
        if new and new != old
    ]
    customer_changed = bool(edits)
    lines: list[str] = []  # what changes at this customer's contact persons, for --dry-run
    restored: list[int] = []
    updated: list[tuple[int, CleanContact]] = []
    for key, (_, contact) in p.contacts.items():
        touched += 1
        current = ex.active.get(key) or ex.deleted.get(key)
        if current is None:
            inserts.append((ex.id, contact))
            lines.append(f"  add {contact.email} ({contact.name})")
            continue
        if not p.notes_column:
            contact = replace(contact, notes=current.notes)  # a file without notes leaves them be
        stored = ex.categories.get(current.id, frozenset())
        if contact.receive_all and not contact.categories:
            # "all" says nothing of the categories underneath (export writes
            # "all" for receive-all with or without them): keep them, so an
            # export imported again changes nothing.
            contact = replace(contact, categories=stored)
        elif stored - known:
            contact = replace(contact, categories=contact.categories | (stored - known))
        differences = _differences(current, stored, contact)
        if differences:
            updated.append((current.id, contact))
        if current.deleted_at is not None:
            report.contacts_restored += 1
            lines.append(f"  restore {contact.email} ({contact.name})")
            restored.append(current.id)
            recorded.append((history.CONTACT_RESTORED, current, [["active", False, True], *differences]))
        elif differences:
            report.contacts_updated += 1
            lines.append(f"  update {contact.email}: " + ", ".join(_described(differences)))
            recorded.append((history.CONTACT_EDITED, current, differences))
    removed = [current for key, current in ex.active.items() if key not in p.contacts] if sync else []
    for current in removed:
        report.contacts_removed += 1
        lines.append(f"  remove {current.email} ({current.name}): not in the file (--sync)")
        recorded.append((history.CONTACT_DELETED, current, [["active", True, False]]))
    if customer_changed:
        report.customers_updated += 1
    if customer_changed or lines:
        what = ", ".join(f"{label} {old!r} -> {new!r}" for label, old, new in edits)
        for line in [f"customer {ex.email}" + (f": {what}" if what else ""), *lines]:
            report.change(line)
    if not dry_run:
        writes.set_deleted([current.id for current in removed], True, now)
        writes.set_deleted(restored, False, now)
        writes.update_contacts(updated, now)
        if customer_changed:
            customer = CleanCustomer(
                p.name or ex.name,
                ex.email,
                p.key,
                p.phone or ex.phone,
                p.notes or ex.notes,
                p.language or ex.language,
            )
            writes.update_customer(ex.id, customer, now)
            changes.customer_edited(ex.id, ex.email, edits)
        for action, current, fields in recorded:
            changes.contact_changed(action, ex.id, ex.email, current.id, current.email, fields)
    return touched, customer_changed or bool(lines)


def _differences(current: Any, categories: frozenset[str], contact: CleanContact) -> list[list]:
    """What the row changes of the stored contact person, as [field, before, after]; empty: nothing."""
    pairs = (
        ("name", current.name, contact.name),
        ("email", current.email, contact.email),
        ("phone", current.phone, contact.phone),
        ("role", current.role, contact.role),
        ("receive all", bool(current.receive_all), contact.receive_all),
        ("categories", categories, contact.categories),
        ("notes", current.notes, contact.notes),
    )
    return [[label, old, new] for label, old, new in pairs if old != new]


def _described(differences: list[list]) -> list[str]:
    """As --dry-run says them: "field 'old' -> 'new'"."""
    return [f"{label} {_shown(old)!r} -> {_shown(new)!r}" for label, old, new in differences]


def _shown(value):
    return ";".join(sorted(value)) if isinstance(value, frozenset) else value
