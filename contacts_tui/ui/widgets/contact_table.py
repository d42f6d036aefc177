"""The contact persons of one customer; at most a few dozen rows, so all of them."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.records import ContactRecord

from ..format import cell, contact_status, receives

COLUMNS = ("name", "email", "phone", "role", "receives", "status")
# The most each of the short columns takes at 80 columns and when wider: every
# column shows at 80, the short ones shrink to what their values need, and
# name and email share the rest (long values end in an ellipsis).
NARROW_CAPS = {"phone": 16, "role": 11, "receives": 10, "status": 7}
WIDE_CAPS = {"phone": 18, "role": 11, "receives": 24, "status": 7}
WIDE = 100
GAP = " "
"""Between columns: one space, not the DataTable's two, leaves name and email
six more cells at 80 columns."""


class ContactTable(DataTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "edit", show=False, tooltip="Edit the highlighted contact person",
                id="contacts.open"),
    ]

    def __init__(self, catalog: Catalog, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=0)
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
        total = max(self.size.width, 40)
        caps = WIDE_CAPS if total >= WIDE else NARROW_CAPS
        texts = [self._texts(record, caps["receives"]) for record in self.records]
        for key, width in self._widths(texts, total, caps).items():
            self.add_column(GAP + key.capitalize(), key=key, width=len(GAP) + width)
        for record, values in zip(self.records, texts):
            style = "" if record.active else "dim"
            self.add_row(*(cell(GAP + values[key], style) for key in COLUMNS), key=str(record.id))
        if self.records:
            self.move_cursor(row=row, animate=False)
        self._laid_out_width = self.size.width

    def _texts(self, record: ContactRecord, receives_width: int) -> dict[str, str]:
        return {
            "name": record.name,
            "email": record.email,
            "phone": record.phone,
            "role": record.role,
            "receives": receives(record, self.catalog, receives_width),
            "status": contact_status(record),
        }

    @staticmethod
    def _widths(texts: list[dict[str, str]], total: int, caps: dict[str, int]) -> dict[str, int]:
        widths = {
            key: min(cap, max([len(key)] + [cell_len(values[key]) for values in texts]))
            for key, cap in caps.items()
        }
        # One cell of gap per column and one for the scrollbar.
        free = max(total - len(GAP) * len(COLUMNS) - 1 - sum(widths.values()), 12)
        # Names get two fifths, or more when the addresses are short; never
        # more than the longest name needs.
        name_need, email_need = (max([4] + [cell_len(values[key]) for values in texts]) for key in ("name", "email"))
        name = max(min(name_need, max(free * 2 // 5, free - email_need)), 4)
        return {"name": name, "email": free - name, **widths}

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
