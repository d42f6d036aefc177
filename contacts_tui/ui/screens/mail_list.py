"""What the relay log and captured messages screens share: search as you
type, a paged table newest first, a summary of the highlighted row, and a
refresh every few seconds that never moves the cursor."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from contacts_tui.core.errors import DatabaseUnavailable

from ..widgets.paged_table import PagedTable
from .base import AppScreen

PAGE = 100
"""Rows the table holds at a time; the cursor's row sits in the middle."""

REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class Query:
    text: str
    status: str
    index: int
    select_id: int | None = None
    quiet: bool = False
    """An automatic refresh: an outage shows in the status line, not as a notification every time."""

    def offset(self, total: int) -> int:
        return max(0, min(self.index - PAGE // 2, total - PAGE))


@dataclass(frozen=True)
class Loaded:
    query: Query
    rows: Sequence[Any] = ()
    offset: int = 0
    total: int = 0
    everyone: int = 0
    error: str = ""


class MailListScreen(AppScreen):
    """Subclasses name the table, the noun, and how to fetch a page and a count."""

    TABLE: ClassVar[type[PagedTable]]
    NOUNS: ClassVar[tuple[str, str]] = ("row", "rows")
    PLACEHOLDER: ClassVar[str] = ""
    STATUSES: ClassVar[tuple[str, ...]] = ()
    """Values of the status filter; "" shows every status."""
    AUTO_FOCUS = "#rows"

    def __init__(self, search: str = "") -> None:
        super().__init__()
        self.query_state = Query(search, "", 0)
        self.in_flight: Query | None = None
        self.next_query: Query | None = None
        self.everyone = 0
        self.loaded_once = False
        self.outage = ""
        self.timer: Timer | None = None

    # -- what subclasses say -------------------------------------------------

    def fetch(self, text: str, status: str, offset: int, limit: int) -> tuple[Sequence[Any], int]:
        """A page of rows and how many match (runs in a thread)."""
        raise NotImplementedError

    def count_everyone(self) -> int:
        """Every row, whatever the search (runs in a thread)."""
        raise NotImplementedError

    def empty_text(self) -> str:
        raise NotImplementedError

    def summary(self, record: Any) -> list[str]:
        """Two lines on the highlighted row, under the table."""
        raise NotImplementedError

    def open_record(self, record: Any) -> None:
        raise NotImplementedError

    # -- building ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="search-bar"):
            yield Label("Search", id="search-label")
            yield Input(self.query_state.text, placeholder=self.PLACEHOLDER, id="search", compact=True)
            if self.STATUSES:
                yield Label("Status", id="filter-label")
                options = [(status or "all", status) for status in self.STATUSES]
                yield Select(options, value="", allow_blank=False, compact=True, id="filter")
        yield Static("Loading…", id="status", markup=False)
        yield self.TABLE(id="rows")
        with Vertical(id="row-details"):
            yield Static("", id="row-line0", markup=False)
            yield Static("", id="row-line1", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    @property
    def table(self) -> PagedTable:
        return self.query_one(PagedTable)

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            self.query_one("#search", Input).cursor_blink = False
        seconds = getattr(self.app, "options", {}).get("refresh_seconds", REFRESH_SECONDS)
        if seconds:
            self.timer = self.set_interval(seconds, self.auto_refresh)
        self.load(self.query_state)

    def on_screen_suspend(self) -> None:
        if self.timer is not None:
            self.timer.pause()

    def on_screen_resume(self) -> None:
        if self.timer is not None:
            self.timer.resume()
        if self.loaded_once:
            self.refresh_rows()

    # -- loading -------------------------------------------------------------

    def refresh_rows(self, quiet: bool = False) -> None:
        """Load again around the highlighted row, keeping the cursor on it."""
        current = self.table.current()
        self.load(replace(self.query_state, index=self.table.index, select_id=current.id if current else None,
                          quiet=quiet))

    def auto_refresh(self) -> None:
        # A load on its way answers soon anyway; a user's query must not wait behind ours.
        if self.in_flight is None and self.loaded_once and self.is_current:
            self.refresh_rows(quiet=True)

    def load(self, query: Query) -> None:
        """Show the page around ``query.index``; the newest request wins."""
        self.query_state = query
        if self.in_flight is not None:
            self.next_query = query
            return
        self.in_flight = query
        known_total = self.table.total if self.loaded_once else PAGE
        filtering = bool(query.text.strip() or query.status)

        def fetch() -> Loaded:
            try:
                rows, total = self.fetch(query.text, query.status, query.offset(known_total), PAGE)
                everyone = self.count_everyone() if filtering else total
            except DatabaseUnavailable as exc:
                if not query.quiet:
                    raise
                return Loaded(query, error=str(exc))
            return Loaded(query, rows, query.offset(known_total), total, everyone)

        self.call_directory("rows", fetch, self._loaded, self._load_failed)

    def _loaded(self, loaded: Loaded) -> None:
        self.in_flight = None
        if self.next_query is not None:
            query, self.next_query = self.next_query, None
            self.load(query)
            return
        if loaded.error:
            self.outage = loaded.error
            self._show_status()
            return
        self.outage = ""
        query = loaded.query
        if loaded.total and not loaded.rows:
            # Fewer rows than before (a search, a clear, retention): start over at the end.
            self.load(replace(query, index=loaded.total - 1, select_id=None))
            return
        self.everyone = loaded.everyone
        cursor = min(query.index, max(loaded.total - 1, 0))
        if query.select_id is not None:
            for position, record in enumerate(loaded.rows):
                if record.id == query.select_id:
                    cursor = loaded.offset + position
        self.table.show_page(loaded.rows, loaded.offset, loaded.total, cursor)
        self.loaded_once = True
        self._show_status()
        self._show_row()
        self.update_keys()

    def _load_failed(self, _error: Exception) -> None:
        self.in_flight = None
        self.table.waiting_for = None
        self.outage = "the database is unavailable"
        self._show_status()
        if self.next_query is not None:
            query, self.next_query = self.next_query, None
            self.load(query)

    def filtering(self) -> bool:
        return bool(self.query_state.text.strip() or self.query_state.status)

    def _show_status(self) -> None:
        table = self.table
        singular, plural = self.NOUNS
        if self.outage and not self.loaded_once:
            text = f"Could not load the {plural}: {self.outage}. Retrying every few seconds."
        elif self.everyone == 0:
            text = self.empty_text()
        elif self.filtering() and table.total == 0:
            noun = singular if self.everyone == 1 else plural
            text = f"Nothing matches; {self.everyone:,} {noun} in all. Escape shows them all."
        else:
            if self.filtering():
                text = f"{table.total:,} of {self.everyone:,} {plural} match"
            else:
                text = f"{self.everyone:,} {singular if self.everyone == 1 else plural}, newest first"
            if table.current() is not None:
                text += f" · row {table.index + 1:,}"
        if self.outage and self.loaded_once:
            text = f"Not up to date: {self.outage}. " + text
        self.query_one("#status", Static).update(text)

    def _show_row(self) -> None:
        record = self.table.current()
        lines = self.summary(record) if record is not None else ["", ""]
        for number, text in enumerate(lines[:2]):
            self.query_one(f"#row-line{number}", Static).update(text)

    # -- search and filter ---------------------------------------------------

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        if event.value != self.query_state.text:
            self.load(Query(event.value, self.query_state.status, 0))
        self.update_keys()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#filter")
    def filter_changed(self, event: Select.Changed) -> None:
        status = event.value if isinstance(event.value, str) else ""
        if status != self.query_state.status:
            self.load(Query(self.query_state.text, status, 0))
        self.update_keys()

    def on_key(self, event) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus and event.key in ("down", "escape"):
            # From the search box, down or escape goes to the results.
            event.stop()
            event.prevent_default()
            self.table.focus()
        # Textual calls KeyHelp.on_key after this one (handlers run for the whole MRO).

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_next_status(self) -> None:
        statuses = self.STATUSES
        following = statuses[(statuses.index(self.query_state.status) + 1) % len(statuses)]
        self.query_one("#filter", Select).value = following

    def action_clear_search(self) -> None:
        self.query_one("#search", Input).value = ""
        if self.STATUSES:
            self.query_one("#filter", Select).value = ""
        self.table.focus()

    def action_refresh(self) -> None:
        self.refresh_rows()

    def action_back(self) -> None:
        self.dismiss()

    # -- table ---------------------------------------------------------------

    @on(PagedTable.Wanted)
    def wanted(self, event: PagedTable.Wanted) -> None:
        self.load(replace(self.query_state, index=event.index, select_id=None, quiet=False))

    @on(DataTable.RowHighlighted, "#rows")
    def highlighted(self) -> None:
        if self.loaded_once:
            self._show_status()
            self._show_row()
        self.update_keys()

    @on(DataTable.RowSelected, "#rows")
    def selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        record = self.table.current()
        if record is not None:
            self.open_record(record)

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "clear_search":
            return not self.filtering()
        if action == "back":
            return self.filtering()
        return False

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "open" and self.is_mounted and self.table.current() is None:
            return f"There is no {self.NOUNS[0]} to open here."
        return None
