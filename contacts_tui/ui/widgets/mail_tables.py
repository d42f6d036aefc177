"""The relay log and the captured messages as paged tables."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from contacts_tui.core.maillog import CapturedRecord, LogRecord

from ..format import cell
from ..mailformat import added_count, log_category, short_time
from .paged_table import PagedTable

# Statuses that need someone's attention stand out without colour.
TROUBLE = {"failed", "refused", "expired", "deferred"}


class LogTable(PagedTable):
    COLUMNS = (
        ("time", "Time", 11),
        ("status", "Status", 9),
        ("decision", "Decision", 10),
        ("category", "Category", 8),
        ("sender", "From", 0),
        ("to", "To", 0),
        ("added", "Added", 5),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted entry in full", id="log.open"),
    ]

    def cells(self, entry: LogRecord) -> list[Text]:
        return [
            cell(short_time(entry.received_at)),
            cell(entry.status or "-", "bold" if entry.status in TROUBLE else ""),
            cell(entry.decision or "-"),
            cell(log_category(entry)),
            cell(entry.sender or "<>"),
            cell(", ".join(entry.recipients)),
            cell(added_count(entry.added)),
        ]


class MessageTable(PagedTable):
    COLUMNS = (
        ("time", "Time", 11),
        ("sender", "From", 0),
        ("to", "To", 0),
        ("subject", "Subject", 0),
        ("category", "Category", 8),
        ("added", "Added", 5),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted message", id="messages.open"),
    ]

    def cells(self, record: CapturedRecord) -> list[Text]:
        # The category, as the log shows it, rather than a long email type key.
        category = self.app.directory.catalog.resolve(record.category) or record.category or "-"
        return [
            cell(short_time(record.received_at)),
            cell(record.sender or "<>"),
            cell(", ".join(record.recipients)),
            cell(record.subject or "(no subject)"),
            cell(category),
            cell(added_count(record.added)),
        ]
