"""The history as a table: when, who, through which channel, what (and of
which customer, where it lists every customer's)."""

from __future__ import annotations

from rich.text import Text

from contacts_tui.core.directory.history import PORTAL_CHANNELS, Change
from contacts_tui.core.times import short_time

from ..format import cell
from .paged_table import PagedTable


class HistoryTable(PagedTable):
    """The newest changes, all on one page (the screen asks for a bounded number)."""

    COLUMNS = (
        ("when", "When", 11),
        ("who", "Who", 0),
        ("via", "Via", 6),
        ("customer", "Customer", 0),
        ("what", "What", 0),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.with_customer = False
        """Whether the rows are of every customer: then each says whose it is."""

    def show_customer(self, show: bool) -> None:
        """Add or drop the customer column (the rows are of every customer, or of one)."""
        if show != self.with_customer:
            self.with_customer = show
            if self.columns:
                self._rebuild(self.cursor_row)

    def shown_columns(self) -> tuple[tuple[str, str, int], ...]:
        return tuple(column for column in self.COLUMNS if self.with_customer or column[0] != "customer")

    def cells(self, change: Change) -> list[Text]:
        return [
            cell(short_time(change.at)),
            # Customers stand out from admins and files: they are who the history is kept for.
            cell(change.who, "bold" if change.channel in PORTAL_CHANNELS else ""),
            cell(change.channel),
            cell(change.customer_email),
            cell(change.summary()),
        ]

    def _widths(self) -> dict[str, int]:
        # What happened needs more room than who did it, or to whom.
        free = max(self._free_width(), 20)
        widths = {key: width for key, _, width in self.shown_columns()}
        if self.with_customer:
            # At 80 columns: "admin alice", a customer's address, and what.
            widths["who"] = free // 5
            widths["customer"] = free * 2 // 5
        else:
            widths["who"] = free // 3
        widths["what"] = free - sum(widths[key] for key in ("who", "customer") if key in widths)
        return widths
