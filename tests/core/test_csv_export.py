"""CSV export, and the round trip: export, import into an empty database,
export again, byte for byte. On SQLite and PostgreSQL."""

from __future__ import annotations

import io

from contacts_tui.core.csv_export import export_csv
from contacts_tui.core.db import open_database
from contacts_tui.core.directory import Directory
from contacts_tui.core.records import ContactInput, CustomerInput

from .helpers import HEADER, export_text, import_text, person


def fill(directory: Directory) -> None:
    """Customers and contacts that exercise every column and quoting rule."""
    acme = directory.create_customer(CustomerInput("Acme, Ltd.", "Owner@Acme.example", "+31 20 555 0100"))
    directory.add_contact(acme.id, ContactInput("Bea \"Books\" Müller", "bea@acme.example", "+31 20 555 0101", "bookkeeping", False, ("account", "billing")))
    directory.add_contact(acme.id, ContactInput("Ann Allmail", "Ann@acme.example", "", "Management", True, ("billing",)))
    directory.add_contact(acme.id, ContactInput("Ned Nothing", "ned@acme.example"))
    gone = directory.add_contact(acme.id, person("Gone Person", "gone@acme.example"))
    directory.delete_contact(gone.id)
    muenchen = directory.create_customer(CustomerInput("Bäckerei Groß", "kontakt@bäckerei-groß.example"))
    directory.add_contact(muenchen.id, ContactInput("Jürgen Weiß", "jürgen@bäckerei-groß.example", "089 123", "Support", False, ("billing",)))
    directory.create_customer(CustomerInput("ООО Иванов", "office@ivanov.example"))
    directory.create_customer(CustomerInput("山田商事", "info@yamada.example", "03-1234-5678"))
    inactive = directory.create_customer(CustomerInput("Zeta Inactive", "zeta@zeta.example"))
    directory.add_contact(inactive.id, person("Zed", "zed@zeta.example", categories=("account",)))
    directory.set_customer_active(inactive.id, False)


def test_export_writes_customers_and_contacts_in_a_stable_order(directory):
    fill(directory)
    assert export_text(directory).splitlines() == [
        HEADER,
        "info@yamada.example,山田商事,,,03-1234-5678,,",
        "kontakt@bäckerei-groß.example,Bäckerei Groß,Jürgen Weiß,jürgen@bäckerei-groß.example,089 123,Support,billing",
        "office@ivanov.example,ООО Иванов,,,,,",
        "Owner@acme.example,\"Acme, Ltd.\",,,+31 20 555 0100,,",
        "Owner@acme.example,\"Acme, Ltd.\",Ann Allmail,Ann@acme.example,,Management,all",
        "Owner@acme.example,\"Acme, Ltd.\",\"Bea \"\"Books\"\" Müller\",bea@acme.example,+31 20 555 0101,Bookkeeping,billing;account",
        "Owner@acme.example,\"Acme, Ltd.\",Ned Nothing,ned@acme.example,,General,",
        "zeta@zeta.example,Zeta Inactive,Zed,zed@zeta.example,,General,account",
    ]


def test_export_of_an_empty_database_is_the_header(directory):
    assert export_text(directory) == HEADER + "\n"


def test_export_counts_rows_and_reports_progress(directory):
    fill(directory)
    seen = []
    count = export_csv(directory.catalog, io.StringIO(), seen.append)
    assert count == 8 and seen[-1] == 8


def test_export_pages_through_many_customers(directory):
    import_text(directory, "\n".join([HEADER, *(f"c{i:05d}@many.example,C{i},,,,," for i in range(1203))]).encode())
    lines = export_text(directory).splitlines()
    assert len(lines) == 1204
    assert lines[1].startswith("c00000@") and lines[-1].startswith("c01202@")


def test_export_then_import_into_an_empty_database_then_export_is_byte_identical(directory, second_db_url):
    fill(directory)
    first = export_text(directory).encode("utf-8")

    # Peewee models are bound to the newest database: use the second only now.
    second = open_database(second_db_url)
    try:
        empty = Directory(second)
        assert empty.counts() == (0, 0)
        report = import_text(empty, first)
        assert (report.customers_created, report.contacts_added) == (5, 5)
        again = export_text(empty).encode("utf-8")
        assert again == first
        # And importing it over itself changes nothing.
        report = import_text(empty, again)
        assert (report.contacts_added, report.contacts_updated, report.customers_updated) == (0, 0, 0)
    finally:
        second.close_all() if hasattr(second, "close_all") else second.close()
