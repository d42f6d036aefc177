"""One relay log entry in full, kept up to date while delivery goes on."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from contacts_tui.core.errors import DatabaseUnavailable
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.relay_log import LogEntry

from ..mailformat import log_fields
from ..widgets.vi_keys import Scroll
from .base import AppScreen
from .mail_list import REFRESH_SECONDS


class LogEntryScreen(AppScreen):
    """One relay log entry, every field of it."""

    HELP = (
        "Everything the relay recorded about one message: the envelope, the category and "
        "what it resolved to, the customers it matched, who was added as Cc and why, the "
        "decision, and the delivery so far. It updates itself while delivery goes on."
    )
    EXTRA_KEYS = (("↑ ↓ pgup pgdn", "Scroll"),)
    AUTO_FOCUS = "#entry"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "refresh", tooltip="Load this entry again now", id="entry.refresh"),
        Binding("escape", "back", "back", tooltip="Back to the relay log", id="entry.back"),
    ]

    def __init__(self, entry: LogEntry) -> None:
        super().__init__()
        self.entry = entry
        self.copies: list[LogEntry] = []  # every copy of a message that went out as one per customer
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Scroll(id="entry", classes="detail"):
            yield Static(self._fields(), id="entry-fields", markup=False)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"Relay log entry {self.entry.queue_id or self.entry.id}"
        seconds = self.app.options.get("refresh_seconds", REFRESH_SECONDS)
        if seconds:
            self.timer = self.set_interval(seconds, lambda: self.action_refresh(quiet=True))
        if self.entry.copy_label:
            self.action_refresh(quiet=True)  # the other copies, to list them

    def _fields(self) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, style="bold", min_width=10)
        table.add_column(ratio=1, overflow="fold")
        for label, value in log_fields(self.entry, self.copies):
            table.add_row(Text(label), Text(value))
        return table

    def action_refresh(self, quiet: bool = False) -> None:
        entry_id = self.entry.id

        def fetch() -> tuple[LogEntry, list[LogEntry]] | None:
            try:
                entry = relay_log.log_entry(entry_id)
                return (entry, relay_log.log_copies(entry)) if entry is not None else None
            except DatabaseUnavailable:
                if quiet:
                    return None
                raise

        self.call_directory("entry", fetch, self._loaded)

    def _loaded(self, found: tuple[LogEntry, list[LogEntry]] | None) -> None:
        if found is not None and found != (self.entry, self.copies):
            self.entry, self.copies = found
            self.query_one("#entry-fields", Static).update(self._fields())

    def action_back(self) -> None:
        self.dismiss()
