"""A table that holds one page of a long result and asks for the page around
the row the cursor wants: the customers, the relay log, the captured messages.

It knows where its page starts (``page_offset``) and how many rows the whole
result has (``total``); when the cursor would leave the page it posts
``Wanted`` with the row it wants, and the screen answers with ``show_page``.

Columns are declared as (key, title, width); a width of 0 shares what the
fixed columns leave, so nothing spills past 80 columns. Columns named in
``NARROW_HIDDEN`` leave the table when it is narrower than ``WIDE``: the line
under the table shows them for the highlighted row, and the columns that tell
rows apart get their room.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import DataTable

from ..marks import MARK_COLUMN, Marks, mark_cell
from .vi_keys import LIST_KEYS


class PagedTable(DataTable):
    COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = ()
    NARROW_HIDDEN: ClassVar[frozenset[str]] = frozenset()
    WIDE: ClassVar[int] = 100
    BINDINGS: ClassVar[list[BindingType]] = LIST_KEYS

    class Wanted(Message):
        """The cursor wants row ``index`` of the whole result, outside this page."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    @property
    def directory(self) -> Any:
        """The app's directory: the admin's ``Directory``, or a signed-in customer's ``PortalScope``."""
        app: Any = self.app
        return app.directory

    def __init__(self, *, id: str | None = None) -> None:
        # One space between columns (in the cells) instead of the DataTable's
        # two: at 80 columns a recipient or a name keeps one more cell per column.
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self.page_offset = 0
        self.total = 0
        self.records: tuple[Any, ...] = ()
        self.waiting_for: int | None = None
        self.marks: Marks | None = None
        """The marks of a screen whose rows can be marked: a mark column shows while one is."""
        self._laid_out_width = 0

    def cells(self, record: Any) -> Sequence[Text]:
        """One row's cells, in column order."""
        raise NotImplementedError

    # -- showing -----------------------------------------------------------

    def show_page(self, rows: Sequence[Any], offset: int, total: int, cursor: int) -> None:
        """Show ``rows`` (starting at row ``offset`` of ``total``) with the cursor on row ``cursor``.

        A page equal to the one shown changes nothing, so a refresh that found
        nothing new neither flickers nor moves the view.
        """
        rows = tuple(rows)
        self.waiting_for = None
        row = page_row(cursor, offset, rows)
        if (rows, offset, total) == (self.records, self.page_offset, self.total) and self.columns:
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)
            return
        # New rows above the cursor push it down; the view moves with it
        # instead of jumping to wherever the cursor would be made visible.
        shift = row - self.cursor_row if self.records else 0
        scroll_y = self.scroll_y
        self.page_offset, self.total, self.records = offset, total, rows
        self._rebuild(row)
        if self.records:
            self.scroll_to(y=max(0, scroll_y + shift), animate=False, immediate=True)
            self.move_cursor(row=row, animate=False)

    def shown_columns(self) -> tuple[tuple[str, str, int], ...]:
        """The columns at the table's width now."""
        narrow = self.size.width < self.WIDE
        columns = tuple(column for column in self.COLUMNS if not (narrow and column[0] in self.NARROW_HIDDEN))
        return (MARK_COLUMN, *columns) if self.marks else columns

    def _rebuild(self, row: int) -> None:
        self.clear(columns=True)
        widths = self._widths()
        for key, width in widths.items():
            self.add_column(_gap(self._label(key)), key=key, width=width + GAP)
        keys = [key for key, _, _ in self.COLUMNS]
        for record in self.records:
            cells = dict(zip(keys, self.cells(record), strict=False))
            if self.marks:
                cells[MARK_COLUMN[0]] = mark_cell(self.marks.marked(record.id))
            self.add_row(*(_gap(cells[key]) for key in widths), key=str(record.id))
        if self.records:
            self.move_cursor(row=row, animate=False)
        self._laid_out_width = self.size.width

    def show_marks(self, record_id: int | None = None) -> None:
        """Show the marks as they are now: one row's (``record_id``), or every row's."""
        if record_id is None or (MARK_COLUMN[0] in self.columns) != bool(self.marks):
            self._rebuild(self.cursor_row)  # the mark column comes or goes
        elif self.marks and str(record_id) in self.rows:
            self.update_cell(str(record_id), MARK_COLUMN[0], _gap(mark_cell(self.marks.marked(record_id))))

    def _label(self, key: str) -> Text:
        title = next(title for k, title, _ in (MARK_COLUMN, *self.COLUMNS) if k == key)
        return Text(title, no_wrap=True)

    def _free_width(self) -> int:
        """What the fixed columns leave: two cells of padding per column and one for the scrollbar."""
        columns = self.shown_columns()
        fixed = sum(width for _, _, width in columns)
        return max(self.size.width, 40) - GAP * len(columns) - 1 - fixed

    def _widths(self) -> dict[str, int]:
        columns = self.shown_columns()
        shared = [key for key, _, width in columns if not width]
        each, extra = divmod(max(self._free_width(), 6 * len(shared)), max(len(shared), 1))
        widths = {}
        for key, _, width in columns:
            if width:
                widths[key] = width
            else:
                # The last shared column takes what division leaves over.
                widths[key] = each + (extra if key == shared[-1] else 0)
        return widths

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_width and self.columns:
            self._rebuild(self.cursor_row)

    # -- where the cursor is -------------------------------------------------

    @property
    def index(self) -> int:
        """The cursor's row in the whole result."""
        return self.page_offset + self.cursor_row

    def current(self) -> Any | None:
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


GAP = 1
"""Cells of space before each column."""


def _gap(text: Text) -> Text:
    text.pad_left(GAP)
    return text


def page_row(cursor: int, offset: int, rows: Sequence[Any]) -> int:
    """Row ``cursor`` of the whole result as a row of the page starting at ``offset``."""
    return max(0, min(cursor - offset, len(rows) - 1))
