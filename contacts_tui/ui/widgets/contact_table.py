"""The contact persons of one customer; at most a few dozen rows, so all of them."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.records import ContactRecord

from ..format import cell, contact_status, receives
from ..language import N_, _, role_name
from ..marks import MARK_COLUMN, Marks, mark_cell
from .vi_keys import LIST_KEYS

COLUMNS = ("name", "email", "phone", "role", "receives", "status")
TITLES = {
    "name": N_("Name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "role": N_("Role"),
    "receives": N_("Receives"),
    "status": N_("Status"),
}
# The most each of the short columns takes at 80 columns and when wider; they
# shrink to what their values need, and name and email share the rest.
NARROW_CAPS = {"phone": 16, "role": 11, "receives": 10, "status": 7}
WIDE_CAPS = {"phone": 18, "role": 11, "receives": 24, "status": 7}
GIVE_WAY = ("phone", "role")
"""Columns that leave the table, in this order, while names or addresses
would be cut: the line under the table shows the highlighted person's phone
and role. Status shows only while deleted contact persons are listed."""
WIDE = 100
GAP = " "
"""Between columns: one space, not the DataTable's two, leaves name and email
six more cells at 80 columns."""


class ContactTable(DataTable):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            N_("edit"),
            show=False,
            tooltip=N_("Edit the highlighted contact person"),
            id="contacts.open",
        ),
        *LIST_KEYS,
    ]

    def __init__(self, catalog: Catalog, *, id: str | None = None, labels: bool = False) -> None:
        """``labels``: categories by their labels (for customers), not their keys (for admins)."""
        super().__init__(id=id, cursor_type="row", cell_padding=0)
        self.catalog = catalog
        self.labels = labels
        self.records: list[ContactRecord] = []
        self.marks: Marks | None = None
        """The marks of a screen whose rows can be marked: a mark column shows while one is."""
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
        titles = {key: _(title) for key, title in TITLES.items()}
        marking = bool(self.marks)
        mark_width = len(GAP) + MARK_COLUMN[2] if marking else 0
        deleted = any(not record.active for record in self.records)
        widths = self._widths(texts, titles, total - mark_width, caps, deleted=deleted)
        if marking:
            self.add_column(GAP, key=MARK_COLUMN[0], width=mark_width)
        for key, width in widths.items():
            self.add_column(GAP + titles[key], key=key, width=len(GAP) + width)
        for record, values in zip(self.records, texts, strict=True):
            style = "" if record.active else "dim"
            cells = [cell(GAP + values[key], style) for key in widths]
            if marking:
                cells.insert(0, self._mark(record.id))
            self.add_row(*cells, key=str(record.id))
        if self.records:
            self.move_cursor(row=row, animate=False)
        self._laid_out_width = self.size.width

    def _mark(self, record_id: int) -> Text:
        return Text(GAP, end="") + mark_cell(bool(self.marks and self.marks.marked(record_id)))

    def show_marks(self, record_id: int | None = None) -> None:
        """Show the marks as they are now: one row's (``record_id``), or every row's."""
        if record_id is None or (MARK_COLUMN[0] in self.columns) != bool(self.marks):
            self._rebuild(self.cursor_row)  # the mark column comes or goes
        elif self.marks and str(record_id) in self.rows:
            self.update_cell(str(record_id), MARK_COLUMN[0], self._mark(record_id))

    def _texts(self, record: ContactRecord, receives_width: int) -> dict[str, str]:
        return {
            "name": record.name,
            "email": record.email,
            "phone": record.phone,
            "role": role_name(record.role),
            "receives": receives(record, self.catalog, receives_width, labels=self.labels),
            "status": contact_status(record),
        }

    @staticmethod
    def _widths(
        texts: list[dict[str, str]], titles: dict[str, str], total: int, caps: dict[str, int], *, deleted: bool
    ) -> dict[str, int]:
        """The columns to show, in order, with their widths."""
        short = {
            key: min(cap, max([cell_len(titles[key])] + [cell_len(values[key]) for values in texts]))
            for key, cap in caps.items()
            # A column that would be empty (nobody has a phone) or say the same on each row is left out.
            if (key != "status" or deleted) and (key != "phone" or any(values[key] for values in texts))
        }
        name_need, email_need = (max([4] + [cell_len(values[key]) for values in texts]) for key in ("name", "email"))

        def free() -> int:
            # One cell of gap per column and one for the scrollbar.
            return total - len(GAP) * (len(short) + 2) - 1 - sum(short.values())

        for key in GIVE_WAY:
            if free() >= name_need + email_need:
                break
            short.pop(key, None)
        room = max(free(), 12)
        # Names get two fifths, or more when the addresses are short; never
        # more than the longest name needs.
        name = max(min(name_need, max(room * 2 // 5, room - email_need)), 4)
        widths = {"name": name, "email": room - name, **short}
        return {key: widths[key] for key in COLUMNS if key in widths}

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
