"""The admin's contact person form, saving through the customer's portal scope."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input

from contacts_tui.core.display import visible
from contacts_tui.core.records import ContactRecord, CustomerRecord

from ..screens.contact_form import ContactForm


class PortalContactForm(ContactForm):
    """Add or edit one of the signed-in customer's contact persons.

    Never shows or copies to the person's records at other customers: the
    form is told there are none (it would otherwise look them up)."""

    HELP = (
        "A contact person gets a copy (Cc) of the notifications they opt in to: switch on a "
        "category, or 'receive all' for every category including ones added later. The "
        "address must differ from your own and from your other contact persons' (ignoring case)."
    )

    def __init__(self, customer: CustomerRecord, contact: ContactRecord | None = None) -> None:
        super().__init__(customer, contact, elsewhere=[])

    def on_mount(self) -> None:
        # A value written past the rules (an older program, a hand edit) may
        # hold escape sequences, which an input would send to the customer's
        # terminal as they are: it shows their stand-ins (a save then keeps those).
        for field in self.query(Input):
            if field.value != visible(field.value):
                field.value = visible(field.value)
        super().on_mount()

    def save_call(self) -> Callable[[], ContactRecord]:
        data = self.contact_input()
        scope, contact = self.app.directory, self.contact
        if contact is None:
            return lambda: scope.add(data)
        return lambda: scope.edit(contact.id, data)
