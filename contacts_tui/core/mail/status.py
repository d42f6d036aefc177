"""The words of the relay log: what happened to a message, and what the relay decided.

The relay writes them, the TUI filters and highlights by them and the
``contacts-relay log`` command prints them; this is their one list. They are
``StrEnum`` members, so they are stored, compared and printed as the plain
words the database has always held.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a message is: the relay log's ``status`` column."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    PARTIALLY_FAILED = "partially failed"
    FAILED = "failed"
    EXPIRED = "expired"
    CAPTURED = "captured"
    REFUSED = "refused"
    DELETED = "deleted"

    @property
    def trouble(self) -> bool:
        """Whether an admin should look at it: some recipient did not (yet) get the message."""
        return self in _TROUBLE

    @property
    def final(self) -> bool:
        """Whether delivery is over for the message (nothing more will change)."""
        return self not in (Status.QUEUED, Status.DEFERRED)


_TROUBLE = frozenset({Status.DEFERRED, Status.PARTIALLY_FAILED, Status.FAILED, Status.EXPIRED, Status.REFUSED})


class Decision(StrEnum):
    """What the relay did to a message: the relay log's ``decision`` column."""

    REWRITTEN = "rewritten"
    ENVELOPE_ONLY = "envelope-only"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    BOUNCE = "bounce"
    RELEASED = "released"
