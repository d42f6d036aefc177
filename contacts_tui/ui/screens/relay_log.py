"""The relay log: what the relay did with every message, and why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Status

from ..mailformat import log_summary
from ..widgets.mail_tables import LogTable
from .mail_list import MailListScreen
from .sample import dismiss_sent_answers


class LogScreen(MailListScreen):
    """Every message the relay received, newest first."""

    TABLE = LogTable
    NOUNS = ("entry", "entries")
    PLACEHOLDER = "address, subject, category, id  (press /)"
    STATUSES = ("", *(status.value for status in Status))  # "": all of them
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
        Binding(
            "f",
            "next_status",
            "status",
            tooltip="Show only the next status (all, queued, delivered, …)",
            id="log.status",
        ),
        Binding("r", "refresh", "refresh", tooltip="Load the newest entries now", id="log.refresh"),
        Binding("m", "messages", "messages", tooltip="Captured messages", id="log.messages"),
        Binding(
            "escape", "clear_search", "clear search", tooltip="Clear the search and the status filter", id="log.clear"
        ),
        Binding("escape", "back", "back", tooltip="Back", id="log.back"),
    ]

    def on_mount(self) -> None:
        self.sub_title = "Relay log"
        dismiss_sent_answers(self.app)
        super().on_mount()

    def fetch(self, text: str, status: str, offset: int, limit: int) -> tuple[Sequence[Any], int]:
        rows = relay_log.recent_log(limit, search=text, status=status, offset=offset)
        return rows, relay_log.count_log(search=text, status=status)

    def count_everyone(self) -> int:
        return relay_log.count_log()

    def empty_text(self) -> str:
        if self.app.options.get("relay_address"):
            return "The relay log is empty. Open a customer and press s to send a sample."
        return "The relay log is empty. Messages the relay receives show up here."

    def summary(self, record: LogEntry) -> list[str]:
        return log_summary(record)

    def open_record(self, record: LogEntry) -> None:
        self.app.open_log_entry(record)

    def action_messages(self) -> None:
        self.app.open_messages()
