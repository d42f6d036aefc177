"""Reading the relay log and the captured messages.

The relay writes these tables; the TUI and the ``contacts-relay log`` and
``messages`` commands read them through here, so neither imports the other.
The ``messages`` command also clears them and logs the messages it releases.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from peewee import fn

from ..db import database_call
from ..models import CapturedMessage, RelayLog, utcnow
from . import added
from .added import ContactPersonAdded
from .query import condition
from .status import Decision, Status
from .verdict import Verdict

_uses_database = database_call(lambda *args: RelayLog._meta.database)


COPIES_WHY = "one per customer: each sees only its own contact persons"
"""Why a message went out as several copies, wherever a copy is shown."""


def copy_label(number: int, count: int) -> str:
    """'copy 2 of 3' for a message that went out as one copy per customer; '' for one of a single copy."""
    return f"copy {number} of {count}" if count > 1 else ""


@dataclass(slots=True)
class LogEntry:
    """One row of the relay log: what the relay did with a message.

    The relay fills one in as it decides (``row()`` is what it writes);
    readers get them back from ``recent_log`` and friends, with the columns
    delivery fills in later (``attempts``, ``last_error``, ``delivered_at``).
    """

    queue_id: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    message_id: str = ""
    subject: str = ""
    category: str = ""
    category_key: str = ""
    customers: tuple[str, ...] = ()
    verdict: Verdict = Verdict()
    """What the relay did with the message and why (decision, reason, who was added, the tagging rule)."""
    status: str = Status.QUEUED
    size: int = 0
    received_at: dt.datetime = field(default_factory=utcnow)
    relay: str = ""
    id: int | None = None
    updated_at: dt.datetime | None = None
    attempts: int = 0
    last_error: str = ""
    delivered_at: dt.datetime | None = None
    copy_of: str = ""
    """The queue id of the message's first copy, shared by all its copies; "" if it went out as one."""
    copy_number: int = 1
    copy_count: int = 1
    kept_headers: str = ""
    """For a message without a category header, what a tagging rule can match (tagging/kept.py); the
    relay writes it, readers do not get it back (``rules try`` reads it itself)."""

    @property
    def copy_label(self) -> str:
        return copy_label(self.copy_number, self.copy_count)

    @property
    def decision(self) -> str:
        return self.verdict.decision

    @property
    def reason(self) -> str:
        return self.verdict.reason

    @property
    def added(self) -> tuple[ContactPersonAdded, ...]:
        return self.verdict.added

    @property
    def tagged_by(self) -> str:
        """The tagging rule that gave the message its category: "rule 3: Subject contains 'Factuur'"."""
        return self.verdict.tagged_by

    def row(self) -> dict[str, Any]:
        """The columns of a new relay log row (values cut to the columns' sizes)."""
        return {
            "received_at": self.received_at,
            "updated_at": self.updated_at or self.received_at,
            "relay": self.relay[:255],
            "queue_id": self.queue_id,
            "message_id": self.message_id[:998],
            "sender": self.sender[:254],
            "recipients": json.dumps(list(self.recipients), ensure_ascii=False),
            "subject": self.subject,
            "category": self.category[:255],
            "category_key": self.category_key,
            "customers": json.dumps(list(self.customers), ensure_ascii=False),
            "added": added.to_json(self.verdict.added),
            "decision": str(self.verdict.decision),
            "reason": self.verdict.reason,
            "status": str(self.status),
            "size": self.size,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
            "copy_of": self.copy_of,
            "copy_number": self.copy_number,
            "copy_count": self.copy_count,
            "tagged_by": self.verdict.tagged_by,
            "kept_headers": self.kept_headers,
        }

    def as_json(self) -> dict:
        data: dict[str, Any] = {}
        for name in self.__slots__:
            if name == "verdict":  # its fields in its place, as the columns were before it
                data["added"] = [person.as_json() for person in self.verdict.added]
                data["decision"], data["reason"] = str(self.verdict.decision), self.verdict.reason
            elif name != "kept_headers":
                data[name] = getattr(self, name)
        data["tagged_by"] = self.verdict.tagged_by
        for name in ("received_at", "updated_at", "delivered_at"):
            data[name] = data[name].isoformat() + "Z" if data[name] else None
        data["recipients"], data["customers"] = list(self.recipients), list(self.customers)
        data["status"] = str(self.status)
        return data


@dataclass(frozen=True, slots=True)
class CapturedRecord:
    id: int
    log_id: int | None
    received_at: dt.datetime
    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    category: str
    category_key: str
    added: tuple[ContactPersonAdded, ...]
    size: int
    copy_of: str = ""
    copy_number: int = 1
    copy_count: int = 1
    tagged_by: str = ""

    @property
    def copy_label(self) -> str:
        return copy_label(self.copy_number, self.copy_count)

    @property
    def envelope(self) -> list[str]:
        """The recipients the relay sent it to: the client's, then those it
        added, as they went out (an xn-- domain for a sender without SMTPUTF8)."""
        return list(dict.fromkeys([*self.recipients, *(person.sent for person in self.added)]))

    def as_json(self) -> dict:
        data = {name: getattr(self, name) for name in self.__slots__}
        data["received_at"] = self.received_at.isoformat() + "Z"
        data["recipients"] = list(self.recipients)
        data["added"] = [person.as_json() for person in self.added]
        return data


def _json_list(text: str) -> tuple:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(value) if isinstance(value, list) else ()


def _log_entry(row: RelayLog) -> LogEntry:
    return LogEntry(
        queue_id=row.queue_id,
        sender=row.sender,
        recipients=_json_list(row.recipients),
        message_id=row.message_id,
        subject=row.subject,
        category=row.category,
        category_key=row.category_key,
        customers=_json_list(row.customers),
        verdict=Verdict(row.decision, row.reason, added.from_json(row.added), tagged_by=row.tagged_by),
        status=row.status,
        size=row.size,
        received_at=row.received_at,
        relay=row.relay,
        id=row.id,
        updated_at=row.updated_at,
        attempts=row.attempts,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        copy_of=row.copy_of,
        copy_number=row.copy_number,
        copy_count=row.copy_count,
    )


def captured_record(row: CapturedMessage) -> CapturedRecord:
    """A captured message's row as a record (the readers' one conversion)."""
    return CapturedRecord(
        row.id,
        row.log_id,
        row.received_at,
        row.sender,
        _json_list(row.recipients),
        row.subject,
        row.message_id,
        row.category,
        row.category_key,
        added.from_json(row.added),
        row.size,
        row.copy_of,
        row.copy_number,
        row.copy_count,
        row.tagged_by,
    )


# Every column but the headers kept for tagging rules: what lists and entries read.
LOG_FIELDS = [f for f in RelayLog._meta.sorted_fields if f.name != "kept_headers"]


@_uses_database
def recent_log(limit: int = 50, *, search: str = "", status: str = "", offset: int = 0) -> list[LogEntry]:
    """Newest first by the time the relay received the message (an entry written
    late, after the database was back, takes its place in time); every word of
    ``search`` matches message-id, sender, recipients, subject, category,
    customers, added contact persons or the queue id."""
    query = _log_query(RelayLog.select(*LOG_FIELDS), search, status)
    rows = query.order_by(RelayLog.received_at.desc(), RelayLog.id.desc()).offset(max(0, offset)).limit(max(1, limit))
    return [_log_entry(r) for r in rows]


@_uses_database
def count_log(*, search: str = "", status: str = "") -> int:
    """How many entries ``recent_log`` would find with no limit."""
    return _log_query(RelayLog.select(fn.COUNT(RelayLog.id)), search, status).scalar() or 0


def _log_query(query, search: str, status: str):
    if status:
        query = query.where(RelayLog.status == status)
    for word in search.split():
        query = query.where(
            RelayLog.message_id.contains(word)
            | RelayLog.sender.contains(word)
            | RelayLog.recipients.contains(word)
            | RelayLog.subject.contains(word)
            | RelayLog.category.contains(word)
            # "billing" finds invoice.created too, as the category column shows it.
            | RelayLog.category_key.contains(word)
            | RelayLog.customers.contains(word)
            # "Did the bookkeeper get it?" is the question people ask the log.
            | RelayLog.added.contains(word)
            | (RelayLog.queue_id == word.upper())
            # The queue id of a message's first copy finds all its copies.
            | (RelayLog.copy_of == word.upper())
            # "rule 3", "Factuur": which rule tagged it, and with what.
            | RelayLog.tagged_by.contains(word)
        )
    return query


@_uses_database
def log_entry(log_id: int) -> LogEntry | None:
    row = RelayLog.select(*LOG_FIELDS).where(RelayLog.id == log_id).first()
    return _log_entry(row) if row else None


@_uses_database
def log_for_queue_id(queue_id: str) -> LogEntry | None:
    row = RelayLog.select(*LOG_FIELDS).where(RelayLog.queue_id == queue_id).order_by(RelayLog.id.desc()).first()
    return _log_entry(row) if row else None


# Everything of a captured message but the message itself: what lists read.
SUMMARY_FIELDS = [f for f in CapturedMessage._meta.sorted_fields if f.name not in ("original", "message")]


@_uses_database
def log_copies(entry: LogEntry) -> list[LogEntry]:
    """Every copy of the message ``entry`` is one copy of, in order (``[entry]`` if it went out as one)."""
    if not entry.copy_of:
        return [entry]
    # The copies were received together: the time's index finds them.
    rows = (
        RelayLog.select()
        .where((RelayLog.received_at == entry.received_at) & (RelayLog.copy_of == entry.copy_of))
        .order_by(RelayLog.copy_number)
    )
    return [_log_entry(row) for row in rows]


@_uses_database
def captured_copies(record: CapturedRecord) -> list[CapturedRecord]:
    """Every captured copy of the message ``record`` is one copy of, in order (``[record]`` if it went out as one)."""
    if not record.copy_of:
        return [record]
    rows = (
        CapturedMessage.select(*SUMMARY_FIELDS)
        .where((CapturedMessage.received_at == record.received_at) & (CapturedMessage.copy_of == record.copy_of))
        .order_by(CapturedMessage.copy_number)
    )
    return [captured_record(row) for row in rows]


@_uses_database
def captured_messages(limit: int = 50, *, search: str = "", offset: int = 0) -> list[CapturedRecord]:
    """Newest first; every word of ``search`` must match (the inbox's query words, mail/query.py):
    a plain word matches sender, recipients, subject, category (the header's value or the category
    it resolved to) or added."""
    fields = SUMMARY_FIELDS
    query = _captured_query(CapturedMessage.select(*fields), search)
    rows = query.order_by(CapturedMessage.id.desc()).offset(max(0, offset)).limit(max(1, limit))
    return [captured_record(r) for r in rows]


@_uses_database
def count_captured(search: str = "") -> int:
    """How many messages ``captured_messages`` would find with no limit."""
    return _captured_query(CapturedMessage.select(fn.COUNT(CapturedMessage.id)), search).scalar() or 0


def _captured_query(query, search: str):
    found = condition(search)
    return query if found is None else query.where(found)


@_uses_database
def captured_message(message_id: int) -> tuple[CapturedRecord, bytes, bytes] | None:
    """The record, the message as received, and the message as rewritten."""
    row = CapturedMessage.get_or_none(CapturedMessage.id == message_id)
    if row is None:
        return None
    return captured_record(row), bytes(row.original), bytes(row.message)


@_uses_database
def newest_captured_id() -> int | None:
    """The id of the newest captured message, or None when none are stored."""
    return CapturedMessage.select(fn.MAX(CapturedMessage.id)).scalar()


@_uses_database
def delete_captured(message_id: int) -> bool:
    """Delete one captured message (its relay log entry stays); whether it was there."""
    return CapturedMessage.delete().where(CapturedMessage.id == message_id).execute() > 0


@_uses_database
def clear_captured() -> int:
    return CapturedMessage.delete().execute()


@_uses_database
def log_release(
    record: CapturedRecord,
    target: str,
    recipients: list[str],
    *,
    size: int,
    relay: str = "",
    refused: dict[str, str] | None = None,
    error: str = "",
) -> int:
    """A relay log entry for a captured message sent on to ``target`` (or not: ``error``); returns its id.

    ``refused`` maps the recipients the server refused to its reply.
    """
    refused = refused or {}
    if error or len(refused) >= len(recipients):
        status = Status.FAILED
    else:
        status = Status.PARTIALLY_FAILED if refused else Status.DELIVERED
    source = RelayLog.get_or_none(RelayLog.id == record.log_id) if record.log_id else None
    now = utcnow()
    return RelayLog.insert(
        received_at=now,
        updated_at=now,
        relay=relay,
        message_id=record.message_id,
        sender=record.sender,
        recipients=json.dumps(recipients, ensure_ascii=False),
        subject=record.subject,
        category=record.category,
        category_key=record.category_key,
        tagged_by=record.tagged_by,
        customers=source.customers if source else "[]",
        added=added.to_json(record.added),
        decision=Decision.RELEASED,
        reason=f"captured message {record.id} released to {target} by contacts-relay messages release",
        status=status,
        attempts=1,
        last_error=error or "; ".join(f"{address}: {reply}" for address, reply in refused.items()),
        size=size,
        delivered_at=None if status == Status.FAILED else now,
    ).execute()
