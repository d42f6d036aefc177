"""End to end in a real terminal: `contacts-tui --db URL` in tmux at 80x24
with TERM=xterm (16 colours), a contact person added by keys alone, then read
back from the database through the directory."""

from __future__ import annotations

import pytest

from contacts_tui.core.records import CustomerInput

from .helpers import Terminal, needs_tmux, program

pytestmark = [pytest.mark.slow, needs_tmux]


def test_add_a_contact_person_by_keys_in_tmux(sqlite_directory, sqlite_url):
    acme = sqlite_directory.create_customer(CustomerInput("Acme Ltd", "billing@acme.example"))
    terminal = Terminal([*program(), "--db", sqlite_url], {"TERM": "xterm", "LANG": "C.UTF-8"})
    try:
        terminal.wait_for("Acme Ltd")
        terminal.wait_for("1 customer")
        terminal.keys("Enter")
        terminal.wait_for("0 of 10 contacts")
        terminal.keys("a")
        terminal.wait_for("New contact person at Acme Ltd")
        terminal.keys("Tab", "Tab", "Tab", "Tab", "Tab", "Space")  # past the fields, role and receive-all: billing on
        terminal.wait_for("on  Invoices")
        terminal.keys("BTab", "BTab", "BTab", "BTab", "BTab")  # back to the name
        terminal.type("Bea Books")
        terminal.keys("Tab")
        terminal.type("bea@acme.example")
        terminal.keys("Tab")
        # ctrl+s right behind the typing, as a paste or a slow link delivers it:
        # the save must see every character.
        terminal.type("+44 161 555 0123")
        terminal.keys("C-s")
        screen = terminal.wait_for("1 of 10 contacts")
        assert "Bea Books" in screen
        terminal.quit()
    finally:
        terminal.close()
    (bea,) = sqlite_directory.list_contacts(acme.id)
    assert (bea.name, bea.email, bea.phone, bea.role) == (
        "Bea Books",
        "bea@acme.example",
        "+44 161 555 0123",
        "General",
    )
    assert bea.categories == ("billing",) and not bea.receive_all
