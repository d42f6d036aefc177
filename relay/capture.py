"""Capture mode: rewritten messages are stored for testers instead of sent.

A captured message and its relay-log row are committed together before the
relay answers 250; retention keeps the newest N messages.
"""

from __future__ import annotations

import json

from contacts_tui.core.models import CapturedMessage, RelayLog

from .journal import Journal, LogEntry

DEFAULT_RETENTION = 1000


class CaptureStore:
    def __init__(self, journal: Journal, retention: int = DEFAULT_RETENTION) -> None:
        if retention < 1:
            raise ValueError("capture retention must be at least 1 message")
        self.journal = journal
        self.retention = retention

    async def store(self, entry: LogEntry, original: bytes, rewritten: bytes) -> int:
        """Commit the message with its log entry; returns the captured message's id."""
        entry.relay = entry.relay or self.journal.relay_name
        row = entry.row()
        searchable = " ".join(
            [entry.sender, entry.subject, entry.category, entry.message_id, *entry.recipients]
            + [a.get("email", "") + " " + a.get("name", "") for a in entry.added]
        ).casefold()
        retention = self.retention

        def job() -> int:
            log_id = RelayLog.insert(**row).execute()
            captured_id = CapturedMessage.insert(
                log=log_id,
                received_at=entry.received_at,
                sender=entry.sender,
                recipients=row["recipients"],
                subject=entry.subject,
                message_id=entry.message_id,
                category=entry.category,
                added=json.dumps(entry.added, ensure_ascii=False),
                search_text=searchable,
                original=original,
                message=rewritten,
                size=len(rewritten),
            ).execute()
            _prune(retention, captured_id)
            return captured_id

        return await self.journal.write(job)


def _prune(retention: int, newest_id: int) -> None:
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
