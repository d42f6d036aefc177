"""The customers screen: listing, search as you type, sorting, paging, and
creating, editing and deactivating customers by keyboard."""

from __future__ import annotations

from contacts_tui.core.records import ContactInput
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customer_form import CustomerForm
from contacts_tui.ui.screens.customers import PAGE, CustomersScreen
from contacts_tui.ui.widgets.customer_table import CustomerTable

from .helpers import SIZE, contacts, customer, notifications, press, screen_text, seen, settle, type_text


def table(app) -> CustomerTable:
    return app.screen.query_one(CustomerTable)


def names(app) -> list[str]:
    return [record.name for record in table(app).records]


async def save_form(pilot, *fields: str) -> None:
    """Type each field of the open customer form (name, email, phone), tab between them, and save."""
    for position, text in enumerate(fields):
        if position:
            await press(pilot, "tab")
        if text:
            await type_text(pilot, text)
    await press(pilot, "ctrl+s")


async def test_an_empty_directory_says_how_to_start(app):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "No customers yet. Press a to add the first one." in text
        assert "a add" in text and "? help" in text


async def test_rows_show_name_email_contacts_of_limit_and_status(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [("Bea Books", "bea@acme.example"), ("Ivy", "ivy@acme.example")])
    quiet = customer(sqlite_directory, "Quiet Co", "finance@quiet.example")
    sqlite_directory.set_customer_active(quiet.id, False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "2 customers" in text
        acme_line = next(line for line in text.splitlines() if "Acme Ltd" in line)
        assert "billing@acme.example" in acme_line and "2 of 10" in acme_line and "active" in acme_line
        quiet_line = next(line for line in text.splitlines() if "Quiet Co" in line)
        assert "0 of 10" in quiet_line and "inactive" in quiet_line


async def test_search_as_you_type_over_name_customer_email_and_contact_email(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [("Bea Books", "bea@ledger.example")])
    customer(sqlite_directory, "Bakery", "orders@bakery.example")
    customer(sqlite_directory, "Nordlicht", "faktura@nordlicht.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "bakery")
        assert names(app) == ["Bakery"]
        assert "1 of 3 customers matches" in screen_text(app)
        app.screen.query_one("#search").value = ""
        await settle(pilot)
        await type_text(pilot, "faktura@")
        assert names(app) == ["Nordlicht"]
        app.screen.query_one("#search").value = ""
        await settle(pilot)
        await type_text(pilot, "ledger")
        assert names(app) == ["Acme Ltd"]
        await type_text(pilot, "x")
        assert names(app) == []
        assert "No customer matches" in screen_text(app)
        assert "escape clears the search" in screen_text(app)
        # escape clears the search and stays in the box; a second one goes to the table
        await press(pilot, "escape")
        assert app.screen.query_one("#search").value == ""
        assert app.screen.query_one("#search").has_focus
        assert names(app) == ["Acme Ltd", "Bakery", "Nordlicht"]
        assert "3 customers" in screen_text(app)
        await press(pilot, "escape")
        assert table(app).has_focus


async def test_enter_in_search_goes_to_the_results_and_enter_opens(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    customer(sqlite_directory, "Bakery", "orders@bakery.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "bak")
        await press(pilot, "enter")
        assert table(app).has_focus
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen)
        assert "orders@bakery.example" in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomersScreen)


async def test_sort_by_each_column_and_reverse(app, sqlite_directory):
    many = customer(sqlite_directory, "Zeta", "a@zeta.example")
    contacts(sqlite_directory, many.id, [("One", "one@zeta.example"), ("Two", "two@zeta.example")])
    customer(sqlite_directory, "Alpha", "z@alpha.example")
    mid = customer(sqlite_directory, "Mid", "m@mid.example")
    contacts(sqlite_directory, mid.id, [("One", "one@mid.example")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert names(app) == ["Alpha", "Mid", "Zeta"]
        assert "Name ▲" in screen_text(app)
        await press(pilot, "r")
        assert names(app) == ["Zeta", "Mid", "Alpha"]
        assert "Name ▼" in screen_text(app)
        await press(pilot, "o")  # email
        assert names(app) == ["Zeta", "Mid", "Alpha"]
        assert "Primary email ▲" in screen_text(app)
        await press(pilot, "o")  # contacts, most first
        assert names(app) == ["Zeta", "Mid", "Alpha"]
        assert "Contacts ▼" in screen_text(app)
        await press(pilot, "r")
        assert names(app) == ["Alpha", "Mid", "Zeta"]


async def test_the_table_holds_one_page_and_pages_through_everything(app, sqlite_directory):
    total = 2 * PAGE + 37
    for number in range(total):
        customer(sqlite_directory, f"Customer {number:04d}", f"c{number:04d}@example.com")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(table(app).records) == PAGE
        assert f"{total} customers" in screen_text(app)
        await press(pilot, "end")
        assert table(app).current().name == f"Customer {total - 1:04d}"
        assert len(table(app).records) <= PAGE
        assert f"Customer {total - 1:04d}" in screen_text(app)
        await press(pilot, "home")
        assert table(app).current().name == "Customer 0000"
        # Walk down across the first page's end: the next page comes in.
        table(app).move_cursor(row=PAGE - 1)
        await settle(pilot)
        await press(pilot, "down")
        assert table(app).current().name == f"Customer {PAGE:04d}"
        assert table(app).page_offset > 0
        await press(pilot, "up", "up")
        assert table(app).current().name == f"Customer {PAGE - 2:04d}"
        await press(
            pilot,
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
            "pagedown",
        )
        assert table(app).current().name == f"Customer {total - 1:04d}"
        await press(pilot, "pageup")
        assert table(app).index < total - 1
        assert len(table(app).records) <= PAGE


async def test_add_a_customer(app, sqlite_directory):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        assert isinstance(app.screen, CustomerForm)
        await save_form(pilot, "Harbour Logistics", "Facturen@Harbour.example", "+31 20 555 0199")
        assert isinstance(app.screen, CustomersScreen)
        saved = sqlite_directory.find_customer("facturen@harbour.example")
        assert saved is not None and saved.name == "Harbour Logistics" and saved.phone == "+31 20 555 0199"
        assert "Harbour Logistics" in screen_text(app)
        assert table(app).current().id == saved.id


async def test_a_customer_added_during_a_search_shows_anyway(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "acme")
        await press(pilot, "enter", "a")
        await save_form(pilot, "New Co", "office@new.example")
        assert isinstance(app.screen, CustomersScreen)
        assert "New Co does not match the search 'acme', so it is cleared." in notifications(app)
        assert app.screen.query_one("#search").value == ""
        assert names(app) == ["Acme Ltd", "New Co"]
        assert table(app).current().name == "New Co"
        assert "2 customers" in screen_text(app)
        # One that matches keeps the search.
        await press(pilot, "slash")
        await type_text(pilot, "co")
        await press(pilot, "enter", "a")
        await save_form(pilot, "Second Co", "office@second.example")
        assert app.screen.query_one("#search").value == "co"
        assert names(app) == ["New Co", "Second Co"]
        assert table(app).current().name == "Second Co"


async def test_customer_form_errors_show_inline_and_keep_what_was_typed(app, sqlite_directory):
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a")
        await save_form(pilot, "", "not an address", "call me")
        form = app.screen
        assert isinstance(form, CustomerForm)
        text = screen_text(app)
        assert "Name is required" in text
        assert "is not a valid email address" in text
        assert "is not a phone number" in text
        assert form.query_one("#email").value == "not an address"
        assert form.query_one("#phone").value == "call me"
        assert form.query_one("#name").has_focus
        # The primary email is unique across customers, in any case.
        await type_text(pilot, "Copycat")
        form.query_one("#email").value = "BILLING@acme.example"
        form.query_one("#phone").value = ""
        await press(pilot, "ctrl+s")
        assert "already the primary email of customer 'Acme Ltd'" in seen(app)
        assert sqlite_directory.search_customers("").total == 1


async def test_edit_a_customer(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "e")
        form = app.screen
        assert form.query_one("#name").value == "Acme Ltd"
        form.query_one("#name").value = "Acme Trading Ltd"
        await press(pilot, "ctrl+s")
        assert sqlite_directory.get_customer(acme.id).name == "Acme Trading Ltd"
        assert "Acme Trading Ltd" in screen_text(app)


async def test_deactivate_asks_first_and_d_again_activates(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "d deactivate" in screen_text(app)
        await press(pilot, "d")
        assert "Deactivate Acme Ltd?" in screen_text(app)
        await press(pilot, "n")
        assert sqlite_directory.get_customer(acme.id).active
        await press(pilot, "d", "y")
        assert not sqlite_directory.get_customer(acme.id).active
        assert "inactive" in screen_text(app)
        assert "d activate" in screen_text(app)
        await press(pilot, "d")
        assert sqlite_directory.get_customer(acme.id).active
        assert any("active again" in message for message in notifications(app))


async def test_changes_made_on_the_customer_screen_show_when_going_back(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        sqlite_directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example"))
        await press(pilot, "escape")
        assert "1 of 10" in screen_text(app)


async def test_what_the_app_made_at_start_is_kept_out_of_full_collections_while_it_runs(app):
    import gc

    before = gc.get_freeze_count()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > before
    # Gone with the app: collectable again, so a process that runs many apps does not keep them.
    assert gc.get_freeze_count() == 0
