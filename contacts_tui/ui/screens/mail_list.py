"""What the relay log and captured messages screens share: search as you
type over a paged table newest first (see paged_list), a summary of the
highlighted row, and a refresh every few seconds that never moves the cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Label, Select, Static

from contacts_tui.core.errors import DatabaseUnavailable

from ..format import counted, matches_line
from ..widgets.paged_table import PagedTable
from .paged_list import PAGE, PagedListScreen, PageQuery

REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class Query(PageQuery):
    status: str = ""


@dataclass(frozen=True)
class Loaded:
    query: Query
    rows: Sequence[Any] = ()
    offset: int = 0
    total: int = 0
    everyone: int = 0
    error: str = ""


class MailListScreen(PagedListScreen):
    """Subclasses name the table, the noun, and how to fetch a page and a count."""

    TABLE: ClassVar[type[PagedTable]]
    NOUNS: ClassVar[tuple[str, str]] = ("row", "rows")
    PLACEHOLDER: ClassVar[str] = ""
    STATUSES: ClassVar[tuple[str, ...]] = ()
    """Values of the status filter; "" shows every status."""
    AUTO_FOCUS = "#rows"
    query_state: Query

    def __init__(self, search: str = "") -> None:
        super().__init__(Query(search))
        self.opened_with = search
        """The search another screen opened this one with (m on a customer): escape goes
        straight back from it, where a search typed here is cleared first."""
        self.everyone = 0
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
            yield Label("Search", id="search-label", markup=False)
            yield Input(self.query_state.text, placeholder=self.PLACEHOLDER, id="search", compact=True)
            if self.STATUSES:
                yield Label("Status", id="filter-label", markup=False)
                options = [(status or "all", status) for status in self.STATUSES]
                yield Select(options, value="", allow_blank=False, compact=True, id="filter")
        yield Static("Loading…", id="status", markup=False)
        yield self.TABLE(id="rows")
        with Vertical(id="row-details"):
            yield Static("", id="row-line0", markup=False)
            yield Static("", id="row-line1", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if not self.app.cursor_blink:
            self.query_one("#search", Input).cursor_blink = False
        seconds = self.app.options.get("refresh_seconds", REFRESH_SECONDS)
        if seconds:
            self.timer = self.set_interval(seconds, self.refresh_on_timer)
        self.load(self.query_state)

    def on_screen_suspend(self) -> None:
        if self.timer is not None:
            self.timer.pause()

    def on_screen_resume(self) -> None:
        if self.timer is not None:
            self.timer.resume()
        if self.loaded_once:
            self.reload()

    # -- loading -------------------------------------------------------------

    def refresh_on_timer(self) -> None:
        # A load on its way answers soon anyway; a user's query must not wait behind ours.
        if self.in_flight is None and self.loaded_once and self.is_current:
            self.reload(quiet=True)

    def loader(self, query: Query, offset: int) -> Callable[[], Loaded]:
        filtering = bool(query.text.strip() or query.status)

        def fetch() -> Loaded:
            try:
                rows, total = self.fetch(query.text, query.status, offset, PAGE)
                everyone = self.count_everyone() if filtering else total
            except DatabaseUnavailable as exc:
                if not query.quiet:
                    raise
                return Loaded(query, error=str(exc))
            return Loaded(query, rows, offset, total, everyone)

        return fetch

    def show_loaded(self, loaded: Loaded) -> None:
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
        self.show_rows(query, loaded.rows, loaded.offset, loaded.total)

    def show_failure(self) -> None:
        self.outage = "the database is unavailable"
        self._show_status()

    def show_cursor(self) -> None:
        self._show_status()
        self._show_row()

    def filtering(self) -> bool:
        return bool(self.query_state.text.strip() or self.query_state.status)

    def as_opened(self) -> bool:
        """Showing what the screen was opened with, a search of its opener's."""
        return bool(self.opened_with) and self.query_state.text == self.opened_with and not self.query_state.status

    def _show_status(self) -> None:
        table = self.table
        if self.outage and not self.loaded_once:
            text = f"Could not load the {self.NOUNS[1]}: {self.outage}. Retrying every few seconds."
        elif self.everyone == 0:
            text = self.empty_text()
        elif self.filtering() and table.total == 0:
            text = f"Nothing matches; {counted(self.everyone, self.NOUNS)} in all. Escape shows them all."
        else:
            if self.filtering():
                text = matches_line(table.total, self.everyone, self.NOUNS)
            else:
                text = f"{counted(self.everyone, self.NOUNS)}, newest first"
            if table.current() is not None:
                text += f" · row {table.index + 1:,}"
        if self.outage and self.loaded_once:
            text = f"Not up to date: {self.outage}. " + text
        # One line, always (app.tcss): new text needs no new layout, which
        # would cost every keystroke and cursor move a reflow of the screen.
        self.query_one("#status", Static).update(text, layout=False)

    def _show_row(self) -> None:
        record = self.table.current()
        lines = self.summary(record) if record is not None else ["", ""]
        for number, text in enumerate(lines[:2]):
            self.query_one(f"#row-line{number}", Static).update(text)

    # -- the status filter ---------------------------------------------------

    @on(Select.Changed, "#filter")
    def filter_changed(self, event: Select.Changed) -> None:
        status = event.value if isinstance(event.value, str) else ""
        if status != self.query_state.status:
            self.load_first_page(status=status)
        self.update_keys()

    def action_next_status(self) -> None:
        statuses = self.STATUSES
        following = statuses[(statuses.index(self.query_state.status) + 1) % len(statuses)]
        self.query_one("#filter", Select).value = following

    def action_clear_search(self) -> None:
        super().action_clear_search()
        if self.STATUSES:
            self.query_one("#filter", Select).value = ""

    def action_refresh(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.dismiss()

    def action_open(self) -> None:
        record = self.table.current()
        if record is not None:
            self.open_record(record)

    # -- what applies now ----------------------------------------------------

    def hidden(self, action: str, parameters: tuple[object, ...]) -> bool:
        if action == "clear_search":
            return not self.filtering() or self.as_opened()
        if action == "back":
            return self.filtering() and not self.as_opened()
        return False

    def unavailable(self, action: str, parameters: tuple[object, ...]) -> str | None:
        if action == "open" and self.is_mounted and self.table.current() is None:
            return f"There is no {self.NOUNS[0]} to open here."
        return None
