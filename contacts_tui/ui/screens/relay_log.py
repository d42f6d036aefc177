"""The relay log: what the relay did with every message, and why."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from contacts_tui.core import maillog
from contacts_tui.core.errors import DatabaseUnavailable
from contacts_tui.core.maillog import LogEntry

from ..mailformat import log_fields, log_summary
from ..widgets.mail_tables import LogTable
from .base import AppScreen
from .mail_list import REFRESH_SECONDS, MailListScreen
from .navigate import open_list
from .sample import dismiss_sent_answers

STATUSES = ("", "queued", "deferred", "delivered", "failed", "expired", "captured", "refused", "deleted")


class LogScreen(MailListScreen):
    """Every message the relay received, newest first."""

    TABLE = LogTable
    NOUNS = ("entry", "entries")
    PLACEHOLDER = "address, subject, category, message-id  (press /)"
    STATUSES = STATUSES
    HELP = (
        "One entry per message the relay received: who sent it to whom, its category, "
        "which contact persons the relay added as Cc and why, and what became of the "
        "delivery. Type after / to search (every word must appear in an address, the "
        "subject, the category, the message-id or the queue id); f picks a status. "
        "The list updates itself every few seconds."
    )
    EXTRA_KEYS = (
        ("enter", "Open the highlighted entry in full (in the search box: go to the list)"),
        ("↑ ↓", "Move through the entries"),
        ("pgup pgdn", "A screen up or down"),
        ("home end", "Newest or oldest entry"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "search", tooltip="Search the relay log", id="log.search"),
        Binding("f", "next_status", "status", tooltip="Show only the next status (all, queued, delivered, …)",
                id="log.status"),
        Binding("r", "refresh", "refresh", tooltip="Load the newest entries now", id="log.refresh"),
        Binding("m", "messages", "messages", tooltip="Captured messages", id="log.messages"),
        Binding("escape", "clear_search", "clear search", tooltip="Clear the search and the status filter",
                id="log.clear"),
        Binding("escape", "back", "back", tooltip="Back", id="log.back"),
    ]

    def on_mount(self) -> None:
        self.sub_title = "Relay log"
        dismiss_sent_answers(self.app)
        super().on_mount()

    def fetch(self, text: str, status: str, offset: int, limit: int) -> tuple[Sequence[Any], int]:
        rows = maillog.recent_log(limit, search=text, status=status, offset=offset)
        return rows, maillog.count_log(search=text, status=status)

    def count_everyone(self) -> int:
        return maillog.count_log()

    def empty_text(self) -> str:
        if self.app.options.get("relay_address"):
            return "The relay log is empty. Open a customer and press s to send a sample."
        return "The relay log is empty. Messages the relay receives show up here."

    def summary(self, record: LogEntry) -> list[str]:
        return log_summary(record)

    def open_record(self, record: LogEntry) -> None:
        self.app.push_screen(LogEntryScreen(record))

    def action_messages(self) -> None:
        open_list(self, "messages")


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
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="entry", classes="detail"):
            yield Static(self._fields(), id="entry-fields")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"Relay log entry {self.entry.queue_id or self.entry.id}"
        seconds = self.app.options.get("refresh_seconds", REFRESH_SECONDS)
        if seconds:
            self.timer = self.set_interval(seconds, lambda: self.action_refresh(quiet=True))

    def _fields(self) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, style="bold", min_width=10)
        table.add_column(ratio=1, overflow="fold")
        for label, value in log_fields(self.entry):
            table.add_row(Text(label), Text(value))
        return table

    def action_refresh(self, quiet: bool = False) -> None:
        entry_id = self.entry.id

        def fetch() -> LogEntry | None:
            try:
                return maillog.log_entry(entry_id)
            except DatabaseUnavailable:
                if quiet:
                    return None
                raise

        self.call_directory("entry", fetch, self._loaded)

    def _loaded(self, entry: LogEntry | None) -> None:
        if entry is not None and entry != self.entry:
            self.entry = entry
            self.query_one("#entry-fields", Static).update(self._fields())

    def action_back(self) -> None:
        self.dismiss()
