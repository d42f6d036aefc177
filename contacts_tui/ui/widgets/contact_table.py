"""The contact persons of one customer; at most a few dozen rows, so all of them."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.records import ContactRecord

from ..format import cell, contact_status, receives

# Phone needs room; below this width it shows under the table instead.
WIDE = 100
FIXED = {"role": 11, "receives": 14, "status": 7}


class ContactTable(DataTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "edit", show=False, tooltip="Edit the highlighted contact person",
                id="contacts.open"),
    ]

    def __init__(self, catalog: Catalog, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.catalog = catalog
        self.records: list[ContactRecord] = []
        self._laid_out_width = 0

    def show_records(self, records: list[ContactRecord], select_id: int | None = None) -> None:
        row = self.cursor_row
        if select_id is not None:
            row = next((i for i, r in enumerate(records) if r.id == select_id), row)
        self.records = records
        self._rebuild(max(0, min(row, len(records) - 1)))

    def _rebuild(self, row: int) -> None:
        self.clear(columns=True)
        widths = self._widths()
        for key, width in widths.items():
            self.add_column(key.capitalize(), key=key, width=width)
        for record in self.records:
            style = "" if record.active else "dim"
            cells = {
                "name": cell(record.name, style),
                "email": cell(record.email, style),
                "phone": cell(record.phone, style),
                "role": cell(record.role, style),
                "receives": cell(receives(record, self.catalog), style),
                "status": cell(contact_status(record), style),
            }
            self.add_row(*(cells[key] for key in widths), key=str(record.id))
        if self.records:
            self.move_cursor(row=row, animate=False)
        self._laid_out_width = self.size.width

    def _widths(self) -> dict[str, int]:
        total = max(self.size.width, 40)
        wide = total >= WIDE
        columns = 6 if wide else 5
        free = total - 2 * self.cell_padding * columns - 1 - sum(FIXED.values())
        if wide:
            phone = 16
            free -= phone
        name = max(free * 2 // 5, 6)
        widths = {"name": name, "email": max(free - name, 6)}
        if wide:
            widths["phone"] = phone
        return {**widths, **FIXED}

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_width and self.columns:
            self._rebuild(self.cursor_row)

    # With a row cursor, home and end have no columns to move between: go to
    # the first or last contact person, as on the customers table.
    def action_scroll_home(self) -> None:
        self.action_scroll_top()

    def action_scroll_end(self) -> None:
        self.action_scroll_bottom()

    def current(self) -> ContactRecord | None:
        if not self.records or not 0 <= self.cursor_row < len(self.records):
            return None
        return self.records[self.cursor_row]
