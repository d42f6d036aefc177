"""The part of ``Directory`` that knows who is acting: the actor each change
is recorded for, reading the history back, and the customer portal's access
(disabling sign-in, recording a sign-in).

A mixin, so service.py keeps to the rules and their writes; it uses the
directory's ``database``, ``_lock_customer`` and ``_customer_row``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Sequence

from ..db import database_call
from ..errors import ValidationError
from ..migrate import write_transaction
from ..models import Customer, utcnow
from ..records import CustomerRecord, customer_record
from . import history
from .history import Actor, Change, Entry

_uses_database = database_call(lambda self, *args: self.database)


def directory_call(function):
    """A public directory call: the stored settings are fresh, driver failures become DatabaseUnavailable."""

    @functools.wraps(function)
    def call(self, *args, **kwargs):
        self.follow_settings()
        return function(self, *args, **kwargs)

    return _uses_database(call)


class HistoryCalls:
    _actor: Actor | None = None

    @property
    def actor(self) -> Actor:
        """Whom this directory records changes for; by default the admin at this terminal."""
        if self._actor is None:
            self._actor = history.admin_actor()
        return self._actor

    def as_actor(self, actor: Actor) -> HistoryCalls:
        """This directory (the same database and settings) recording its changes as ``actor``."""
        if not isinstance(actor, Actor):
            raise TypeError("as_actor takes an Actor")
        other = copy.copy(self)
        other._actor = actor
        return other

    @directory_call
    def history(
        self, customer_id: int | None = None, since: dt.datetime | None = None, limit: int = 500
    ) -> list[Change]:
        """Recorded changes, newest first: of one customer (``customer_id``) or of all, from ``since`` (naive UTC)."""
        return history.changes(customer_id, since, limit)

    @directory_call
    def customer_once_at(self, email: str) -> CustomerRecord | None:
        """The customer whose primary email this was when a change was recorded; ``None`` if none was."""
        customer_id = history.customer_once_at(email)
        if customer_id is None:
            return None
        row = Customer.get_or_none(Customer.id == customer_id)
        return customer_record(row) if row else None

    @directory_call
    def set_portal_access(self, customer_id: int, enabled: bool) -> CustomerRecord:
        """Let the customer sign in to the portal, or stop it from signing in (recorded in the history)."""
        with write_transaction(self.database):
            row = self._lock_customer(customer_id)
            if (row.portal_disabled_at is None) != bool(enabled):
                now = utcnow()
                Customer.update(portal_disabled_at=None if enabled else now).where(Customer.id == row.id).execute()
                states = ("disabled", "enabled") if enabled else ("enabled", "disabled")
                action = history.PORTAL_ENABLED if enabled else history.PORTAL_DISABLED
                self._record(action, row, [["portal sign-in", *states]], now=now)
            return customer_record(self._customer_row(row.id))

    @directory_call
    def record_sign_in(self, customer_id: int, channel: str) -> CustomerRecord:
        """Note that the customer signed in to the portal now, over ``ssh`` or ``web``; not a change of the history."""
        if channel not in history.PORTAL_CHANNELS:
            raise ValidationError.single("channel", f"a customer signs in over {' or '.join(history.PORTAL_CHANNELS)}")
        self._customer_row(customer_id)
        Customer.update(last_sign_in_at=utcnow(), last_sign_in_channel=channel).where(
            Customer.id == customer_id
        ).execute()
        return customer_record(self._customer_row(customer_id))

    def _record(
        self, action: str, customer, changes: Sequence[Sequence], contact=None, *, now: dt.datetime | None = None
    ) -> None:
        """Record one change of ``customer`` (a row or a record), in the caller's transaction."""
        history.record(
            self.actor,
            [
                Entry(
                    customer.id,
                    customer.email,
                    action,
                    changes,
                    contact.id if contact is not None else None,
                    contact.email if contact is not None else "",
                )
            ],
            now,
        )
