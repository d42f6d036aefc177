"""What a signed-in customer may do in the portal, and nothing more.

The portal's screens get a ``PortalScope``, never the ``Directory``: it lists
and changes the contact persons of one customer only, through the directory
(so every rule holds) written as that customer (so the history names it and
the channel). A contact person's id from anywhere else (another customer's,
typed into a crafted request) is answered as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ..catalog import Catalog
from ..directory.history import ADMIN_ONLY, Actor, Change
from ..directory.service import Directory
from ..errors import NotFound, PortalClosed
from ..records import ContactInput, ContactRecord, CustomerRecord
from ..validate import email_key
from ..wording import Phrase


class PortalScope:
    """One signed-in customer's contact persons."""

    def __init__(self, directory: Directory, customer_id: int, channel: str) -> None:
        customer = directory.get_customer(customer_id)
        self.customer_id = customer_id
        self.channel = channel
        self.actor = Actor(customer.email, channel)
        self._directory = directory.as_actor(self.actor)

    # What the screens read to lay out the categories and the "N of 10" line.

    @property
    def catalog(self) -> Catalog:
        return self._directory.catalog

    @property
    def max_contacts(self) -> int:
        return self._directory.max_contacts

    def customer(self) -> CustomerRecord:
        """The signed-in customer, while it may still use the portal."""
        try:
            customer = self._directory.get_customer(self.customer_id)
        except NotFound:
            raise PortalClosed(Phrase("this customer no longer exists; you have been signed out")) from None
        if customer.portal_disabled_at is not None or not customer.active:
            raise PortalClosed(Phrase("the portal has been turned off for this customer; you have been signed out"))
        return customer

    def contacts(self, *, include_deleted: bool = True) -> list[ContactRecord]:
        """The customer's contact persons: active ones first, then the deleted ones."""
        self.customer()
        return self._directory.list_contacts(self.customer_id, include_deleted=include_deleted)

    def add(self, data: ContactInput) -> ContactRecord:
        self.customer()
        return self._directory.add_contact(self.customer_id, data)

    def edit(self, contact_id: int, data: ContactInput) -> ContactRecord:
        """Save name, email, phone, role and categories. Never copied to the
        person's records at other customers: those are not this customer's."""
        contact_id = self._own(contact_id).id
        return self._directory.update_contact(contact_id, data, apply_to_all=False)

    def delete(self, contact_id: int) -> ContactRecord:
        contact_id = self._own(contact_id).id
        return self._directory.delete_contact(contact_id)

    def restore(self, contact_id: int) -> ContactRecord:
        contact_id = self._own(contact_id).id
        return self._directory.undelete_contact(contact_id)

    def toggle_category(self, contact_id: int, category: str) -> ContactRecord:
        contact_id = self._own(contact_id).id
        return self._directory.toggle_category(contact_id, category)

    def set_receive_all(self, contact_id: int, enabled: bool) -> ContactRecord:
        contact_id = self._own(contact_id).id
        return self._directory.set_receive_all(contact_id, enabled)

    def set_language(self, language: str) -> CustomerRecord:
        """The language the portal and its sign-in mail speak to this customer (validate.LANGUAGES)."""
        self.customer()
        return self._directory.set_language(self.customer_id, language)

    def history(self, *, since: dt.datetime | None = None, limit: int = 500) -> list[Change]:
        """The changes to this customer and its contact persons, by anyone,
        without the admin's note about the customer."""
        self.customer()
        changes = self._directory.history(customer_id=self.customer_id, since=since, limit=limit)
        shown = (_for_customer(change) for change in changes)
        return [change for change in shown if change is not None]

    def _own(self, contact_id: int) -> ContactRecord:
        customer = self.customer()
        try:
            contact = self._directory.get_contact(int(contact_id))
        except (NotFound, TypeError, ValueError):
            contact = None
        # The record kept under the primary email (see Directory.make_primary)
        # is not a contact person to show or change.
        if (
            contact is None
            or contact.customer_id != self.customer_id
            or email_key(contact.email) == email_key(customer.email)
        ):
            raise NotFound(Phrase("contact person {id} does not exist", id=contact_id))
        return contact


def _for_customer(change: Change) -> Change | None:
    """A change as the customer may read it: the customer's own entries
    without the admin's note about it (``None`` where that was all)."""
    if change.contact_id is not None or not change.changes:
        return change
    kept = tuple(field for field in change.changes if field[0] not in ADMIN_ONLY)
    if not kept:
        return None
    return replace(change, changes=kept) if len(kept) != len(change.changes) else change
