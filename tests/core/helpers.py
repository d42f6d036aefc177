"""Short ways to build inputs for the directory tests."""

from __future__ import annotations

from contacts_tui.core.directory import Directory
from contacts_tui.core.records import ContactInput, CustomerInput, CustomerRecord


def person(name: str, email: str, **fields) -> ContactInput:
    return ContactInput(name, email, **fields)


def new_customer(
    directory: Directory, email: str = "owner@acme.example", name: str = "Acme Ltd", phone: str = ""
) -> CustomerRecord:
    return directory.create_customer(CustomerInput(name, email, phone))


def active_emails(directory: Directory, customer_id: int) -> list[str]:
    return sorted(c.email.lower() for c in directory.list_contacts(customer_id))
