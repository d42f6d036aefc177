"""Create or edit a customer: name, primary email, phone."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.widgets import Input

from contacts_tui.core.records import CustomerInput, CustomerRecord

from .form import FormScreen


class CustomerForm(FormScreen):
    """Answers with the saved customer, or None when cancelled."""

    FIELDS = ("name", "email", "phone")
    SUB_TITLE = "Customer"
    HELP = (
        "A customer is who your billing application writes to: its primary email gets "
        "every notification, and its contact persons get copies. The primary email is "
        "unique across customers."
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

    def save_call(self) -> Callable[[], CustomerRecord]:
        data = CustomerInput(
            self.query_one("#name", Input).value,
            self.query_one("#email", Input).value,
            self.query_one("#phone", Input).value,
        )
        directory, customer = self.directory, self.customer
        if customer is None:
            return lambda: directory.create_customer(data)
        return lambda: directory.update_customer(customer.id, data)
