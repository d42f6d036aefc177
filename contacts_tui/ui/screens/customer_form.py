"""Create or edit a customer: name, primary email, phone, the admin's note and the portal's language."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.widgets import Input, Select

from contacts_tui.core.records import CustomerInput, CustomerRecord
from contacts_tui.core.validate import DEFAULT_LANGUAGE, LANGUAGES

from .form import FormScreen


class CustomerForm(FormScreen):
    """Answers with the saved customer, or None when cancelled."""

    FIELDS = ("name", "email", "phone", "notes", "language")
    SUB_TITLE = "Customer"
    HELP = (
        "A customer is who your billing application writes to: its primary email gets "
        "every notification, and its contact persons get copies. The primary email is "
        "unique across customers. The note is yours: it is never sent in mail and the "
        "customer never sees it. The language is the one the customer portal and its "
        "sign-in mail speak to this customer; the customer can change it there too."
    )

    def __init__(self, customer: CustomerRecord | None) -> None:
        super().__init__()
        self.customer = customer

    def heading(self) -> str:
        return "New customer" if self.customer is None else f"Edit customer {self.customer.name}"

    def fields(self) -> ComposeResult:
        customer = self.customer
        yield from self.field(
            "name", "Name", Input(customer.name if customer else "", id="name", compact=True, placeholder="required")
        )
        yield from self.field(
            "email",
            "Primary email",
            Input(
                customer.email if customer else "",
                id="email",
                compact=True,
                placeholder="required; gets every notification",
            ),
        )
        yield from self.field(
            "phone",
            "Phone",
            Input(customer.phone if customer else "", id="phone", compact=True, placeholder="optional"),
        )
        yield from self.field(
            "notes",
            "Note",
            Input(
                customer.notes if customer else "",
                id="notes",
                compact=True,
                placeholder="optional; never sent in mail, never shown to the customer",
            ),
        )
        languages = Select(
            [(f"{name} ({code})", code) for code, name in LANGUAGES.items()],
            value=customer.language if customer else DEFAULT_LANGUAGE,
            allow_blank=False,
            id="language",
            compact=True,
        )
        yield from self.field("language", "Portal language", languages)

    def save_call(self) -> Callable[[], CustomerRecord]:
        language = self.query_one("#language", Select).value
        data = CustomerInput(
            self.query_one("#name", Input).value,
            self.query_one("#email", Input).value,
            self.query_one("#phone", Input).value,
            self.query_one("#notes", Input).value,
            language if isinstance(language, str) else DEFAULT_LANGUAGE,
        )
        directory, customer = self.directory, self.customer
        if customer is None:
            return lambda: directory.create_customer(data)
        return lambda: directory.update_customer(customer.id, data)
