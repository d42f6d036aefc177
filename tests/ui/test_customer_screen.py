"""The customer screen: contact persons added, edited, deleted, restored,
made primary and opted in by keyboard, and the limit."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput
from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.contact_form import ContactForm
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.widgets.contact_table import ContactTable

from .helpers import SIZE, burst, contacts, customer, notifications, press, screen_text, seen, settle, type_text


@pytest.fixture
def acme(sqlite_directory: Directory):
    return customer(sqlite_directory, "Acme Ltd", "billing@acme.example", "+44 20 7946 0001")


async def open_customer(pilot, name: str = "Acme Ltd") -> CustomerScreen:
    await settle(pilot)
    app = pilot.app
    search = app.screen.query_one("#search")
    search.value = name
    await settle(pilot)
    await press(pilot, "enter")
    assert isinstance(app.screen, CustomerScreen)
    return app.screen


def rows(app) -> list[str]:
    return [record.name for record in app.screen.query_one(ContactTable).records]


def highlight(app, name: str) -> None:
    table = app.screen.query_one(ContactTable)
    table.move_cursor(row=[r.name for r in table.records].index(name))


async def test_details_count_and_the_contacts_table(app, sqlite_directory, acme):
    contacts(sqlite_directory, acme.id, [("Bea Books", "bea@acme.example")], categories=("billing",))
    contacts(sqlite_directory, acme.id, [("Max Manager", "max@acme.example")], receive_all=True, role="Management")
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        text = screen_text(app)
        assert "billing@acme.example · +44 20 7946 0001 · active" in text
        assert "2 of 10 contacts" in text
        bea = next(line for line in text.splitlines() if "Bea Books" in line and "billing" in line)
        assert "bea@acme.example" in bea and "General" in bea
        assert "Status" not in text  # every one is active: the column would only repeat it
        max_line = next(line for line in text.splitlines() if "Max Manager" in line and "Management" in line)
        assert max_line.rstrip().endswith(" all")
        # The highlighted person in full, with the category keys.
        assert "Bea Books · General · bea@acme.example" in text
        assert "[1] Billing on  [2] Account off  [0] All off" in text


async def test_add_a_contact_person_by_keyboard(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        assert "No contact persons yet. Press a to add the first one." in screen_text(app)
        await press(pilot, "a")
        assert isinstance(app.screen, ContactForm)
        await type_text(pilot, "Bea Books")
        await press(pilot, "tab")
        await type_text(pilot, "bea@acme.example")
        await press(pilot, "tab")
        await type_text(pilot, "+44 161 555 0123")
        await press(pilot, "tab", "enter", "down", "down", "enter")  # role: Bookkeeping
        await press(pilot, "tab", "tab", "space")  # receive all stays off, billing on
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, CustomerScreen)
        (saved,) = sqlite_directory.list_contacts(acme.id)
        assert (saved.name, saved.email, saved.phone, saved.role) == (
            "Bea Books",
            "bea@acme.example",
            "+44 161 555 0123",
            "Bookkeeping",
        )
        assert saved.categories == ("billing",) and not saved.receive_all
        assert "1 of 10 contacts" in screen_text(app)
        assert "Saved Bea Books." in notifications(app)


@pytest.mark.parametrize(
    ("name", "email", "phone", "field", "message"),
    [
        ("Bea", "bea at acme", "", "email", "is not a valid email address"),
        ("", "bea@acme.example", "", "name", "Name is required"),
        ("Bea\x1b[31m", "bea@acme.example", "", "name", "Name may not contain line breaks or control characters"),
        ("Bea", "bea@acme.example\r\nBcc: x@evil.example", "", "email", "Email may not contain line breaks"),
        ("Bea", "bea@acme.example", "call me", "phone", "is not a phone number"),
        ("Bea", "OLD@Acme.Example", "", "email", "is already a contact person of this customer (as old@acme.example)"),
        ("Bea", "Billing@ACME.example", "", "email", "is this customer's primary email"),
        ("B" * 201, "bea@acme.example", "", "name", "Name is too long (201 characters, at most 200)"),
    ],
)
async def test_each_rule_shows_next_to_its_field_and_keeps_the_input(
    app, sqlite_directory, acme, name, email, phone, field, message
):
    contacts(sqlite_directory, acme.id, [("Old", "old@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "a")
        form = app.screen
        form.query_one("#name").value = name
        form.query_one("#email").value = email
        form.query_one("#phone").value = phone
        await press(pilot, "ctrl+s")
        assert app.screen is form, "a failed save stays in the form"
        error = str(form.query_one(f"#{field}-error").render())
        assert message in error
        assert message in seen(app)
        assert form.query_one(f"#{field}").has_focus
        assert (form.query_one("#name").value, form.query_one("#email").value, form.query_one("#phone").value) == (
            name,
            email,
            phone,
        )
        assert len(sqlite_directory.list_contacts(acme.id)) == 1
        # Typing in the field clears its error.
        form.query_one(f"#{field}").focus()
        await press(pilot, "end", "x")
        assert not form.query_one(f"#{field}-error").has_class("shown")


async def test_every_field_error_of_one_save_shows_at_once(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "a")
        form = app.screen
        form.query_one("#email").value = "bea at acme"
        form.query_one("#phone").value = "call me"
        await press(pilot, "ctrl+s")
        text = seen(app)
        assert "Name is required" in text
        assert "is not a valid email address" in text
        assert "is not a phone number" in text
        assert form.query_one("#name").has_focus, "the first field with an error has the cursor"


async def test_the_limit_disables_add_and_says_why(sqlite_directory, acme):
    app = make_app(Directory(sqlite_directory.database, sqlite_directory.catalog, max_contacts=3), cursor_blink=False)
    contacts(sqlite_directory, acme.id, [(f"P{n}", f"p{n}@acme.example") for n in range(3)])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        assert "3 of 3 contacts · the limit: delete one to add another" in screen_text(app)
        assert screen.check_action("add", ()) is None  # the footer dims it
        await press(pilot, "a")
        assert app.screen is screen
        assert "Acme Ltd already has 3 of 3 contact persons: delete one to add another." in notifications(app)
        # Deleting one frees a place.
        await press(pilot, "d", "y")
        assert screen.check_action("add", ()) is True
        await press(pilot, "a")
        assert isinstance(app.screen, ContactForm)


async def test_an_eleventh_contact_cannot_be_added(app, sqlite_directory, acme):
    contacts(sqlite_directory, acme.id, [(f"Person {n}", f"p{n}@acme.example") for n in range(10)])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        assert "10 of 10 contacts" in screen_text(app)
        assert screen.check_action("add", ()) is None
        await press(pilot, "a")
        assert app.screen is screen
        assert any("10 of 10 contact persons" in message for message in notifications(app))


async def test_edit_with_enter_keeps_the_rest(app, sqlite_directory, acme):
    (bea,) = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")], categories=("billing",))
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "enter")
        form = app.screen
        assert isinstance(form, ContactForm)
        assert form.query_one("#email").value == "bea@acme.example"
        assert form.query_one("#category-1").value is True
        form.query_one("#name").value = "Beatrice Books"
        await press(pilot, "ctrl+s")
        saved = sqlite_directory.get_contact(bea.id)
        assert saved.name == "Beatrice Books" and saved.categories == ("billing",)
        assert "Beatrice Books" in screen_text(app)


async def test_escape_asks_before_dropping_changes(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "a")
        await type_text(pilot, "Half typed")
        await press(pilot, "escape")
        assert "Discard your changes?" in screen_text(app)
        await press(pilot, "n")
        assert app.screen.query_one("#name").value == "Half typed"
        await press(pilot, "escape", "y")
        assert isinstance(app.screen, CustomerScreen)
        # Nothing typed: escape goes straight back.
        await press(pilot, "a", "escape")
        assert isinstance(app.screen, CustomerScreen)


async def test_delete_asks_then_show_inactive_and_undelete(app, sqlite_directory, acme):
    bea, ivy = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example"), ("Ivy", "ivy@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        assert "u undelete" not in screen_text(app)
        await press(pilot, "d")
        assert "Delete Bea?" in screen_text(app)
        await press(pilot, "n")
        assert sqlite_directory.get_contact(bea.id).active
        await press(pilot, "d", "y")
        assert not sqlite_directory.get_contact(bea.id).active
        assert rows(app) == ["Ivy"]
        assert "1 of 10 contacts" in screen_text(app)
        await press(pilot, "i")
        assert rows(app) == ["Ivy", "Bea"]
        assert "showing deleted ones too" in screen_text(app)
        highlight(app, "Bea")
        await settle(pilot)
        assert "deleted" in next(line for line in screen_text(app).splitlines() if line.startswith(" Bea "))
        assert "u undelete" in screen_text(app)
        assert screen.check_action("delete", ()) is False
        await press(pilot, "p")
        assert any("restore with u first" in message for message in notifications(app))
        await press(pilot, "u")
        assert sqlite_directory.get_contact(bea.id).active
        assert "2 of 10 contacts" in screen_text(app)
        await press(pilot, "i")
        assert rows(app) == ["Bea", "Ivy"]


async def test_home_and_end_go_to_the_first_and_last_contact_person(app, sqlite_directory, acme):
    contacts(
        sqlite_directory, acme.id, [("Al", "al@acme.example"), ("Bo", "bo@acme.example"), ("Cy", "cy@acme.example")]
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "end", "d")
        assert "Delete Cy?" in screen_text(app)
        await press(pilot, "n", "home", "d")
        assert "Delete Al?" in screen_text(app)


async def test_u_on_an_active_and_d_on_a_deleted_contact_say_why_not(app, sqlite_directory, acme):
    bea, ivy = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example"), ("Ivy", "ivy@acme.example")])
    sqlite_directory.delete_contact(ivy.id)
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "u")
        assert "Bea is not deleted." in notifications(app)
        await press(pilot, "i", "end", "d")
        assert "Ivy is deleted already; u restores." in notifications(app)
        assert sqlite_directory.get_contact(bea.id).active and not sqlite_directory.get_contact(ivy.id).active
        # Number keys beyond the catalog are no keys at all.
        await press(pilot, "5")
        assert len(notifications(app)) == 2


async def test_a_deleted_contact_is_read_only_until_restored(app, sqlite_directory, acme):
    (ivy,) = contacts(sqlite_directory, acme.id, [("Ivy", "ivy@acme.example")])
    sqlite_directory.delete_contact(ivy.id)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        await press(pilot, "i", "e")
        assert app.screen is screen and notifications(app) == ["Ivy is deleted; restore with u first."]
        await press(pilot, "enter")
        assert app.screen is screen and len(notifications(app)) == 2
        await press(pilot, "u", "e")
        assert isinstance(app.screen, ContactForm)


async def test_make_primary_asks_then_swaps(app, sqlite_directory, acme):
    (bea,) = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "p")
        assert "Make bea@acme.example the primary email of Acme Ltd?" in seen(app)
        await press(pilot, "escape")
        assert sqlite_directory.get_customer(acme.id).email == "billing@acme.example"
        await press(pilot, "p", "y")
        assert sqlite_directory.get_customer(acme.id).email == "bea@acme.example"
        text = screen_text(app)
        assert "bea@acme.example · +44 20 7946 0001" in text
        assert "billing@acme.example" in text  # the old primary is a contact person now


async def test_make_primary_and_back_gives_the_person_only_what_she_had(app, sqlite_directory, acme):
    fenna = sqlite_directory.add_contact(acme.id, ContactInput("Fenna", "fenna@acme.example", categories=("billing",)))
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "p", "y")
        assert sqlite_directory.get_customer(acme.id).email == "fenna@acme.example"
        # The only row now: the old primary, which p and y make the primary again.
        await press(pilot, "home", "p", "y")
        assert sqlite_directory.get_customer(acme.id).email == "billing@acme.example"
        await settle(pilot)
        assert "[1] Billing on  [2] Account off  [0] All off" in screen_text(app)
    back = sqlite_directory.get_contact(fenna.id)
    assert (back.receive_all, back.categories) == (False, ("billing",))


async def test_number_keys_toggle_categories_and_zero_receive_all(app, sqlite_directory, acme):
    (bea,) = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        # The keys are named next to each category's state, not in the full footer.
        assert "[1] Billing off  [2] Account off  [0] All off" in screen_text(app)
        await press(pilot, "1")
        assert sqlite_directory.get_contact(bea.id).categories == ("billing",)
        # The answer is on that line, where the eyes are; no toast covers the rows.
        assert "[1] Billing on ✓  [2] Account off  [0] All off" in screen_text(app)
        assert notifications(app) == []
        await press(pilot, "2")
        assert "[1] Billing on  [2] Account on ✓" in screen_text(app)
        assert sqlite_directory.get_contact(bea.id).categories == ("billing", "account")
        await press(pilot, "1")
        assert sqlite_directory.get_contact(bea.id).categories == ("account",)
        await press(pilot, "0")
        assert sqlite_directory.get_contact(bea.id).receive_all
        assert (
            next(line for line in screen_text(app).splitlines() if line.startswith(" Bea ")).rstrip().endswith(" all")
        )
        assert "[0] All on ✓" in screen_text(app) and notifications(app) == []
        # The mark goes after a moment; the state stays.
        screen._clear_mark()
        await settle(pilot)
        assert "[0] All on" in screen_text(app) and "✓" not in screen_text(app)
        # The default catalog has two categories: 3 does nothing.
        assert screen.check_action("toggle_category", (3,)) is False
        await press(pilot, "3")
        assert sqlite_directory.get_contact(bea.id).categories == ("account",)


async def test_other_customers_of_a_person_and_applying_edits_everywhere(app, sqlite_directory, acme):
    bakery = customer(sqlite_directory, "Bakery", "orders@bakery.example")
    (at_acme,) = contacts(sqlite_directory, acme.id, [("Ledger & Co", "clients@ledger.example")])
    (at_bakery,) = contacts(sqlite_directory, bakery.id, [("Ledger & Co", "clients@ledger.example")])
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        assert "Also a contact person at: Bakery" in screen_text(app)
        await press(pilot, "e")
        form = app.screen
        assert "clients@ledger.example is also a contact person at: Bakery" in seen(app)
        form.query_one("#name").value = "Ledger and Co Bookkeeping"
        form.query_one("#phone").value = "+44 1 555"
        form.query_one("#apply_all").focus()  # as tab gets there, scrolling the form
        await settle(pilot)
        assert "Copy there off Copy name and phone to that record too" in seen(app)
        await press(pilot, "space")
        assert form.query_one("#apply_all").value is True
        await press(pilot, "ctrl+s")
        assert sqlite_directory.get_contact(at_bakery.id).name == "Ledger and Co Bookkeeping"
        assert sqlite_directory.get_contact(at_bakery.id).phone == "+44 1 555"
        # The answer says the copy at the other customer changed too.
        assert "Saved Ledger and Co Bookkeeping, and the name and phone at Bakery too." in notifications(app)
        # Without the box, only this record changes.
        await press(pilot, "e")
        app.screen.query_one("#name").value = "Only at Acme"
        await press(pilot, "ctrl+s")
        assert sqlite_directory.get_contact(at_acme.id).name == "Only at Acme"
        assert sqlite_directory.get_contact(at_bakery.id).name == "Ledger and Co Bookkeeping"


async def test_edit_the_customer_from_its_screen(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "c")
        app.screen.query_one("#phone").value = "+44 1"
        await press(pilot, "ctrl+s")
        assert sqlite_directory.get_customer(acme.id).phone == "+44 1"
        assert "billing@acme.example · +44 1 · active" in screen_text(app)


async def test_a_customer_that_is_gone_says_so_and_escape_still_goes_back(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await app.push_screen(CustomerScreen(acme.id + 1000))
        await settle(pilot)
        assert f"Could not load this customer: customer {acme.id + 1000} does not exist." in seen(app)
        await press(pilot, "a")
        assert any("not loaded" in message for message in notifications(app))
        await press(pilot, "escape")
        assert not isinstance(app.screen, CustomerScreen)


async def test_ctrl_s_right_behind_the_typing_saves_all_of_it(app, sqlite_directory, acme):
    # A paste, tmux or a slow SSH link delivers the keys in one burst: the
    # save must still see every key typed before ctrl+s.
    name = "Solo Trading Company Limited 5"
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "c", "ctrl+u")
        await burst(pilot, *name, "ctrl+s")
        assert sqlite_directory.get_customer(acme.id).name == name
        assert isinstance(app.screen, CustomerScreen)
        assert name in screen_text(app)


async def test_opt_ins_an_earlier_catalog_left_show_as_kept(app, sqlite_directory, acme):
    from contacts_tui.core.catalog import load_preset
    from contacts_tui.core.directory import settings

    contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")], categories=("billing", "account"))
    settings.change_catalog(sqlite_directory.database, "herotill", load_preset("herotill"))
    sqlite_directory.refresh_settings()
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        # Five switches and the kept opt-in take two lines at 80 columns rather than lose their end.
        assert (
            "[1] Billing on [2] Helpdesk off [3] Usage off [4] Outages off [5] General off [0] All off (kept: account)"
        ) in seen(app)
        await press(pilot, "2")
        assert sqlite_directory.list_contacts(acme.id)[0].kept == ("account",)
