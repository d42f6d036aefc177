"""How relay log entries and captured messages read on screen.

Times are stored as naive UTC; people read them in their own time zone.
Everything here came from mail (a subject, an address, a header the sender
wrote), so each value reaches the screen through ``visible``: its control
characters are shown, never obeyed by the terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from contacts_tui.core.display import visible
from contacts_tui.core.mail.added import ContactPersonAdded
from contacts_tui.core.mail.relay_log import COPIES_WHY, CapturedRecord, LogEntry
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.times import local


def full_time(moment: dt.datetime | None) -> str:
    """Local date and time, with UTC alongside when they differ."""
    if moment is None:
        return "-"
    when = local(moment)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    if when.utcoffset() == dt.timedelta(0):
        return text + " UTC"
    return f"{text} (UTC {moment:%H:%M:%S})"


def person(added: ContactPersonAdded) -> str:
    return visible(added.label)


def added_line(added: Iterable[ContactPersonAdded]) -> str:
    """Who was added and why, on one line: names only (the detail view has the addresses)."""
    people = []
    for one in added:
        name = one.name or one.email
        people.append(f"{name} ({one.reason})" if one.reason else name)
    return visible(", ".join(people)) if people else "nobody"


def added_count(added: tuple[ContactPersonAdded, ...]) -> str:
    return f"+{len(added)}" if added else "-"


def log_category(entry: LogEntry) -> str:
    """The resolved category, else whatever the header said, else a dash."""
    return entry.category_key or entry.category or "-"


def copy_note(record: LogEntry | CapturedRecord) -> str:
    """' · copy 2 of 3' after the envelope of a message that went out as one copy per customer."""
    return f" · {record.copy_label}" if record.copy_label else ""


def log_summary(entry: LogEntry) -> list[str]:
    """Two lines on the highlighted entry: the envelope, and what was added and why."""
    to = ", ".join(entry.recipients) or "nobody"
    first = f"{entry.sender or '<>'} → {to}{copy_note(entry)}"
    if entry.added:
        second = f"Added as Cc: {added_line(entry.added)}"
    else:
        second = f"{entry.decision or entry.status}: {entry.reason}" if entry.reason else entry.decision or entry.status
    return [visible(first), visible(second)]


def message_summary(record: CapturedRecord) -> list[str]:
    """The envelope (the table may have no room for the sender) and who was added."""
    to = ", ".join(record.recipients) or "nobody"
    first = f"{record.sender or '<>'} → {to}{copy_note(record)}"
    return [visible(first), f"Added as Cc: {added_line(record.added)}"]


def copies_lines(record: LogEntry | CapturedRecord, copies: Iterable[LogEntry | CapturedRecord]) -> str:
    """Which copy ``record`` is of how many, and each other copy: where it went and how many were added."""
    lines = [f"{record.copy_number} of {record.copy_count}, {COPIES_WHY}"]
    for other in copies:
        if other.copy_number == record.copy_number:
            continue
        name = f"queue id {other.queue_id}" if isinstance(other, LogEntry) else f"message {other.id}"
        added = f"+{len(other.added)} cc" if other.added else "nobody added"
        lines.append(visible(f"{other.copy_number}: {name}, to {', '.join(other.recipients)}, {added}"))
    return "\n".join(lines)


def log_fields(entry: LogEntry, copies: Iterable[LogEntry] = ()) -> list[tuple[str, str]]:
    """Every field of a relay log entry, labelled, in the order people ask about them.

    ``copies``: every copy of the message, for one that went out as one copy per customer.
    """
    category = entry.category or "(no category header)"
    if entry.category_key and entry.category_key != entry.category.strip().lower():
        resolved = entry.category_key
    elif entry.category_key:
        resolved = f"{entry.category_key} (the header named the category itself)"
    else:
        resolved = "(none: unknown or missing)" if entry.category else "-"
    added = [f"{person(a)}: {a.reason}" + (f" (contact of {a.customer})" if a.customer else "") for a in entry.added]

    def lines(values) -> str:
        # One value per line where a field holds several (recipients, customers).
        return "\n".join(visible(value) for value in values)

    fields = [
        ("Received", full_time(entry.received_at)),
        ("Message-ID", entry.message_id or "-"),
        ("Queue ID", entry.queue_id or "-"),
        ("Subject", entry.subject or "-"),
        ("Sender", entry.sender or "<> (null sender)"),
        ("Recipients", lines(entry.recipients) or "-"),
        *([("Copy", copies_lines(entry, copies))] if entry.copy_label else []),
        ("Category", category),
        *([("Tagged by", entry.tagged_by)] if entry.tagged_by else []),
        ("Resolved", resolved),
        # Only a known category is looked up (a message refused before is not).
        ("Customers", lines(entry.customers) or ("none matched" if entry.category_key else "not looked up")),
        ("Added", lines(added) or "nobody"),
        ("Decision", entry.decision or "-"),
        ("Reason", entry.reason or "-"),
        ("Status", entry.status or "-"),
        ("Attempts", str(entry.attempts)),
        ("Last error", entry.last_error or "-"),
        ("Delivered", full_time(entry.delivered_at)),
        ("Updated", full_time(entry.updated_at)),
        ("Size", _size(entry)),
        ("Relay", entry.relay or "-"),
    ]
    return [(label, value if label in _LISTS else visible(value)) for label, value in fields]


_LISTS = frozenset({"Recipients", "Customers", "Added", "Copy"})


def _size(entry: LogEntry) -> str:
    if entry.size:
        return f"{entry.size:,} bytes as received"
    # A bounce is written by the relay itself, and a message refused before
    # DATA has no body: "0 bytes as received" would be wrong for both.
    return "- (the relay wrote this notification itself)" if entry.decision == Decision.BOUNCE else "-"
