"""Keys that arrive in a burst (a paste over SSH, tmux send-keys of a whole
string, a fast typist) are handled as if typed one at a time: none is lost,
none reaches the screen that was there before the one a key opened.

Textual hands each key to the focused widget as it arrives, while a key
bound on the screen takes effect only after coming back up from there: in
"a" followed at once by "Bea", the e opened the edit form of the old screen.
The app holds the keys behind such a key until it has been handled
(ui/typeahead.py). In Pilot the keys are posted all at once; in tmux they
come as one write to the terminal.
"""

from __future__ import annotations

import pytest

from contacts_tui.ui.screens.customer import CustomerScreen

from .helpers import SIZE, Terminal, burst, customer, needs_tmux, program, screen_text, settle

PEOPLE = [(f"Person {n}", f"p{n}@acme.example", f"+31 6 2222 {n}{n}{n}") for n in range(1, 6)]


async def test_a_burst_that_opens_a_form_and_fills_it_loses_no_key(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, "enter")
        for name, email, phone in PEOPLE:
            # "a" opens the form; everything behind it was sent before the form existed.
            await burst(pilot, "a", *name, "tab", *email, "tab", *phone, "ctrl+s")
            assert isinstance(app.screen, CustomerScreen), screen_text(app)
        saved = [(c.name, c.email, c.phone) for c in sqlite_directory.list_contacts(acme.id)]
        assert saved == PEOPLE


async def test_a_burst_across_screens_lands_where_it_was_meant(app, sqlite_directory):
    customer(sqlite_directory, "Zeta Ltd", "zeta@example.com")
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Search, go to the table, open the customer, add, type, save: one burst.
        await burst(pilot, "slash", *"zeta", "enter", "enter", "a", *"Bea", "tab", *"bea@zeta.example", "ctrl+s")
        zeta = sqlite_directory.find_customer("zeta@example.com")
        assert [c.email for c in sqlite_directory.list_contacts(zeta.id)] == ["bea@zeta.example"]
        assert sqlite_directory.list_contacts(acme.id) == []


@pytest.mark.slow
@needs_tmux
@pytest.mark.parametrize("paste", [False, True], ids=["send-keys", "bracketed-paste"])
def test_a_whole_string_sent_at_once_in_a_real_terminal_loses_no_character(sqlite_directory, sqlite_url, paste):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    for size in ((80, 24), (60, 20)):
        terminal = Terminal([*program(), "--db", sqlite_url], {"TERM": "xterm", "LANG": "C.UTF-8"}, size=size)
        try:
            terminal.wait_for("1 customer")
            terminal.keys("Enter")
            terminal.wait_for("of 10 contacts")
            for name, email, phone in PEOPLE:
                email = f"{size[0]}.{email}"
                # The form is asked for and filled in one go, as a paste or tmux delivers it.
                terminal.keys("a", name, "Tab", email, "Tab")
                if paste:
                    terminal.paste(phone)
                else:
                    terminal.type(phone)
                terminal.keys("C-s")
                terminal.wait_for(email.split("@")[0])
            terminal.quit()
        finally:
            terminal.close()
    phones = {c.email: c.phone for c in sqlite_directory.list_contacts(acme.id)}
    for size in (80, 60):
        for _, email, phone in PEOPLE:
            assert phones[f"{size}.{email}"] == phone
