"""The history as a table: when, who, through which channel, what."""

from __future__ import annotations

from rich.text import Text

from contacts_tui.core.directory.history import PORTAL_CHANNELS, Change
from contacts_tui.core.times import short_time

from ..format import cell
from .paged_table import PagedTable


class HistoryTable(PagedTable):
    """The newest changes, all on one page (the screen asks for a bounded number)."""

    COLUMNS = (("when", "When", 11), ("who", "Who", 0), ("via", "Via", 6), ("what", "What", 0))

    def cells(self, change: Change) -> list[Text]:
        return [
            cell(short_time(change.at)),
            # Customers stand out from admins and files: they are who the history is kept for.
            cell(change.who, "bold" if change.channel in PORTAL_CHANNELS else ""),
            cell(change.channel),
            cell(change.summary()),
        ]

    def _widths(self) -> dict[str, int]:
        # What happened needs more room than who did it.
        free = max(self._free_width(), 20)
        widths = {key: width for key, _, width in self.COLUMNS}
        widths["who"] = free // 3
        widths["what"] = free - widths["who"]
        return widths
