"""Help, the command palette and the footer tell the same keys, per screen."""

from __future__ import annotations

from textual.command import CommandPalette

from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customer_form import CustomerForm
from contacts_tui.ui.screens.help import HelpScreen

from .helpers import SIZE, contacts, customer, notifications, press, screen_text, settle, table_rows, type_text


async def test_help_lists_every_key_of_the_customers_screen(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        text = table_rows(app.screen)
        for key, words in [
            ("/", "Search customers"), ("a", "Add a customer"), ("e", "Edit the highlighted customer"),
            ("d", "Deactivate the highlighted customer"), ("o", "Sort by the next column"),
            ("r", "Reverse the sort order"), ("⏎", "Open the highlighted customer"),
            ("enter", "In the search box: go to the table"),
            ("home end", "First or last customer"), ("ctrl+p", "Command palette"), ("ctrl+q", "Quit"),
            ("?", "This help"), ("escape", "Back"),
        ]:
            assert f"{key} {words}" in text, key
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_help_of_the_customer_screen_names_the_category_keys(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [(f"P{n}", f"p{n}@acme.example") for n in range(10)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "question_mark")
        text = table_rows(app.screen)
        for key, words in [
            ("a", "Add a contact person (not now: Acme Ltd already has 10 of 10"),
            ("e", "Edit the highlighted contact person"), ("d", "Delete the highlighted contact person"),
            ("p", "Make the highlighted contact person the primary email"),
            ("i", "Show deleted contact persons too"),
            ("1", "Switch Billing on or off"), ("2", "Switch Account on or off"),
            ("0", "Switch 'receive all'"), ("c", "Edit this customer's name"), ("esc", "Back to the customers"),
        ]:
            assert f"{key} {words}" in text, key
        assert "3 Switch" not in text


async def test_help_in_a_form_lists_the_form_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        assert isinstance(app.screen, CustomerForm)
        # In a text field ? is a character; F1 opens the help.
        await type_text(pilot, "?")
        assert app.screen.query_one("#name").value == "?"
        await press(pilot, "f1")
        text = table_rows(app.screen)
        for key, words in [("^s", "Save and go back"), ("esc", "Go back without saving"), ("tab", "Next field"),
                           ("shift+tab", "Previous field")]:
            assert f"{key} {words}" in text, key


async def test_every_action_is_in_the_command_palette(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ["Open the highlighted customer", "Search customers and contact persons", "Add a customer",
                      "Edit the highlighted customer",
                      "Deactivate the highlighted customer", "Sort by the next column", "Reverse the sort order",
                      "Help", "Quit"]:
            assert title in titles
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "add a customer")
        await press(pilot, "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerForm)
        await press(pilot, "escape", "ctrl+p")
        await type_text(pilot, "open")
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer.name == "Acme Ltd"


async def test_an_unavailable_action_in_the_palette_says_why(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [(f"P{n}", f"p{n}@acme.example") for n in range(10)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        (add,) = [c for c in app.get_system_commands(app.screen) if c.title == "Add a contact person"]
        assert add.help.startswith("Not now: Acme Ltd already has 10 of 10 contact persons")
        add.callback()
        await settle(pilot)
        assert any("10 of 10" in message for message in notifications(app))


async def test_the_footer_shows_the_keys_that_apply_now(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    (bea,) = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    sqlite_directory.delete_contact(bea.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer == "⏎ open / search a add e edit d deactivate o sort l log m mail ? help"
        # A search adds "esc clear", and the footer still fits in 80 columns.
        app.screen.query_one("#search").value = "acme"
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert footer == "⏎ open / search a add e edit d deactivate o sort l log m mail esc clear ? help"
        await press(pilot, "enter")
        footer = screen_text(app).splitlines()[-1]
        assert footer == "a add e edit d delete p primary i deleted s sample m mail esc back ? help"
        await press(pilot, "i")
        # The deleted one highlighted: u instead of d, and i says it hides them again.
        footer = screen_text(app).splitlines()[-1]
        assert footer == "a add e edit u undelete p primary i hide deleted s sample m mail esc back ? help"
        await press(pilot, "i")
        assert screen_text(app).splitlines()[-1].count("i deleted") == 1


async def test_ctrl_q_quits_even_from_a_form(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "a")
        await type_text(pilot, "half typed")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code == 0
