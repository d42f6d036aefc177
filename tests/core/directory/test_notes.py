"""Notes on customers and contact persons: the rules of a name on control
characters, kept when an edit leaves them out, found by search, recorded in
the history. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.errors import ValidationError
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.core.validate import NOTES_MAX

from ..helpers import person


def test_a_note_on_a_customer_and_on_a_contact_person_is_kept_and_found(directory, acme):
    acme = directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="Call before 10"))
    bea = directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="Accountant since 2024"))
    assert directory.get_customer(acme.id).notes == "Call before 10"
    assert directory.get_contact(bea.id).notes == "Accountant since 2024"
    # Search matches notes as it matches names: any case, any part of a word.
    assert [c.id for c in directory.search_customers("before 10").rows] == [acme.id]
    assert [c.id for c in directory.search_customers("ACCOUNTANT").rows] == [acme.id]
    assert [c.id for c in directory.search_customers("ountan").rows] == [acme.id]
    # A deleted contact person's note is not the customer's any more, as its name is not.
    directory.delete_contact(bea.id)
    assert directory.search_customers("accountant").rows == ()
    directory.undelete_contact(bea.id)
    directory.update_contact(bea.id, person("Bea", "bea@acme.example", notes="left in 2026"))
    assert directory.search_customers("accountant").rows == ()
    assert [c.id for c in directory.search_customers("left in").rows] == [acme.id]


def test_an_edit_without_a_note_keeps_it_and_an_empty_one_clears_it(directory, acme):
    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="VIP", language="nl"))
    renamed = directory.update_customer(acme.id, CustomerInput("Acme Group", acme.email))
    assert (renamed.notes, renamed.language) == ("VIP", "nl")
    assert directory.update_customer(acme.id, CustomerInput("Acme Group", acme.email, notes="")).notes == ""
    bea = directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="part time"))
    assert directory.update_contact(bea.id, person("Bea B.", "bea@acme.example")).notes == "part time"
    assert directory.update_contact(bea.id, person("Bea B.", "bea@acme.example", notes=" ")).notes == ""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("call\nback", "may not contain line breaks or control characters"),
        ("evil\u202etxt.exe", "may not contain line breaks or control characters"),
        ("x" * (NOTES_MAX + 1), f"Note is too long ({NOTES_MAX + 1} characters, at most {NOTES_MAX})"),
    ],
)
def test_a_note_has_the_rules_of_a_name(directory, acme, text, words):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes=text))
    assert caught.value.errors[0].field == "notes" and words in caught.value.errors[0].message
    with pytest.raises(ValidationError) as caught:
        directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes=text))
    assert caught.value.errors[0].field == "notes"
    assert directory.get_customer(acme.id).notes == "" and directory.list_contacts(acme.id) == []


def test_notes_and_language_are_in_the_history(directory, acme):
    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="VIP", language="NL"))
    bea = directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="part time"))
    directory.update_contact(bea.id, person("Bea", "bea@acme.example", notes="full time"))
    edited, added, customer = directory.history(acme.id)[:3]
    assert edited.describe() == 'notes "part time" -> "full time"'
    assert ("notes", None, "part time") in added.changes
    assert customer.describe() == 'notes "" -> "VIP"; language "en" -> "nl"'


def test_a_note_stays_with_the_customer_through_make_primary(directory, acme):
    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="VIP", language="nl"))
    eve = directory.add_contact(acme.id, ContactInput("Eve", "eve@acme.example", notes="the owner's daughter"))
    swapped = directory.make_primary(eve.id)
    assert (swapped.notes, swapped.language) == ("VIP", "nl")
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    directory.make_primary(owner.id)
    assert directory.get_contact(eve.id).notes == "the owner's daughter"


def test_the_relay_never_learns_a_note(directory, acme):
    directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="secret customer note"))
    directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", receive_all=True, notes="secret note"))
    resolution = directory.resolve(["owner@acme.example"], "billing")
    assert [a.email for a in resolution.additions] == ["bea@acme.example"]
    assert "secret" not in repr(resolution)
