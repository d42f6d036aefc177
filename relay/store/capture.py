"""Capture mode: rewritten messages are stored for testers instead of sent.

A captured message and its relay-log row are committed together before the
relay answers 250 (a message that went out as one copy per customer: every
copy, in one transaction); retention keeps the newest N messages. If the database
does not take a message within ``timeout`` seconds, the store gives up (the
relay answers 451, the sender retries) and the message is not written later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contacts_tui.core.mail.query import search_text
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.models import CapturedMessage, RelayLog

from .writer import LogWriter

DEFAULT_RETENTION = 1000
# Longer than SQLite's busy timeout (10 s), so a briefly locked file is waited out.
DEFAULT_TIMEOUT = 15.0


class CaptureUnavailable(Exception):
    """The database did not take a captured message in time."""


class CaptureStore:
    def __init__(
        self, log_writer: LogWriter, retention: int = DEFAULT_RETENTION, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        if retention < 1:
            raise ValueError("capture retention must be at least 1 message")
        self.log_writer = log_writer
        self.retention = retention
        self.timeout = timeout

    async def store(self, copies: Sequence[tuple[LogEntry, bytes]], original: bytes) -> list[int]:
        """Commit the copies of a message with their log entries, in one transaction; their captured ids.

        ``copies`` pairs each copy's log entry with its rewritten bytes.
        """
        # Here, not at the top: every contacts-relay command reads this module
        # (for the retention default), and only a capture relay parses mail.
        from contacts_tui.core.mail.summary import summary_columns

        rows = []
        for entry, rewritten in copies:
            entry.relay = entry.relay or self.log_writer.relay_name
            searchable = search_text(
                entry.sender, entry.subject, entry.category, entry.message_id, entry.recipients, entry.added
            )
            rows.append((entry, entry.row(), searchable, rewritten))
        retention = self.retention
        abandoned = False

        def job() -> list[int] | None:
            if abandoned:
                return None  # the client was told 451 and will send it again
            ids = []
            for entry, row, searchable, rewritten in rows:
                # Parsed here, in the writer's thread: the web inbox lists and searches without parsing.
                summary = summary_columns(rewritten)
                log_id = RelayLog.insert(**row).execute()
                ids.append(
                    CapturedMessage.insert(
                        log=log_id,
                        received_at=entry.received_at,
                        sender=entry.sender,
                        recipients=row["recipients"],
                        subject=entry.subject,
                        message_id=entry.message_id,
                        category=entry.category,
                        category_key=entry.category_key,
                        tagged_by=entry.tagged_by,
                        added=row["added"],
                        search_text=searchable,
                        original=original,
                        message=rewritten,
                        size=len(rewritten),
                        copy_of=entry.copy_of,
                        copy_number=entry.copy_number,
                        copy_count=entry.copy_count,
                        **summary,
                    ).execute()
                )
            _prune(retention)
            return ids

        try:
            return await asyncio.wait_for(self.log_writer.write(job), self.timeout)
        except TimeoutError:
            # Without this the client would wait as long as the database is
            # away, and the message would be captured after it had given up.
            abandoned = True
            raise CaptureUnavailable(f"the database did not take the message within {self.timeout:g} s") from None


def _prune(retention: int) -> None:
    # Ids only grow, so "older than the Nth newest" is one indexed range delete.
    cutoff = (
        CapturedMessage.select(CapturedMessage.id)
        .order_by(CapturedMessage.id.desc())
        .offset(retention)
        .limit(1)
        .scalar()
    )
    if cutoff is not None:
        CapturedMessage.delete().where(CapturedMessage.id <= cutoff).execute()
