"""Short ways to build inputs for the directory tests."""

from __future__ import annotations

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput, CustomerInput, CustomerRecord


def person(name: str, email: str, **fields) -> ContactInput:
    return ContactInput(name, email, **fields)


def new_customer(
    directory: Directory, email: str = "owner@acme.example", name: str = "Acme Ltd", phone: str = ""
) -> CustomerRecord:
    return directory.create_customer(CustomerInput(name, email, phone))


def active_emails(directory: Directory, customer_id: int) -> list[str]:
    return sorted(c.email.lower() for c in directory.list_contacts(customer_id))


HEADER = "customer_email,customer_name,contact_name,contact_email,phone,role,categories"


def csv_text(*rows: str, header: str = HEADER) -> bytes:
    """A CSV file: the header, then each row as written (UTF-8, LF)."""
    return "\n".join([header, *rows, ""]).encode("utf-8")


def import_text(directory: Directory, data: bytes, **options):
    import io

    from contacts_tui.core.csv.importer import import_csv

    return import_csv(directory, io.BytesIO(data), **options)


def export_text(directory: Directory) -> str:
    import io

    from contacts_tui.core.csv.export import export_csv

    out = io.StringIO()
    export_csv(directory.catalog, out)
    return out.getvalue()
