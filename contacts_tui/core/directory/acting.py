"""The part of ``Directory`` that knows who is acting: the actor each change
is recorded for and the history entry it writes, reading the history back,
and the customer portal's access (disabling sign-in, lifting a sign-in lock,
the customer's language, recording a sign-in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee

from ..errors import ValidationError
from ..migrate import write_transaction
from ..models import Customer, utcnow
from ..records import CustomerRecord, customer_record
from ..validate import clean_language
from . import history, lockout
from .history import Actor, Change, Entry
from .rows import customer_row, lock_customer


class Acting:
    def __init__(self, database: peewee.Database, actor: Actor | None = None) -> None:
        if actor is not None and not isinstance(actor, Actor):
            raise TypeError("as_actor takes an Actor")
        self.database = database
        self._actor = actor

    @property
    def actor(self) -> Actor:
        """Whom changes are recorded for; by default the admin at this terminal."""
        if self._actor is None:
            self._actor = history.admin_actor()
        return self._actor

    def as_actor(self, actor: Actor) -> Acting:
        return Acting(self.database, actor)

    def record(
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

    def changes(self, customer_id: int | None, since: dt.datetime | None, limit: int) -> list[Change]:
        return history.changes(customer_id, since, limit)

    def customer_once_at(self, email: str) -> CustomerRecord | None:
        customer_id = history.customer_once_at(email)
        if customer_id is None:
            return None
        row = Customer.get_or_none(Customer.id == customer_id)
        return customer_record(row) if row else None

    def set_portal_access(self, customer_id: int, enabled: bool) -> CustomerRecord:
        with write_transaction(self.database):
            row = lock_customer(self.database, customer_id)
            if (row.portal_disabled_at is None) != bool(enabled):
                now = utcnow()
                Customer.update(portal_disabled_at=None if enabled else now).where(Customer.id == row.id).execute()
                states = ("disabled", "enabled") if enabled else ("enabled", "disabled")
                action = history.PORTAL_ENABLED if enabled else history.PORTAL_DISABLED
                self.record(action, row, [["portal sign-in", *states]], now=now)
            return customer_record(customer_row(row.id))

    def portal_locked_until(self, customer_id: int) -> dt.datetime | None:
        return lockout.next_request_at(customer_row(customer_id).email, utcnow())

    def unlock_portal(self, customer_id: int) -> dt.datetime | None:
        with write_transaction(self.database):
            row = lock_customer(self.database, customer_id)
            now = utcnow()
            until = lockout.lift(row.email, now)
            if until is not None:
                self.record(history.PORTAL_UNLOCKED, row, [["portal sign-in", "locked", "unlocked"]], now=now)
            return until

    def set_language(self, customer_id: int, language: str) -> CustomerRecord:
        code = clean_language(language)
        with write_transaction(self.database):
            row = lock_customer(self.database, customer_id)
            if row.language != code:
                now = utcnow()
                Customer.update(language=code, updated_at=now).where(Customer.id == row.id).execute()
                self.record(history.CUSTOMER_EDITED, row, [["language", row.language, code]], now=now)
            return customer_record(customer_row(row.id))

    def record_sign_in(self, customer_id: int, channel: str) -> CustomerRecord:
        if channel not in history.PORTAL_CHANNELS:
            raise ValidationError.single("channel", f"a customer signs in over {' or '.join(history.PORTAL_CHANNELS)}")
        customer_row(customer_id)
        Customer.update(last_sign_in_at=utcnow(), last_sign_in_channel=channel).where(
            Customer.id == customer_id
        ).execute()
        return customer_record(customer_row(customer_id))
