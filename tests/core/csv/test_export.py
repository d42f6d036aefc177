"""CSV export, and the round trip: export, import into an empty database,
export again, byte for byte. On SQLite and PostgreSQL. Cells a spreadsheet
would run as a formula are exported as text and imported unchanged."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts_tui.core.csv.dialect import from_cell, to_cell
from contacts_tui.core.csv.export import export_csv
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput, CustomerInput

from ..helpers import HEADER, export_text, import_text, person


def fill(directory: Directory) -> None:
    """Customers and contacts that exercise every column and quoting rule."""
    acme = directory.create_customer(
        CustomerInput("Acme, Ltd.", "Owner@Acme.example", "+31 20 555 0100", "call before 10, never on Fridays")
    )
    directory.add_contact(
        acme.id,
        ContactInput(
            'Bea "Books" Müller',
            "bea@acme.example",
            "+31 20 555 0101",
            "bookkeeping",
            False,
            ("account", "billing"),
            "accountant since 2024",
        ),
    )
    directory.add_contact(
        acme.id, ContactInput("Ann Allmail", "Ann@acme.example", "", "Management", True, ("billing",))
    )
    directory.add_contact(acme.id, ContactInput("Ned Nothing", "ned@acme.example"))
    gone = directory.add_contact(acme.id, person("Gone Person", "gone@acme.example"))
    directory.delete_contact(gone.id)
    muenchen = directory.create_customer(CustomerInput("Bäckerei Groß", "kontakt@bäckerei-groß.example"))
    bakker = directory.create_customer(CustomerInput("Bakkerij Jansen", "info@jansen.example", language="nl"))
    directory.add_contact(bakker.id, person("Joke", "joke@jansen.example", receive_all=True))
    directory.add_contact(
        muenchen.id,
        ContactInput("Jürgen Weiß", "jürgen@bäckerei-groß.example", "089 123", "Support", False, ("billing",)),
    )
    directory.create_customer(CustomerInput("ООО Иванов", "office@ivanov.example"))
    directory.create_customer(CustomerInput("山田商事", "info@yamada.example", "03-1234-5678"))
    inactive = directory.create_customer(CustomerInput("Zeta Inactive", "zeta@zeta.example"))
    directory.add_contact(inactive.id, person("Zed", "zed@zeta.example", categories=("account",)))
    directory.set_customer_active(inactive.id, False)


def test_export_writes_customers_and_contacts_in_a_stable_order(directory):
    fill(directory)
    assert export_text(directory).splitlines() == [
        HEADER + ",notes,language",
        "info@jansen.example,Bakkerij Jansen,Joke,joke@jansen.example,,General,all,,nl",
        "info@yamada.example,山田商事,,,03-1234-5678,,,,en",
        "kontakt@bäckerei-groß.example,Bäckerei Groß,Jürgen Weiß,jürgen@bäckerei-groß.example,089 123,Support,"
        "billing,,en",
        "office@ivanov.example,ООО Иванов,,,,,,,en",
        'Owner@acme.example,"Acme, Ltd.",,,\'+31 20 555 0100,,,"call before 10, never on Fridays",en',
        'Owner@acme.example,"Acme, Ltd.",Ann Allmail,Ann@acme.example,,Management,all,,en',
        'Owner@acme.example,"Acme, Ltd.","Bea ""Books"" Müller",bea@acme.example,\'+31 20 555 0101,Bookkeeping,'
        "billing;account,accountant since 2024,en",
        'Owner@acme.example,"Acme, Ltd.",Ned Nothing,ned@acme.example,,General,,,en',
        "zeta@zeta.example,Zeta Inactive,Zed,zed@zeta.example,,General,account,,en",
    ]


def test_export_of_an_empty_database_is_the_header(directory):
    assert export_text(directory) == HEADER + ",notes,language\n"


def test_export_counts_rows_and_reports_progress(directory):
    fill(directory)
    seen = []
    count = export_csv(directory.catalog, io.StringIO(), seen.append)
    assert count == 9 and seen[-1] == 9


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
        assert (report.customers_created, report.contacts_added) == (6, 6)
        assert empty.find_customer("info@jansen.example").language == "nl"
        acme = empty.find_customer("owner@acme.example")
        assert acme.notes == "call before 10, never on Fridays"
        bea = next(c for c in empty.list_contacts(acme.id) if c.email == "bea@acme.example")
        assert bea.notes == "accountant since 2024"
        again = export_text(empty).encode("utf-8")
        assert again == first
        # And importing it over itself changes nothing.
        report = import_text(empty, again)
        assert (report.contacts_added, report.contacts_updated, report.customers_updated) == (0, 0, 0)
    finally:
        second.close_all() if hasattr(second, "close_all") else second.close()


FORMULAS = ['=HYPERLINK("http://evil.example","Bea")', "@SUM(1+1)", "+cmd", "-2+3", "'=already quoted", "'t Hart"]


def test_cells_a_spreadsheet_would_run_are_exported_as_text_and_imported_unchanged(directory, second_db_url):
    acme = directory.create_customer(CustomerInput("=Acme", "owner@acme.example", "-20 555"))
    for number, name in enumerate(FORMULAS):
        directory.add_contact(acme.id, ContactInput(name, f"p{number}@acme.example", "+31 6 1234"))
    first = export_text(directory)
    rows = first.splitlines()
    assert rows[1] == "owner@acme.example,'=Acme,,,'-20 555,,,,en"
    assert (
        rows[2] == 'owner@acme.example,\'=Acme,"\'=HYPERLINK(""http://evil.example"",""Bea"")",p0@acme.example,'
        "'+31 6 1234,General,,,en"
    )
    names = [row.split(",")[2] for row in rows[3:]]
    assert names == [
        "'@SUM(1+1)",
        "'+cmd",
        "'-2+3",
        "''=already quoted",
        "'t Hart",
    ]  # an apostrophe of its own stays apart

    second = open_database(second_db_url)
    try:
        empty = Directory(second)
        import_text(empty, first.encode())
        copy = empty.find_customer("owner@acme.example")
        assert (copy.name, copy.phone) == ("=Acme", "-20 555")
        assert sorted(c.name for c in empty.list_contacts(copy.id)) == sorted(FORMULAS)
        assert {c.phone for c in empty.list_contacts(copy.id)} == {"+31 6 1234"}
        assert export_text(empty) == first
    finally:
        second.close_all() if hasattr(second, "close_all") else second.close()


def test_a_hand_written_apostrophe_before_a_phone_number_is_taken_off(directory):
    # What people type in Excel to keep the + of a phone number.
    import_text(directory, f"{HEADER}\nowner@acme.example,Acme,'t Hart,t@acme.example,'+31 6 1234,,\n".encode())
    [hart] = directory.list_contacts(directory.find_customer("owner@acme.example").id)
    assert (hart.name, hart.phone) == ("'t Hart", "+31 6 1234")


@given(st.text(alphabet=st.sampled_from("'=+-@\tx 1"), max_size=8))
def test_from_cell_reads_back_whatever_to_cell_wrote(value):
    assert from_cell(to_cell(value)) == value
    assert not to_cell(value).startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("delimiter, encoding", [(";", "cp1252"), ("\t", "utf-16"), (",", "utf-8-sig")])
def test_an_export_for_excel_imports_back_the_same(directory, second_db_url, delimiter, encoding):
    fill_western(directory)
    out = io.StringIO()
    export_csv(directory.catalog, out, delimiter=delimiter)
    data, expected = out.getvalue().encode(encoding), export_text(directory)
    second = open_database(second_db_url)
    try:
        empty = Directory(second)
        report = import_text(empty, data)
        assert (report.csv_format.delimiter, report.csv_format.encoding) == (delimiter, encoding)
        assert export_text(empty) == expected
    finally:
        second.close_all() if hasattr(second, "close_all") else second.close()


def fill_western(directory: Directory) -> None:
    """What Windows-1252 can hold: Dutch, German and French names, and a formula."""
    acme = directory.create_customer(CustomerInput("Café Noël; Groß", "owner@cafe.example", "+33 1 23"))
    directory.add_contact(
        acme.id, ContactInput("José Peña", "jose@cafe.example", "+34 6", "Billing", False, ("billing",))
    )
    directory.add_contact(acme.id, ContactInput("=1+1", "f@cafe.example"))
