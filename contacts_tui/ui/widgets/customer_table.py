"""The customers table: one page of a result that may hold 100k customers,
sorted by one column (see PagedTable for the paging)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from contacts_tui.core.records import CustomerRecord

from ..format import cell, contact_count, customer_status
from .paged_table import PagedTable, page_row


class CustomerTable(PagedTable):
    """A paged window onto the customers that match the search."""

    COLUMNS = (
        ("name", "Name", 0),
        ("email", "Primary email", 0),
        ("contacts", "Contacts", 10),
        ("status", "Status", 8),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted customer", id="customers.open"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_key = "name"
        self.descending = False

    def cells(self, record: CustomerRecord) -> list[Text]:
        # Read each time: the database's limit may have changed since the table was made.
        limit = self.directory.max_contacts
        full = record.contact_count >= limit
        return [
            cell(record.name),
            cell(record.email),
            cell(contact_count(record.contact_count, limit), "bold" if full else ""),
            cell(customer_status(record), "" if record.active else "dim"),
        ]

    def show_page(self, rows: Sequence[Any], offset: int, total: int, cursor: int) -> None:
        # Always laid out afresh, the view starting from the top: the sort
        # arrow may move while the rows stay the same.
        rows = tuple(rows)
        self.waiting_for = None
        self.page_offset, self.total, self.records = offset, total, rows
        self._rebuild(page_row(cursor, offset, rows))

    def _label(self, key: str) -> Text:
        label = super()._label(key)
        if key == self.sort_key:
            label.append(" ▼" if self.descending else " ▲")
        return label

    def _widths(self) -> dict[str, int]:
        # Names and addresses share what is left, names a little less.
        free = max(self._free_width(), 20)
        widths = {key: width for key, _, width in self.shown_columns()}
        widths["name"] = free * 9 // 20
        widths["email"] = free - widths["name"]
        return widths
