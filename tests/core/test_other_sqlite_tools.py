"""Another SQLite tool on the database file (the sqlite3 shell, a script):
what customer search finds is made by this program from names, addresses
and notes, so such a tool may not change them (it would leave search
finding the old text); everything else it may. README: "Configuration"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput, CustomerInput

REFUSED = "no such function: contacts_tui_required"


@pytest.fixture
def shop(tmp_path: Path):
    path = tmp_path / "contacts.db"
    database = open_database(f"sqlite:///{path}")
    directory = Directory(database)
    acme = directory.create_customer(CustomerInput("Quux Holding", "owner@acme.example", notes="call before 10"))
    bea = directory.add_contact(acme.id, ContactInput("Bea Bookman", "bea@acme.example", notes="part time"))
    yield path, directory, acme, bea
    database.close()


def other_tool(path: Path, statement: str) -> None:
    """``statement`` as a tool that is not this program runs it: its own connection, none of our functions."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(statement)
    finally:
        connection.close()


def found(directory: Directory, text: str) -> list[str]:
    return [c.name for c in directory.search_customers(text).rows]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE customer SET name = 'Zzyzx Holding'",
        "UPDATE customer SET email = 'zzyzx@acme.example', email_key = 'zzyzx@acme.example'",
        "UPDATE customer SET notes = 'zzyzx'",
        "UPDATE contact_person SET name = 'Zzyzx'",
        "UPDATE contact_person SET notes = 'zzyzx'",
        "UPDATE contact_person SET deleted_at = '2026-12-01 00:00:00'",
        "INSERT INTO contact_person (customer_id, name, email, email_key, phone, role, receive_all, created_at, "
        "updated_at) VALUES (1, 'Zzyzx', 'z@acme.example', 'z@acme.example', '', 'General', 0, '2026-12-01', "
        "'2026-12-01')",
        "DELETE FROM contact_person",
        "INSERT INTO customer (name, name_key, email, email_key, phone, active, contact_count, search_text, "
        "created_at, updated_at) VALUES ('Zzyzx', 'zzyzx', 'z@z.example', 'z@z.example', '', 1, 0, 'zzyzx', "
        "'2026-12-01', '2026-12-01')",
        "DELETE FROM customer",
    ],
)
def test_a_change_to_what_search_finds_is_refused_and_changes_nothing(shop, statement: str) -> None:
    path, directory, acme, bea = shop
    with pytest.raises(sqlite3.OperationalError, match=REFUSED):
        other_tool(path, statement)
    assert found(directory, "zzyzx") == []
    assert found(directory, "quux holding") == ["Quux Holding"]
    assert directory.get_contact(bea.id).name == "Bea Bookman" and directory.get_contact(bea.id).active
    assert directory.counts() == (1, 1)


def test_a_rename_through_this_program_is_found_by_its_new_name_only(shop) -> None:
    _, directory, acme, _ = shop
    directory.update_customer(acme.id, CustomerInput("Zzyzx Holding", acme.email))
    assert found(directory, "zzyzx") == ["Zzyzx Holding"]
    assert found(directory, "quux holding") == []


def test_other_columns_are_the_other_tools_to_change(shop) -> None:
    path, directory, acme, bea = shop
    other_tool(path, "UPDATE customer SET phone = '+31 20 1', active = 0, updated_at = updated_at")
    other_tool(path, "UPDATE contact_person SET phone = '+31 6 2', role = 'Billing', receive_all = 1")
    assert directory.get_customer(acme.id).phone == "+31 20 1"
    contact = directory.get_contact(bea.id)
    assert (contact.phone, contact.role, contact.receive_all) == ("+31 6 2", "Billing", True)
