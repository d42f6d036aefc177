"""What a CSV import records in the history: one change per customer and per
contact person it changes, as the file (``history.import_actor``), written
in batches inside the import's transaction.

The rows are built straight from the import's own records (not through
``Entry`` and ``history.differences``): at 300k contact persons the history
would otherwise cost the import more than its own writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ..catalog import Catalog
from ..directory import history
from ..directory.history import Actor
from ..directory.rules import CleanContact, CleanCustomer
from ..validate import DEFAULT_LANGUAGE

_FLUSH = 5_000
"""Changes held before they are written: an import of 300k rows keeps no 300k of them in memory."""


class ImportHistory:
    def __init__(self, actor: Actor, catalog: Catalog, now: dt.datetime) -> None:
        self.actor, self.now = actor, now
        self.known = frozenset(catalog.keys)
        self._order = {key: i for i, key in enumerate(catalog.keys)}
        self._stamp = history.stamp_of(now)
        self._rows: list[tuple] = []

    def categories(self, keys: Iterable[str]) -> list[str]:
        """As the directory shows them: in catalog order, without opt-ins the catalog lacks."""
        return sorted((k for k in keys if k in self._order), key=self._order.__getitem__)

    def customer_added(self, customer_id: int, customer: CleanCustomer) -> None:
        changes = [["name", None, customer.name], ["email", None, customer.email]]
        if customer.phone:
            changes.append(["phone", None, customer.phone])
        if customer.notes:
            changes.append(["notes", None, customer.notes])
        if customer.language != DEFAULT_LANGUAGE:
            changes.append(["language", None, customer.language])
        self._add(customer_id, customer.email, history.CUSTOMER_ADDED, changes)

    def customer_edited(self, customer_id: int, email: str, changes: Sequence[Sequence]) -> None:
        self._add(customer_id, email, history.CUSTOMER_EDITED, changes)

    def contact_added(self, customer_id: int, customer_email: str, contact_id: int, contact: CleanContact) -> None:
        # The fields history.differences(None, ...) gives for a new contact person, in the same order.
        changes: list[list[object]] = [["name", None, contact.name], ["email", None, contact.email]]
        if contact.phone:
            changes.append(["phone", None, contact.phone])
        changes.append(["role", None, contact.role])
        if contact.receive_all:
            changes.append(["receive all", None, True])
        if contact.categories:
            categories = self.categories(contact.categories)
            if categories:
                changes.append(["categories", None, categories])
        if contact.notes:
            changes.append(["notes", None, contact.notes])
        self._add(customer_id, customer_email, history.CONTACT_ADDED, changes, contact_id, contact.email)

    def contact_changed(
        self,
        action: str,
        customer_id: int,
        customer_email: str,
        contact_id: int,
        contact_email: str,
        changes: Sequence[Sequence],
    ) -> None:
        """A contact person edited, restored or deleted; ``changes`` as [field, before, after]."""
        rows = [
            [name, self.categories(before), self.categories(after)] if name == "categories" else [name, before, after]
            for name, before, after in changes
        ]
        # Categories the catalog lacks may be all that differs: nothing a reader would see.
        rows = [row for row in rows if row[1] != row[2]]
        if rows:
            self._add(customer_id, customer_email, action, rows, contact_id, contact_email)

    def flush(self) -> None:
        history.insert(self._rows)
        self._rows.clear()

    def _add(
        self,
        customer_id: int,
        customer_email: str,
        action: str,
        changes: Sequence[Sequence],
        contact_id: int | None = None,
        contact_email: str = "",
    ) -> None:
        self._rows.append(
            history.row(
                self._stamp, self.actor, customer_id, customer_email, action, changes, contact_id, contact_email
            )
        )
        if len(self._rows) >= _FLUSH:
            self.flush()
