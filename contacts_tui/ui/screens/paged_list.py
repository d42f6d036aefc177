"""What the customers, relay log and captured messages screens share: a
search box over a paged table, and loads that run in a thread where the
newest request wins.

A screen whose loads can be stopped (``STOPPABLE``: the customers, at a
million rows) ends the running load when a newer one is asked for and
starts the newer at once: typing fast never waits for the search of a
keystroke already overtaken. The others let the running load finish and
then run only the newest of those asked for meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual import events, on
from textual.widgets import DataTable, Input

from contacts_tui.core.interrupt import Stop

from ..widgets.paged_table import PagedTable
from .base import AppScreen

PAGE = 50
"""Rows the table holds at a time; the cursor's row sits in the middle.

Three screens of rows at 80x24, so scrolling asks for a new page every
screen and a half. Each row costs the table ~0.2 ms to take in, on every
keystroke of a search: 100 rows put a search keystroke 18 ms later."""


@dataclass(frozen=True)
class PageQuery:
    """What a paged list shows; each screen adds its own sort or filter."""

    text: str = ""
    index: int = 0
    """The row of the whole result the cursor wants."""
    select_id: int | None = None
    """A record to put the cursor on instead, if the page holds it."""
    quiet: bool = False
    """An automatic refresh: an outage shows in the status line, not as a notification every time."""

    def offset(self, total: int) -> int:
        return max(0, min(self.index - PAGE // 2, total - PAGE))


class PagedListScreen(AppScreen):
    """A search box (#search) over a PagedTable.

    Subclasses say what a load runs (``loader``), how its answer shows
    (``show_loaded``, which ends with ``show_rows``), what a failed load
    says (``show_failure``) and what follows the highlighted row (``show_cursor``).
    """

    LOAD_GROUP: ClassVar[str] = "rows"
    STOPPABLE: ClassVar[bool] = False
    """Whether ``loader`` reads under ``self.load_stop``, so a newer load can end it."""

    def __init__(self, query: PageQuery) -> None:
        super().__init__()
        self.query_state = query
        self.in_flight: PageQuery | None = None
        self.next_query: PageQuery | None = None
        self.loaded_once = False
        self.load_stop = Stop()
        """The Stop of the newest load; a loader reads under it."""
        self.stops = 0
        """Loads ended because a newer one was asked for (the tests read it)."""

    @property
    def table(self) -> PagedTable:
        return self.query_one(PagedTable)

    # -- what subclasses say -------------------------------------------------

    def loader(self, query: Any, offset: int) -> Callable[[], Any]:
        """The call (run in a thread) that loads the page of ``query`` starting at row ``offset``."""
        raise NotImplementedError

    def show_loaded(self, loaded: Any) -> None:
        """Show what the newest load returned."""
        raise NotImplementedError

    def show_failure(self) -> None:
        """Say in the status line that a load failed (a notification said why)."""
        raise NotImplementedError

    def show_cursor(self) -> None:
        """Show what goes with the highlighted row."""
        raise NotImplementedError

    # -- loading -------------------------------------------------------------

    def load(self, query: Any) -> None:
        """Show the page around ``query.index``; the newest request wins."""
        self.query_state = query
        if self.in_flight is not None:
            if not self.STOPPABLE:
                self.next_query = query
                return
            # Its answer would be dropped anyway (the newer worker of the
            # group cancels it): end its query instead of waiting for it.
            self.load_stop.stop()
            self.stops += 1
        self.in_flight = query
        self.load_stop = Stop()
        known_total = self.table.total if self.loaded_once else PAGE
        self.call_directory(
            self.LOAD_GROUP, self.loader(query, query.offset(known_total)), self._loaded, self._load_failed
        )

    def load_first_page(self, **changes: Any) -> None:
        """Load the start of a changed search."""
        self.load(replace(self.query_state, index=0, select_id=None, quiet=False, **changes))

    def reload(self, select_id: int | None = None, *, quiet: bool = False) -> None:
        """Load again around the cursor, keeping it on ``select_id`` (by default the highlighted record)."""
        if select_id is None:
            current = self.table.current()
            select_id = current.id if current else None
        self.load(replace(self.query_state, index=self.table.index, select_id=select_id, quiet=quiet))

    def _loaded(self, loaded: Any) -> None:
        self.in_flight = None
        if not self._load_next():
            self.show_loaded(loaded)

    def _load_failed(self, _error: Exception) -> None:
        self.in_flight = None
        self.table.waiting_for = None
        self.show_failure()
        self._load_next()

    def _load_next(self) -> bool:
        """Start the load asked for meanwhile, if any: it makes the answer at hand out of date."""
        if self.next_query is None:
            return False
        query, self.next_query = self.next_query, None
        self.load(query)
        return True

    def show_rows(self, query: Any, rows: Sequence[Any], offset: int, total: int) -> None:
        """Put a loaded page in the table, the cursor on ``query.select_id`` if the page holds it."""
        cursor = min(query.index, max(total - 1, 0))
        if query.select_id is not None:
            for position, record in enumerate(rows):
                if record.id == query.select_id:
                    cursor = offset + position
        self.table.show_page(rows, offset, total, cursor)
        self.loaded_once = True
        self.show_cursor()
        self.update_keys()

    # -- search --------------------------------------------------------------

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        if event.value != self.query_state.text:
            self.load_first_page(text=event.value)
        self.update_keys()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus and event.key in ("down", "escape"):
            event.stop()
            event.prevent_default()
            if event.key == "escape" and not self.hidden("clear_search", ()):
                # The status line promises that escape clears the search; the
                # cursor stays in the box for the next one.
                self.action_clear_search()
                search.focus()
            else:
                # Down, or escape with nothing to clear, goes to the results.
                self.table.focus()
        # Textual calls KeyHelp.on_key after this one (handlers run for the whole MRO).

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_clear_search(self) -> None:
        self.query_one("#search", Input).value = ""
        self.table.focus()

    # -- table ---------------------------------------------------------------

    @on(PagedTable.Wanted)
    def wanted(self, event: PagedTable.Wanted) -> None:
        self.load(replace(self.query_state, index=event.index, select_id=None, quiet=False))

    @on(DataTable.RowHighlighted)
    def highlighted(self) -> None:
        if self.loaded_once:
            self.show_cursor()
        self.update_keys()

    @on(DataTable.RowSelected)
    def selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        raise NotImplementedError
