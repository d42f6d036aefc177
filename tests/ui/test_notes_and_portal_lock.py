"""The admin's notes and the customer's portal language in the TUI (the
forms, the lines above and below the contact persons), and U on the customer
screen for a customer that asked for too many sign-in codes. At 80x24."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory import lockout
from contacts_tui.core.models import utcnow
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.ui.screens.confirm import Confirm
from contacts_tui.ui.screens.contact_form import ContactForm
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customer_form import CustomerForm

from .helpers import SIZE, customer, notifications, press, screen_text, settle, table_rows, type_text


@pytest.fixture
def acme(sqlite_directory):
    return customer(sqlite_directory, "Acme Ltd", "billing@acme.example")


async def open_customer(pilot) -> CustomerScreen:
    await settle(pilot)
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, CustomerScreen)
    return pilot.app.screen


async def test_the_customer_form_keeps_a_note_and_the_portal_language(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "c")
        form = app.screen
        assert isinstance(form, CustomerForm)
        form.query_one("#notes").value = "Call before 10 [b]not bold[/b]"
        form.query_one("#language").value = "nl"
        await press(pilot, "ctrl+s")
        saved = sqlite_directory.get_customer(acme.id)
        assert (saved.notes, saved.language) == ("Call before 10 [b]not bold[/b]", "nl")
        text = screen_text(app)
        # Shown as typed (never as markup), on the customer's line; the language by its name.
        assert "Note: Call before 10 [b]not bold[/b]" in text
        assert "Portal: never signed in · in Nederlands" in text


async def test_a_note_with_a_line_break_is_refused_under_its_field(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "a")
        form = app.screen
        assert isinstance(form, ContactForm)
        await type_text(pilot, "Bea")
        await press(pilot, "tab")
        await type_text(pilot, "bea@acme.example")
        form.query_one("#notes").value = "call\x1b[2J back"
        await press(pilot, "ctrl+s")
        assert app.screen is form
        assert "Note may not contain line breaks" in form.query_one("#notes-error").render().plain
        form.query_one("#notes").value = "part time"
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, CustomerScreen)
    (bea,) = sqlite_directory.list_contacts(acme.id)
    assert bea.notes == "part time"


async def test_the_highlighted_contact_persons_note_is_under_the_table(app, sqlite_directory, acme):
    sqlite_directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", notes="accountant since 2024"))
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        assert "Note: accountant since 2024 · Not a contact person at any other customer." in screen_text(app)


async def test_u_upper_case_lets_a_locked_out_customer_ask_for_a_code_again(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        # Not locked: U says so instead of doing nothing.
        await press(pilot, "U")
        assert "Acme Ltd may ask for a sign-in code: nothing to unlock." in notifications(app)
        now = utcnow()
        for _ in range(3):
            lockout.take(acme.email, now)
        app.screen.reload()
        await settle(pilot)
        assert "Portal: no new code before " in screen_text(app)
        await press(pilot, "question_mark")
        assert "U Let this customer ask for a new sign-in code now (it asked for too many)" in table_rows(app.screen)
        await press(pilot, "escape", "U")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        assert sqlite_directory.portal_locked_until(acme.id) is None
        assert "Acme Ltd can ask for a new sign-in code now." in notifications(app)
        assert "Portal: never signed in" in screen_text(app)
    (change,) = [c for c in sqlite_directory.history(acme.id) if c.action == "portal unlocked"]
    assert change.channel == "tui"


async def test_the_note_of_a_customer_edited_from_the_list_is_kept(app, sqlite_directory):
    acme = sqlite_directory.create_customer(
        CustomerInput("Acme Ltd", "billing@acme.example", notes="VIP", language="nl")
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "e")
        form = app.screen
        assert form.query_one("#notes").value == "VIP" and form.query_one("#language").value == "nl"
        form.query_one("#name").value = "Acme Group"
        await press(pilot, "ctrl+s")
    saved = sqlite_directory.get_customer(acme.id)
    assert (saved.name, saved.notes, saved.language) == ("Acme Group", "VIP", "nl")
