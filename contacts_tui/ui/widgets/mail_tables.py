"""The relay log and the captured messages as paged tables."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType

from contacts_tui.core.mail.relay_log import CapturedRecord, LogEntry
from contacts_tui.core.mail.status import Status
from contacts_tui.core.times import short_time

from ..format import cell
from ..mailformat import added_count, log_category
from .paged_table import PagedTable

# Statuses that need someone's attention stand out without colour.
TROUBLE = frozenset(status for status in Status if status.trouble)
ADDRESS_NEED = 36
"""The most an address column asks for before the subject gets the rest."""


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
    # At 80 columns From and To each got 11 cells ("billing@de…"); the line
    # under the table shows the sender, so To (the customer) gets them all.
    NARROW_HIDDEN = frozenset({"sender"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted entry in full", id="log.open"),
    ]

    def cells(self, entry: LogEntry) -> list[Text]:
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
    # As in the relay log: the line under the table names the sender and who was added.
    NARROW_HIDDEN = frozenset({"sender", "added"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "open", tooltip="Open the highlighted message", id="messages.open"),
    ]

    def _widths(self) -> dict[str, int]:
        # Subject is what a tester looks for; at 80 columns equal shares cut it to
        # "Your invoice I…". Subject gets the width it needs (From and To keep a
        # readable minimum), and Time only what this page's times take.
        widths = dict(super()._widths())
        times = [len(short_time(record.received_at)) for record in self.records]
        widths["time"] = max(times, default=widths["time"])
        addresses = [key for key in ("sender", "to") if key in widths]
        shared = sum(widths[key] for key in (*addresses, "subject")) + sum(
            width - widths[key] for key, _, width in self.COLUMNS if width and key in widths
        )
        texts = {
            "sender": [r.sender or "<>" for r in self.records],
            "to": [", ".join(r.recipients) for r in self.records],
        }
        needs = {key: min(ADDRESS_NEED, max((cell_len(t) for t in texts[key]), default=4)) for key in addresses}
        subject_need = max((cell_len(r.subject or "(no subject)") for r in self.records), default=0)
        # The subject gets what it needs, or at least half when the addresses would take it all;
        # the addresses share the rest by what they need, so a recipient is read whole.
        subject = max(shared - sum(needs.values()), min(subject_need, shared // 2), shared // 3)
        left, total_need = shared - subject, max(sum(needs.values()), 1)
        for number, key in enumerate(addresses):
            last = number == len(addresses) - 1
            widths[key] = left - sum(widths[k] for k in addresses[:number]) if last else left * needs[key] // total_need
        widths["subject"] = subject
        return widths

    def cells(self, record: CapturedRecord) -> list[Text]:
        # The category, as the log shows it, rather than a long email type key.
        category = self.directory.catalog.resolve(record.category) or record.category or "-"
        return [
            cell(short_time(record.received_at)),
            cell(record.sender or "<>"),
            cell(", ".join(record.recipients)),
            cell(record.subject or "(no subject)"),
            cell(category),
            cell(added_count(record.added)),
        ]
