"""The captured messages as an inbox: pages, searches, read flags and deletes.

What the web inbox and its Mailpit-compatible API ask of the database, in
the query words of ``query.py``. Newest first; ids only grow, so the id
order is the order of capture. Deleting here deletes captured messages
only: their relay log entries stay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import Case, fn

from ..db import database_call
from ..models import CapturedMessage
from .query import condition
from .relay_log import SUMMARY_FIELDS, CapturedRecord, captured_record
from .summary import Summary, summarize

_uses_database = database_call(lambda *args: CapturedMessage._meta.database)


@dataclass(frozen=True, slots=True)
class InboxMessage:
    record: CapturedRecord
    read: bool
    summary: Summary


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[InboxMessage]
    matching: int
    """How many messages the query finds in all (``messages`` is one page of them)."""
    unread: int
    """How many of those are unread."""


@dataclass(frozen=True, slots=True)
class Totals:
    total: int
    unread: int
    categories: dict[str, int]
    """How many messages each category has (Mailpit's tags)."""


_UNREAD = fn.SUM(Case(None, [(CapturedMessage.read == False, 1)], 0))  # noqa: E712 - a peewee expression


def _summary(row: CapturedMessage) -> Summary:
    found = Summary.from_json(row.summary, row.attachments, row.inline_parts)
    if found is not None:
        return found
    # No summary was made when it was captured (a message the parser could
    # not take): try again, and show what little is known if it fails again.
    message = CapturedMessage.select(CapturedMessage.message).where(CapturedMessage.id == row.id).scalar()
    try:
        return summarize(bytes(message or b""))
    except Exception:  # noqa: BLE001 - the list must show the message whatever it holds
        return Summary(None)


def _message(row: CapturedMessage) -> InboxMessage:
    return InboxMessage(captured_record(row), bool(row.read), _summary(row))


def _where(query, search: str, zone: dt.tzinfo | None):
    found = condition(search, zone)
    return query if found is None else query.where(found)


@_uses_database
def page(search: str = "", start: int = 0, limit: int = 50, zone: dt.tzinfo | None = None) -> Page:
    """One page of the messages ``search`` finds, newest first; ``limit`` 0 means all."""
    # The page's ids first, from the columns searched alone (on SQLite an index
    # holds them: m0013), then those rows whole.
    ids = _where(CapturedMessage.select(CapturedMessage.id), search, zone).order_by(CapturedMessage.id.desc())
    ids = ids.offset(max(0, start))
    if limit > 0:
        ids = ids.limit(limit)
    wanted = [row.id for row in ids]
    whole = CapturedMessage.select(*SUMMARY_FIELDS).where(CapturedMessage.id.in_(wanted))
    rows = whole.order_by(CapturedMessage.id.desc()) if wanted else []
    # Both counts in one pass over the table.
    counted = _where(CapturedMessage.select(fn.COUNT(CapturedMessage.id), _UNREAD), search, zone).tuples().first()
    matching, unread = (counted[0] or 0, counted[1] or 0) if counted else (0, 0)
    return Page([_message(row) for row in rows], matching, unread)


@_uses_database
def totals() -> Totals:
    """How many messages are stored, how many are unread, and how many each category has: one pass."""
    rows = (
        CapturedMessage.select(CapturedMessage.category_key, fn.COUNT(CapturedMessage.id), _UNREAD)
        .group_by(CapturedMessage.category_key)
        .tuples()
    )
    total = unread = 0
    categories = {}
    for key, count, not_read in rows:
        total, unread = total + count, unread + (not_read or 0)
        if key:
            categories[key] = count
    return Totals(total, unread, categories)


@_uses_database
def state() -> tuple[int, int]:
    """The newest id (0 when empty) and the number stored: whether anything came or went."""
    row = CapturedMessage.select(fn.MAX(CapturedMessage.id), fn.COUNT(CapturedMessage.id)).tuples().first()
    return (row[0] or 0, row[1] or 0) if row else (0, 0)


@_uses_database
def captured_after(message_id: int, limit: int = 100) -> list[InboxMessage]:
    """Messages captured after ``message_id``, oldest first (for the inbox's live updates)."""
    rows = (
        CapturedMessage.select(*SUMMARY_FIELDS)
        .where(CapturedMessage.id > message_id)
        .order_by(CapturedMessage.id)
        .limit(limit)
    )
    return [_message(row) for row in rows]


@_uses_database
def latest_id(search: str = "", zone: dt.tzinfo | None = None) -> int | None:
    """The newest message ``search`` finds (every message for none)."""
    query = _where(CapturedMessage.select(CapturedMessage.id), search, zone)
    return query.order_by(CapturedMessage.id.desc()).limit(1).scalar()


@_uses_database
def message(message_id: int) -> tuple[InboxMessage, bytes, bytes] | None:
    """A message with its bytes as received and as rewritten."""
    row = CapturedMessage.get_or_none(CapturedMessage.id == message_id)
    if row is None:
        return None
    return _message(row), bytes(row.original), bytes(row.message)


@_uses_database
def set_read(
    read: bool, ids: Iterable[int] | None = None, search: str = "", zone: dt.tzinfo | None = None
) -> list[int]:
    """Mark the messages ``ids`` (or those ``search`` finds, or all) read or unread; the ids that changed."""
    query = CapturedMessage.select(CapturedMessage.id).where(CapturedMessage.read != read)
    if ids is not None:
        query = query.where(CapturedMessage.id.in_(list(ids)))
    else:
        query = _where(query, search, zone)
    changed = [row.id for row in query]
    for chunk in _chunks(changed):
        CapturedMessage.update(read=read).where(CapturedMessage.id.in_(chunk)).execute()
    return changed


@_uses_database
def delete(ids: Iterable[int] | None = None, search: str = "", zone: dt.tzinfo | None = None) -> list[int]:
    """Delete the messages ``ids`` (or those ``search`` finds); the ids deleted."""
    query = CapturedMessage.select(CapturedMessage.id)
    query = query.where(CapturedMessage.id.in_(list(ids))) if ids is not None else _where(query, search, zone)
    gone = [row.id for row in query]
    for chunk in _chunks(gone):
        CapturedMessage.delete().where(CapturedMessage.id.in_(chunk)).execute()
    return gone


def _chunks(ids: list[int], size: int = 500):
    # SQLite allows a limited number of parameters in one statement.
    for index in range(0, len(ids), size):
        yield ids[index : index + size]


@_uses_database
def captured_since(moment: dt.datetime) -> tuple[int, int]:
    """How many of the stored messages came at or after ``moment`` (naive UTC), and their bytes."""
    row = (
        CapturedMessage.select(fn.COUNT(CapturedMessage.id), fn.SUM(CapturedMessage.size))
        .where(CapturedMessage.received_at >= moment)
        .tuples()
        .first()
    )
    return (row[0] or 0, int(row[1] or 0)) if row else (0, 0)
