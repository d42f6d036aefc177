"""The customer portal under Pilot at 80x24, as a customer uses it: sign in
with the code a real capture relay received over SMTP, then add, edit,
delete, restore and switch categories, with each rule's error inline and
each change in the customer's history."""

from __future__ import annotations

import re

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.core.records import CustomerRecord
from contacts_tui.ui.portal.app import PortalApp, make_portal_app
from contacts_tui.ui.portal.contact_form import PortalContactForm
from contacts_tui.ui.portal.contacts_screen import PortalContactsScreen
from contacts_tui.ui.portal.history_screen import PortalHistoryScreen
from contacts_tui.ui.portal.signin_screen import SignInScreen, sent, wrong
from contacts_tui.ui.screens.confirm import Confirm

from ...portal_service import running_service
from ..helpers import (
    SIZE,
    burst,
    contacts,
    customer,
    notifications,
    press,
    seen,
    settle,
    type_text,
    wait_for,
)

OWNER = "accounts@acme-trading.example"


@pytest.fixture
def acme(sqlite_directory: Directory) -> CustomerRecord:
    acme = customer(sqlite_directory, "Acme Trading Ltd", OWNER)
    contacts(sqlite_directory, acme.id, [("Beatrice Bookman", "bookkeeping@acme-trading.example")])
    return acme


@pytest.fixture
def globex(sqlite_directory: Directory) -> CustomerRecord:
    """Another customer, whom Acme's session must never see."""
    globex = customer(sqlite_directory, "Globex Corporation", "billing@globex.example")
    contacts(sqlite_directory, globex.id, [("Hank Scorpio", "hank@globex.example")])
    return globex


@pytest.fixture
def portal(portal_service) -> PortalApp:
    return make_portal_app(portal_service.client(), cursor_blink=False)


def mailed_codes(address: str) -> list[str]:
    """The codes mailed to ``address``, newest first."""
    codes = []
    for record in relay_log.captured_messages(50):
        if address in record.recipients:
            message = relay_log.captured_message(record.id)[2]
            codes.append(re.search(rb"(?:sign-in code|inlogcode): (\d{6})", message).group(1).decode())
    return codes


async def sign_in(pilot, address: str = OWNER) -> None:
    app = pilot.app
    await settle(pilot)
    before = len(mailed_codes(address))
    await burst(pilot, *address)  # as a paste arrives: quicker than key by key
    await press(pilot, "enter")
    codes = await wait_for(lambda: len(mailed_codes(address)) > before and mailed_codes(address))
    await burst(pilot, *codes[0])  # the newest
    await press(pilot, "enter")
    assert isinstance(app.screen, PortalContactsScreen), seen(app)


async def test_a_customer_signs_in_with_the_mailed_code_and_manages_its_contact_persons(
    portal: PortalApp, sqlite_directory: Directory, acme: CustomerRecord, globex: CustomerRecord
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        text = seen(app)
        assert "Acme Trading Ltd" in text and "Beatrice Bookman" in text and "1 of 10" in text
        assert "Globex" not in text and "Hank" not in text
        assert sqlite_directory.get_customer(acme.id).last_sign_in_channel == "ssh"

        # Add: a, the form, ctrl+s.
        await press(pilot, "a")
        assert isinstance(app.screen, PortalContactForm)
        await type_text(pilot, "Ingrid Tech")
        await press(pilot, "tab")
        await type_text(pilot, "it@acme-trading.example")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, PortalContactsScreen)
        assert "Saved Ingrid Tech." in notifications(app) and "2 of 10" in seen(app)
        ingrid = app.screen.table.current()
        assert ingrid.email == "it@acme-trading.example"

        # Edit: e, a phone number.
        await press(pilot, "e", "tab", "tab")
        await type_text(pilot, "+31 20 555 0101")
        await press(pilot, "ctrl+s")
        assert sqlite_directory.get_contact(ingrid.id).phone == "+31 20 555 0101"

        # Toggle billing (1) and receive all (0).
        await press(pilot, "1")
        assert sqlite_directory.get_contact(ingrid.id).categories == ("billing",)
        await press(pilot, "0")
        assert sqlite_directory.get_contact(ingrid.id).receive_all

        # Delete (confirmed), show deleted, restore.
        await press(pilot, "d")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        assert not sqlite_directory.get_contact(ingrid.id).active
        await press(pilot, "i")
        table = app.screen.table
        table.move_cursor(row=next(i for i, c in enumerate(table.records) if c.id == ingrid.id))
        await settle(pilot)
        assert "Deleted" in seen(app)
        await press(pilot, "e")  # read-only until restored
        assert "Ingrid Tech is deleted; restore with u first." in notifications(app)
        assert isinstance(app.screen, PortalContactsScreen)
        await press(pilot, "u")
        assert sqlite_directory.get_contact(ingrid.id).active

        # The history: each change once, by the customer over SSH.
        await press(pilot, "h")
        assert isinstance(app.screen, PortalHistoryScreen)
        text = seen(app)
        assert "you (ssh)" in text and "contact restored it@acme-trading.example" in text
        mine = [c for c in sqlite_directory.history(customer_id=acme.id) if c.contact_id == ingrid.id]
        assert [c.action for c in reversed(mine)] == [
            "contact added",
            "contact edited",
            "categories changed",
            "receive all changed",
            "contact deleted",
            "contact restored",
        ]
        assert {(c.who, c.channel) for c in mine} == {(OWNER, "ssh")}
        assert "Globex" not in seen(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, PortalContactsScreen)


async def test_any_address_gets_the_same_answer_and_a_wrong_code_is_said_inline(
    portal: PortalApp, acme: CustomerRecord
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "stranger@nowhere.example")
        await press(pilot, "enter")
        stranger = seen(app)
        assert " ".join(sent().split()) in stranger
        await type_text(pilot, "123456")
        await press(pilot, "enter")
        assert wrong() in seen(app) and isinstance(app.screen, SignInScreen)
        await press(pilot, "escape")  # another address
        await type_text(pilot, OWNER)
        await press(pilot, "enter")
        assert seen(app).replace(OWNER, "stranger@nowhere.example") == stranger
        await type_text(pilot, "not a code")
        await press(pilot, "enter")
        assert wrong() in seen(app)


async def test_after_three_codes_and_five_wrong_tries_the_portal_says_when_a_new_code_can_be_had(
    portal: PortalApp, sqlite_directory: Directory, acme: CustomerRecord
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await burst(pilot, *OWNER)
        await press(pilot, "enter")
        for _ in range(2):
            await press(pilot, "ctrl+n")
        await wait_for(lambda: len(mailed_codes(OWNER)) == 3)
        for _ in range(5):
            await burst(pilot, *"000000")
            await press(pilot, "enter")
            app.screen.query_one("#code").value = ""
        error = app.screen.query_one("#code-error").render().plain
        # Not "ctrl+n sends a new one", which would not: what happened, and when.
        assert "ctrl+n" not in error and "No new code until" in error and "3 codes in the last hour" in error
        app.screen.query_one("#code-error").update("")
        await press(pilot, "ctrl+n")
        await wait_for(lambda: "No new code until" in app.screen.query_one("#code-error").render().plain)
        assert len(mailed_codes(OWNER)) == 3
        # An admin lifts it (U on the customer screen, or portal --unlock): ctrl+n sends one again.
        sqlite_directory.unlock_portal(acme.id)
        await press(pilot, "ctrl+n")
        await wait_for(lambda: len(mailed_codes(OWNER)) == 4)
        assert "No new code" not in app.screen.query_one("#code-error").render().plain


async def test_a_malformed_address_is_said_under_the_field(portal: PortalApp) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "no address")
        await press(pilot, "enter")
        assert "not a valid email address" in app.screen.query_one("#email-error").render().plain
        assert sent().split()[0] not in app.screen.query_one("#signin-sent").render().plain


@pytest.mark.parametrize(
    ("name", "email", "field", "words"),
    [
        ("", "new@acme-trading.example", "name", "Name"),
        ("Me Again", OWNER, "email", "primary email"),
        ("Bea Again", "Bookkeeping@Acme-Trading.example", "email", "already"),
        ("Broken", "not an address", "email", "email"),
    ],
)
async def test_each_rule_error_shows_inline_and_keeps_what_was_typed(
    portal: PortalApp,
    sqlite_directory: Directory,
    acme: CustomerRecord,
    name: str,
    email: str,
    field: str,
    words: str,
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await press(pilot, "a")
        if name:
            await type_text(pilot, name)
        await press(pilot, "tab")
        await type_text(pilot, email)
        await press(pilot, "ctrl+s")
        form = app.screen
        assert isinstance(form, PortalContactForm)
        error = form.query_one(f"#{field}-error").render().plain
        assert words.lower() in error.lower(), error
        assert form.query_one("#email").value == email
        assert len(sqlite_directory.list_contacts(acme.id)) == 1


async def test_at_the_limit_a_says_why(portal: PortalApp, sqlite_directory: Directory, acme: CustomerRecord) -> None:
    contacts(sqlite_directory, acme.id, [(f"Person {n}", f"p{n}@acme-trading.example") for n in range(9)])
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await press(pilot, "a")
        assert isinstance(app.screen, PortalContactsScreen)
        assert any("10 of 10" in message for message in notifications(app))


async def test_sign_out_goes_back_to_an_empty_sign_in(portal: PortalApp, acme: CustomerRecord) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await press(pilot, "o")
        assert isinstance(app.screen, SignInScreen) and app.directory is None
        assert "You are signed out." in seen(app) and OWNER not in seen(app)
        assert len(app.screen_stack) == 1


async def test_an_admin_turning_the_portal_off_signs_the_customer_out(
    portal: PortalApp, sqlite_directory: Directory, acme: CustomerRecord
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        sqlite_directory.set_portal_access(acme.id, False)
        await press(pilot, "1")
        await wait_for(lambda: isinstance(app.screen, SignInScreen))
        await settle(pilot)
        assert "turned off" in seen(app) and app.directory is None
        assert sqlite_directory.list_contacts(acme.id)[0].categories == ()


async def test_a_service_gone_away_is_said_so_and_a_restarted_one_signs_the_customer_out(
    portal: PortalApp, portal_service, sqlite_directory: Directory, acme: CustomerRecord, capture_relay, tmp_path
) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        portal_service.thread.stop()
        await press(pilot, "1")
        await wait_for(lambda: [n for n in notifications(app) if "the portal is not available right now" in n])
        assert isinstance(app.screen, PortalContactsScreen)
        # Back, but it does not know the session any more (tokens live in its memory only).
        with running_service(sqlite_directory, tmp_path, capture_relay.port):
            await press(pilot, "1")
            await wait_for(lambda: isinstance(app.screen, SignInScreen))
            await settle(pilot)
            assert "Your session has ended" in seen(app) and app.directory is None
    assert sqlite_directory.list_contacts(acme.id)[0].categories == ()


@pytest.mark.parametrize("key", ["ctrl+q", "ctrl+c", "ctrl+z"])
async def test_the_keys_that_leave_end_the_session(portal: PortalApp, acme: CustomerRecord, key: str) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press(key)
        await wait_for(lambda: not app.is_running)
    assert app.return_code == 0


async def test_fifteen_idle_minutes_end_the_session(portal_service, acme) -> None:
    signin = portal_service.client()
    app = make_portal_app(signin, cursor_blink=False, idle_seconds=0.5)
    assert make_portal_app(signin).idle_seconds == 15 * 60
    async with app.run_test(size=SIZE):
        # No settling first: on a busy machine half a second passes before the
        # first screen is drawn, and the app ends while it is waited for.
        await wait_for(lambda: not app.is_running)
    assert app.ended_idle


async def test_a_signed_in_session_outlives_the_sign_in_timeout_but_not_its_lifetime(portal_service, acme) -> None:
    signin = portal_service.client()
    defaults = make_portal_app(signin)
    assert (defaults.sign_in_seconds, defaults.lifetime_seconds) == (2 * 60, 60 * 60)
    app = make_portal_app(signin, cursor_blink=False, sign_in_seconds=3, lifetime_seconds=10)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await wait_for(lambda: not app.is_running)
    # Signed in, it sat without a key for longer than the sign-in timeout and was not ended for it.
    assert app.directory is not None
    assert app.ending == "The session ended after 10 seconds: start a new one to go on."


async def test_the_customer_keeps_a_note_on_a_contact_person_and_never_sees_its_own(
    portal: PortalApp, sqlite_directory: Directory, acme: CustomerRecord
) -> None:
    from contacts_tui.core.records import CustomerInput

    sqlite_directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="ADMIN-ONLY pays late"))
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await press(pilot, "e")
        form = app.screen
        assert isinstance(form, PortalContactForm)
        form.query_one("#notes").value = "call before 10"
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, PortalContactsScreen)
        assert "Note: call before 10" in seen(app)
        await press(pilot, "h")
        assert isinstance(app.screen, PortalHistoryScreen)
        assert "call before 10" in seen(app) and "ADMIN-ONLY" not in seen(app)
    (bea,) = sqlite_directory.list_contacts(acme.id)
    assert bea.notes == "call before 10"
