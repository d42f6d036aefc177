"""Rows marked for a bulk change (space marks one, * all that are shown), and
how a mark looks: a character in a column of its own, so it reads the same
in 16 colours and with NO_COLOR."""

from __future__ import annotations

from rich.text import Text

from contacts_tui.core.directory.filters import NO_FILTER, Filter

MARK = "✓"
MARK_COLUMN = ("mark", "", 1)
"""(key, title, width) of the column a table shows while rows are marked."""


def mark_cell(marked: bool) -> Text:
    return Text(MARK if marked else " ", style="bold" if marked else "", no_wrap=True, end="")


class Marks:
    """Marked rows: by id, or all that a search and filter show less those
    unmarked since. All of them is a search and a filter, not a list of ids:
    the customers list never holds every row, and neither do its marks."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.all_shown = False
        self.shown: tuple[str, Filter] = ("", NO_FILTER)
        """The search text and filter whose rows ``all_shown`` marks."""
        self.excluded: set[int] = set()

    def __bool__(self) -> bool:
        return self.all_shown or bool(self.ids)

    def marked(self, record_id: int) -> bool:
        if self.all_shown:
            return record_id not in self.excluded
        return record_id in self.ids

    def toggle(self, record_id: int) -> None:
        chosen = self.excluded if self.all_shown else self.ids
        chosen.symmetric_difference_update({record_id})

    def mark_all(self, text: str = "", flt: Filter = NO_FILTER) -> None:
        self.clear()
        self.all_shown, self.shown = True, (text.strip(), flt)

    def mark_ids(self, ids) -> None:
        self.clear()
        self.ids = set(ids)

    def clear(self) -> None:
        self.ids, self.excluded, self.all_shown = set(), set(), False

    def count(self, shown_total: int) -> int:
        """How many are marked, ``shown_total`` being how many rows are shown."""
        return max(shown_total - len(self.excluded), 0) if self.all_shown else len(self.ids)
