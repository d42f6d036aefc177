"""The admin's contact person form, saving through the customer's portal scope."""

from __future__ import annotations

from collections.abc import Callable

from contacts_tui.core.records import ContactRecord, CustomerRecord

from ..language import N_, TranslatedBindings
from ..screens.contact_form import ContactForm


class PortalContactForm(TranslatedBindings, ContactForm):
    """Add or edit one of the signed-in customer's contact persons.

    Never shows or copies to the person's records at other customers: the
    form is told there are none (it would otherwise look them up)."""

    HELP = N_(
        "A contact person gets a copy (Cc) of the notifications they opt in to: switch on a "
        "category, or 'receive all' for every category including ones added later. The "
        "address must differ from your own and from your other contact persons' (ignoring case). "
        'The note is for you and us ("call before 10"); it is never sent in mail.'
    )

    def __init__(self, customer: CustomerRecord, contact: ContactRecord | None = None) -> None:
        super().__init__(customer, contact, elsewhere=[])

    def save_call(self) -> Callable[[], ContactRecord]:
        data = self.contact_input()
        scope, contact = self.app.directory, self.contact
        if contact is None:
            return lambda: scope.add(data)
        return lambda: scope.edit(contact.id, data)
