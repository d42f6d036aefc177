"""The customers table: one window of rows from a result that may hold 100k.

The table never holds more than one page. It knows where that page starts
(``page_offset``) and how many rows the whole result has (``total``); when the
cursor would leave the page it asks for the page around the row it wants,
and the screen answers with ``show_page``.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from contacts_tui.core.records import CustomerPage, CustomerRecord

from ..format import cell, contact_count, customer_status

COLUMNS = (("name", "Name"), ("email", "Primary email"), ("contacts", "Contacts"), ("status", "Status"))
FIXED_WIDTHS = {"contacts": 10, "status": 8}


class CustomerTable(DataTable):
    """A paged window onto the customers that match the search."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted customer", id="customers.open"),
    ]

    class Wanted(Message):
        """The cursor wants row ``index`` of the whole result, outside this page."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, max_contacts: int, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.max_contacts = max_contacts
        self.page_offset = 0
        self.total = 0
        self.sort_key = "name"
        self.descending = False
        self.records: tuple[CustomerRecord, ...] = ()
        self.waiting_for: int | None = None
        self._laid_out_width = 0

    # -- showing -----------------------------------------------------------

    def show_page(self, page: CustomerPage, cursor: int, sort: str, descending: bool) -> None:
        """Show ``page`` with the cursor on row ``cursor`` of the whole result."""
        self.page_offset, self.total, self.records = page.offset, page.total, page.rows
        self.sort_key, self.descending = sort, descending
        self.waiting_for = None
        self._rebuild(max(0, min(cursor - page.offset, len(page.rows) - 1)))

    def _rebuild(self, row: int) -> None:
        self.clear(columns=True)
        for key, width in self._widths().items():
            self.add_column(self._label(key), key=key, width=width)
        limit = self.max_contacts
        for record in self.records:
            full = record.contact_count >= limit
            self.add_row(
                cell(record.name),
                cell(record.email),
                cell(contact_count(record.contact_count, limit), "bold" if full else ""),
                cell(customer_status(record), "" if record.active else "dim"),
                key=str(record.id),
            )
        if self.records:
            self.move_cursor(row=row, animate=False)
        self._laid_out_width = self.size.width

    def _label(self, key: str) -> Text:
        title = dict(COLUMNS)[key]
        if key == self.sort_key:
            title += " ▼" if self.descending else " ▲"
        return Text(title, no_wrap=True)

    def _widths(self) -> dict[str, int]:
        # Two cells of padding per column and one for the scrollbar; names and
        # addresses share what is left, so nothing spills past 80 columns.
        width = max(self.size.width, 40) - 2 * self.cell_padding * len(COLUMNS) - 1
        free = max(width - sum(FIXED_WIDTHS.values()), 20)
        name = free * 9 // 20
        return {"name": name, "email": free - name, **FIXED_WIDTHS}

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_width and self.columns:
            self._rebuild(self.cursor_row)

    # -- where the cursor is -------------------------------------------------

    @property
    def index(self) -> int:
        """The cursor's row in the whole result."""
        return self.page_offset + self.cursor_row

    def current(self) -> CustomerRecord | None:
        if not self.records or not 0 <= self.cursor_row < len(self.records):
            return None
        return self.records[self.cursor_row]

    def go_to(self, index: int) -> None:
        """Move to row ``index`` of the whole result, asking for its page if needed."""
        if self.total == 0:
            return
        index = max(0, min(index, self.total - 1))
        if self.page_offset <= index < self.page_offset + len(self.records):
            self.move_cursor(row=index - self.page_offset, animate=False)
            return
        # Keep asking for the newest target while a page is on its way, so
        # holding a key down does not queue one query per key press.
        self.waiting_for = index
        self.post_message(self.Wanted(index))

    def _target(self, step: int) -> int:
        base = self.waiting_for if self.waiting_for is not None else self.index
        return base + step

    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - (self.header_height if self.show_header else 0))

    def action_cursor_down(self) -> None:
        self.go_to(self._target(1))

    def action_cursor_up(self) -> None:
        self.go_to(self._target(-1))

    def action_page_down(self) -> None:
        self.go_to(self._target(self._page_height()))

    def action_page_up(self) -> None:
        self.go_to(self._target(-self._page_height()))

    def action_scroll_top(self) -> None:
        self.go_to(0)

    def action_scroll_bottom(self) -> None:
        self.go_to(self.total - 1)

    # With a row cursor, home and end have no columns to move between.
    action_scroll_home = action_scroll_top
    action_scroll_end = action_scroll_bottom
