"""Help, the command palette and the footer tell the same keys, per screen."""

from __future__ import annotations

from textual.command import CommandPalette

from contacts_tui.ui.commands import screen_commands
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customer_form import CustomerForm
from contacts_tui.ui.screens.help import HelpScreen

from .helpers import SIZE, contacts, customer, notifications, press, screen_text, seen, settle, table_rows, type_text


async def test_help_lists_every_key_of_the_customers_screen(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        text = table_rows(app.screen)
        for key, words in [
            ("/", "Search customers"),
            ("a", "Add a customer"),
            ("e", "Edit the highlighted customer"),
            ("d", "Deactivate the highlighted customer"),
            ("o", "Sort by the next column"),
            ("r", "Reverse the sort order"),
            ("⏎", "Open the highlighted customer"),
            ("enter", "In the search box: go to the table"),
            ("home end", "First or last customer"),
            ("ctrl+p", "Command palette"),
            ("ctrl+q", "Quit"),
            ("?", "This help"),
            ("escape", "Back"),
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
            ("e", "Edit the highlighted contact person"),
            ("d", "Delete the highlighted contact person"),
            ("p", "Make the highlighted contact person the primary email"),
            ("i", "Show deleted contact persons too"),
            ("1", "Switch Billing on or off"),
            ("2", "Switch Account on or off"),
            ("0", "Switch 'receive all'"),
            ("c", "Edit this customer's name"),
            ("esc", "Back to the customers"),
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
        for key, words in [
            ("^s", "Save and go back"),
            ("esc", "Go back without saving"),
            ("tab", "Next field"),
            ("shift+tab", "Previous field"),
        ]:
            assert f"{key} {words}" in text, key


async def test_every_action_is_in_the_command_palette(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in screen_commands(app.screen)]
        titles += [command.title for command in app.get_system_commands(app.screen)]
        for title in [
            "Open the highlighted customer",
            "Search customers and contact persons",
            "Add a customer",
            "Edit the highlighted customer",
            "Deactivate the highlighted customer",
            "Sort by the next column",
            "Reverse the sort order",
            "Help",
            "Quit",
        ]:
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
        (add,) = [c for c in screen_commands(app.screen) if c.title == "Add a contact person"]
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


async def test_the_palette_finds_every_action_by_the_words_people_type(app, sqlite_directory):
    """ctrl+p then undelete found nothing, restore only while a deleted row was highlighted."""
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        for typed, title, help_text in [
            ("undelete", "Restore the highlighted deleted contact person", "Not now: Bea is not deleted."),
            ("restore", "Restore the highlighted deleted contact person", "Not now: Bea is not deleted."),
            ("remove", "Delete the highlighted contact person (mail stops)", "Key: d"),
            ("promote", "Make the highlighted contact person the primary email", "Key: p"),
        ]:
            await press(pilot, "ctrl+p")
            await type_text(pilot, typed)
            palette = app.screen
            assert isinstance(palette, CommandPalette)
            shown = " ".join(seen(app).split())
            assert title in shown and help_text in shown, typed
            await press(pilot, "escape")
        # The unavailable one says why when chosen.
        await press(pilot, "ctrl+p")
        await type_text(pilot, "undelete")
        await press(pilot, "enter")
        assert "Bea is not deleted." in notifications(app)


async def test_j_and_k_move_in_lists_and_q_closes_where_nothing_is_typed(app, sqlite_directory):
    for name in ("Alpha", "Beta", "Gamma"):
        customer(sqlite_directory, name, f"{name.lower()}@example.com")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#customers")
        await press(pilot, "j", "j")
        assert table.current().name == "Gamma"
        await press(pilot, "k")
        assert table.current().name == "Beta"
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen)
        await press(pilot, "q")
        assert not isinstance(app.screen, CustomerScreen)
        # In the search box q is a letter.
        await press(pilot, "slash", "q")
        assert app.screen.query_one("#search").value == "q" and app.return_code is None
        # In a form q is not a way out, whatever has the focus.
        await press(pilot, "escape", "escape", "a", "tab", "tab", "tab", "tab", "tab")  # to the save button
        form = app.screen
        assert isinstance(form, CustomerForm)
        await press(pilot, "q")
        assert app.screen is form
        await press(pilot, "escape", "m", "q")
        assert not isinstance(app.screen, CustomerForm) and app.return_code is None
        # On the first screen q quits, as it does in less or lazygit.
        await press(pilot, "q")
        assert app.return_code == 0


async def test_the_header_names_the_database(app, sqlite_directory, sqlite_url, pg_url):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Contact Persons · contacts.db — Customers" in screen_text(app).splitlines()[0]
    from contacts_tui.core.options import Options, open_directory
    from contacts_tui.ui.app import make_app

    directory = open_directory(Options(pg_url))
    try:
        async with make_app(directory, cursor_blink=False).run_test(size=SIZE) as pilot:
            await settle(pilot)
            host = pg_url.split("@", 1)[1].split("?")[0]
            assert f"Contact Persons · {host}" in screen_text(pilot.app).splitlines()[0]
    finally:
        directory.database.close_all()
