"""The history of every change of the directory: who, when, through which
channel, and what changed, field by field.

``Directory`` records one change per write, in the write's own transaction,
as the ``Actor`` it was made for (``Directory.as_actor``); the CSV import
records one per changed customer and contact person, in batches. The TUI,
``contacts-tui history`` and the customer portal read them back as ``Change``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from peewee import fn

from ..controls import has_control
from ..display import visible
from ..models import ChangeRecord, utcnow
from ..records import ContactRecord, CustomerRecord
from .multirow import insert_rows

CHANNELS = ("tui", "cli", "import", "ssh", "web")
"""How a change came in: the admin TUI, a command, a CSV import, the portal over SSH or in a browser."""

PORTAL_CHANNELS = ("ssh", "web")
"""The ways a customer signs in to the portal."""

ADMIN_CHANNELS = ("tui", "cli")
"""The ways an admin changes the directory by hand (an import is a file's, not a person's)."""

ADMIN_PREFIX = "admin "
"""Admins are recorded as ``admin <user>``; a customer as its primary email, an import as its file name."""

_WHO_MAX = 254

# Actions, one word for each kind of change; the portal and the TUI show them as they are.
CUSTOMER_ADDED = "customer added"
CUSTOMER_EDITED = "customer edited"
CUSTOMER_ACTIVATED = "customer activated"
CUSTOMER_DEACTIVATED = "customer deactivated"
CONTACT_ADDED = "contact added"
CONTACT_EDITED = "contact edited"
CONTACT_DELETED = "contact deleted"
CONTACT_RESTORED = "contact restored"
CATEGORIES_CHANGED = "categories changed"
RECEIVE_ALL_CHANGED = "receive all changed"
MADE_PRIMARY = "made primary"
PORTAL_DISABLED = "portal disabled"
PORTAL_ENABLED = "portal enabled"
PORTAL_UNLOCKED = "portal unlocked"


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and through which channel (one of ``CHANNELS``)."""

    who: str
    channel: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {self.channel!r}")
        if not self.who.strip() or has_control(self.who) or len(self.who) > _WHO_MAX:
            raise ValueError(f"who must be a short line of text, not {self.who!r}")


def admin_actor(channel: str = "tui") -> Actor:
    """The admin at this terminal: the OS user (over SSH, the account signed in
    with), as ``admin <user>`` so the history tells admins from customers."""
    # sudo keeps the real admin's name in SUDO_USER; USER would say root.
    user = os.environ.get("SUDO_USER") or _os_user()
    return Actor(ADMIN_PREFIX + (visible(user)[: _WHO_MAX - len(ADMIN_PREFIX)] or "unknown"), channel)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (containers)
        return f"uid {os.getuid()}"


def import_actor(file_name: str) -> Actor:
    """A CSV import: the file's name (not its folder), or ``standard input``."""
    name = os.path.basename(file_name) if file_name and file_name != "-" else "standard input"
    return Actor(visible(name)[:_WHO_MAX] or "standard input", "import")


@dataclass(frozen=True)
class Change:
    """One recorded change, as the TUI, the CLI and the portal show it."""

    id: int
    at: dt.datetime
    customer_id: int
    customer_email: str
    contact_id: int | None
    contact_email: str
    who: str
    channel: str
    action: str
    changes: tuple[tuple[str, object, object], ...]
    """(field, before, after) for each field that changed; ``None`` where there was no value."""

    def summary(self) -> str:
        """The action and whom it was about, as every list of changes shows it: ``contact edited ann@acme.example``."""
        return self.action + (f" {self.contact_email}" if self.contact_email else "")

    def describe(self) -> str:
        """What changed, on one line: ``name "Ann" -> "Anne"; phone "" -> "+31 6"``."""
        return "; ".join(
            # A field that names what changed (a tagging rule's number) shows once when it did not change.
            f"{name} {shown(before)}" if before == after else f"{name} {shown(before)} -> {shown(after)}"
            for name, before, after in self.changes
        )

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat() + "Z",
            "customer_id": self.customer_id,
            "customer_email": self.customer_email,
            "contact_id": self.contact_id,
            "contact_email": self.contact_email,
            "who": self.who,
            "channel": self.channel,
            "action": self.action,
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in self.changes],
        }


def shown(value: object) -> str:
    """A before or after value as a reader sees it."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return json.dumps(value, ensure_ascii=False)


# -- what a record is, field by field ----------------------------------------

Fields = dict[str, object]


def customer_fields(record: CustomerRecord) -> Fields:
    return {
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "notes": record.notes,
        "language": record.language,
        "active": record.active,
    }


ADMIN_ONLY = frozenset({"notes"})
"""Fields of the customer's own entries the customer never sees (the admin's note about it)."""


def contact_fields(record: ContactRecord) -> Fields:
    return {
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "role": record.role,
        "receive all": record.receive_all,
        "categories": list(record.categories),
        "notes": record.notes,
    }


def differences(before: Fields | None, after: Fields | None) -> list[list]:
    """[field, before, after] for each field that differs. Without a before
    (something new) the fields that hold something; without an after, nothing."""
    if after is None:
        return []
    if before is None:
        return [[name, None, value] for name, value in after.items() if value not in ("", False, [], None)]
    return [[name, before.get(name), value] for name, value in after.items() if before.get(name) != value]


# -- writing ------------------------------------------------------------------

# One encoder for every row: json.dumps with options builds a new one per call.
_json = json.JSONEncoder(ensure_ascii=False).encode
_COLUMNS = ("at", "customer_id", "customer_email", "contact_id", "contact_email", "who", "channel", "action", "changes")


@dataclass(frozen=True, slots=True)
class Entry:
    """A change about to be recorded."""

    customer_id: int
    customer_email: str
    action: str
    changes: Sequence[Sequence]
    contact_id: int | None = None
    contact_email: str = ""


def record(actor: Actor, entries: Iterable[Entry], now: dt.datetime | None = None) -> None:
    """Record changes, inside the caller's transaction."""
    stamp = stamp_of(now or utcnow())
    insert(
        [
            row(stamp, actor, e.customer_id, e.customer_email, e.action, e.changes, e.contact_id, e.contact_email)
            for e in entries
        ]
    )


def stamp_of(now: dt.datetime) -> str:
    # Raw inserts bypass the field converters; this text is what they store.
    return now.isoformat(sep=" ")


def row(
    stamp: str,
    actor: Actor,
    customer_id: int,
    customer_email: str,
    action: str,
    changes: Sequence[Sequence],
    contact_id: int | None = None,
    contact_email: str = "",
) -> tuple:
    """One change as ``insert`` takes it: the CSV import builds thousands of these without an ``Entry`` each."""
    return (
        stamp,
        customer_id,
        customer_email,
        contact_id,
        contact_email,
        actor.who,
        actor.channel,
        action,
        _json(changes),
    )


def insert(rows: Sequence[tuple]) -> None:
    """Write rows made by ``row``, in batches well under SQLite's limit of variables per statement."""
    for start in range(0, len(rows), 500):
        insert_rows(ChangeRecord, _COLUMNS, list(rows[start : start + 500]))


# -- reading ------------------------------------------------------------------


def changes(customer_id: int | None = None, since: dt.datetime | None = None, limit: int = 500) -> list[Change]:
    """Recorded changes, newest first: of one customer or all, from ``since`` (naive UTC) on."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = ChangeRecord.select()
    if customer_id is not None:
        query = query.where(ChangeRecord.customer_id == customer_id)
    if since is not None:
        query = query.where(ChangeRecord.at >= since)
    query = query.order_by(ChangeRecord.at.desc(), ChangeRecord.id.desc()).limit(limit)
    return [_change(row) for row in query]


def customer_once_at(email: str) -> int | None:
    """The customer whose primary email ``email`` was when a change was recorded
    (the newest such change), for an address that make primary has since swapped."""
    row = (
        ChangeRecord.select(ChangeRecord.customer_id)
        .where(fn.LOWER(ChangeRecord.customer_email) == email.strip().lower())
        .order_by(ChangeRecord.id.desc())
        .first()
    )
    return row.customer_id if row else None


def _change(row: ChangeRecord) -> Change:
    try:
        raw = json.loads(row.changes or "[]")
    except ValueError:
        raw = []
    fields = tuple((str(item[0]), item[1], item[2]) for item in raw if isinstance(item, list) and len(item) == 3)
    return Change(
        row.id,
        row.at,
        row.customer_id,
        row.customer_email,
        row.contact_id,
        row.contact_email,
        row.who,
        row.channel,
        row.action,
        fields,
    )


def parse_since(text: str) -> dt.datetime:
    """A date or time a person types (``2026-12-01``, ``2026-12-01 14:30``,
    ISO 8601 with a zone) as naive UTC; without a zone it is local time."""
    value = text.strip()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: give YYYY-MM-DD or YYYY-MM-DD HH:MM") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the reader's own zone, as the TUI shows times
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
