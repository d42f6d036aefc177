"""The optional CSV columns ``notes`` and ``language``: a file without them
imports as before and leaves notes and languages alone; with them, a contact
row's ``notes`` is the contact person's note, a customer row's the customer's
(as ``phone`` is), and ``language`` the customer's portal language. On SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.csv.report import ImportFailed
from contacts_tui.core.records import ContactInput, CustomerInput

from ..helpers import HEADER, csv_text, export_text, import_text

FULL = HEADER + ",notes,language"


def contact(directory, customer_email: str, email: str):
    customer = directory.find_customer(customer_email)
    return next(c for c in directory.list_contacts(customer.id) if c.email == email)


def test_notes_and_language_are_read_from_their_columns(directory):
    import_text(
        directory,
        csv_text(
            "owner@acme.example,Acme,,,,,,call before 10,NL",
            "owner@acme.example,Acme,Bea,bea@acme.example,,Billing,billing,accountant since 2024,nl",
            "owner@globex.example,Globex,Hank,hank@globex.example,,,,,",
            header=FULL,
        ),
    )
    acme = directory.find_customer("owner@acme.example")
    assert (acme.notes, acme.language) == ("call before 10", "nl")
    assert contact(directory, "owner@acme.example", "bea@acme.example").notes == "accountant since 2024"
    globex = directory.find_customer("owner@globex.example")
    assert (globex.notes, globex.language) == ("", "en")


def test_a_file_without_the_columns_leaves_notes_and_language_alone(directory):
    acme = directory.create_customer(CustomerInput("Acme", "owner@acme.example", notes="VIP", language="nl"))
    directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="part time"))
    report = import_text(
        directory,
        csv_text(
            "owner@acme.example,Acme,,,+31 20 1,,",
            "owner@acme.example,Acme,Bea,bea@acme.example,,Billing,billing",
        ),
    )
    assert (report.customers_updated, report.contacts_updated) == (1, 1)
    acme = directory.get_customer(acme.id)
    assert (acme.phone, acme.notes, acme.language) == ("+31 20 1", "VIP", "nl")
    bea = contact(directory, "owner@acme.example", "bea@acme.example")
    assert (bea.role, bea.notes) == ("Billing", "part time")


def test_an_empty_note_cell_clears_a_contact_persons_note_but_not_the_customers(directory):
    acme = directory.create_customer(CustomerInput("Acme", "owner@acme.example", notes="VIP"))
    directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="part time"))
    import_text(
        directory,
        csv_text("owner@acme.example,Acme,,,,,,,", "owner@acme.example,Acme,Bea,bea@acme.example,,,,,", header=FULL),
    )
    # As with the phone, a customer row's empty cell gives nothing; a contact
    # row describes the whole contact person.
    assert directory.get_customer(acme.id).notes == "VIP"
    assert contact(directory, "owner@acme.example", "bea@acme.example").notes == ""


def test_a_dry_run_says_what_the_notes_change_and_the_history_records_it(directory):
    acme = directory.create_customer(CustomerInput("Acme", "owner@acme.example"))
    directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example"))
    data = csv_text(
        "owner@acme.example,Acme,,,,,,call first,nl",
        "owner@acme.example,Acme,Bea,bea@acme.example,,,,part time,nl",
        header=FULL,
    )
    dry = import_text(directory, data, dry_run=True)
    assert dry.changes == [
        "customer owner@acme.example: notes '' -> 'call first', language 'en' -> 'nl'",
        "  update bea@acme.example: notes '' -> 'part time'",
    ]
    import_text(directory, data)
    changes = {(c.action, c.contact_email): c.describe() for c in directory.history(acme.id)}
    assert changes[("customer edited", "")] == 'notes "" -> "call first"; language "en" -> "nl"'
    assert changes[("contact edited", "bea@acme.example")] == 'notes "" -> "part time"'


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            'owner@acme.example,Acme,Bea,bea@acme.example,,,,"two\nlines",en',
            "line 2, column notes: Note may not contain line breaks or control characters",
        ),
        (
            "owner@acme.example,Acme,,,,,,,de",
            "line 2, column language: Unknown language 'de'; choose en (English) or nl (Nederlands)",
        ),
        ("owner@acme.example,Acme,,,,,,x" + "y" * 500 + ",", "line 2, column notes: Note is too long (501"),
    ],
)
def test_a_bad_note_or_language_is_reported_with_its_line_and_column(directory, row, problem):
    with pytest.raises(ImportFailed) as caught:
        import_text(directory, csv_text(row, header=FULL))
    assert str(caught.value.report.errors[0]).startswith(problem)
    assert directory.counts() == (0, 0)


def test_one_customer_has_one_language(directory):
    with pytest.raises(ImportFailed) as caught:
        import_text(
            directory,
            csv_text(
                "owner@acme.example,Acme,Bea,bea@acme.example,,,,,nl",
                "owner@acme.example,Acme,Ann,ann@acme.example,,,,,en",
                header=FULL,
            ),
        )
    assert [str(e) for e in caught.value.report.errors] == [
        "line 3, column language: differs from line 2 ('nl'); a customer has one language"
    ]


def test_a_note_a_spreadsheet_would_run_is_exported_as_text_and_comes_back(directory):
    acme = directory.create_customer(CustomerInput("Acme", "owner@acme.example", notes="=1+1"))
    directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="-call first"))
    exported = export_text(directory)
    assert "'=1+1" in exported and "'-call first" in exported
    acme_again = directory.update_customer(acme.id, CustomerInput("Acme", "owner@acme.example", notes=""))
    assert acme_again.notes == ""
    import_text(directory, exported.encode())
    assert directory.get_customer(acme.id).notes == "=1+1"
    assert contact(directory, "owner@acme.example", "bea@acme.example").notes == "-call first"
