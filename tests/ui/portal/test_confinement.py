"""What a signed-in customer cannot do: every admin key, every command of the
portal's palette and its help show nothing of another customer, open no
admin screen, and change nothing of another customer."""

from __future__ import annotations

import pytest
from textual.command import CommandPalette
from textual.screen import Screen

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import CustomerRecord
from contacts_tui.ui.commands import screen_commands
from contacts_tui.ui.portal.app import PortalApp, make_portal_app
from contacts_tui.ui.portal.contacts_screen import PortalContactsScreen
from contacts_tui.ui.portal.history_screen import PortalHistoryScreen
from contacts_tui.ui.portal.signin_screen import SignInScreen

from ..helpers import SIZE, contacts, customer, press, seen, settle, type_text
from .test_app import OWNER, sign_in

ADMIN_KEYS = ["l", "m", "p", "s", "c", "slash", "r", "f", "enter", "escape", "q", "h", "i", "question_mark"]
"""The admin TUI's keys (relay log, captured messages, make primary, sample,
edit customer, search, refresh, filter, open, back, close, history, deleted, help)."""
SECRETS = ("Globex", "globex", "Hank", "hank@", "Scorpio")


@pytest.fixture
def customers(sqlite_directory: Directory) -> tuple[CustomerRecord, CustomerRecord]:
    acme = customer(sqlite_directory, "Acme Trading Ltd", OWNER)
    contacts(sqlite_directory, acme.id, [("Beatrice Bookman", "bookkeeping@acme-trading.example")])
    globex = customer(sqlite_directory, "Globex Corporation", "billing@globex.example")
    contacts(sqlite_directory, globex.id, [("Hank Scorpio", "hank@globex.example")])
    # Globex's contact person also sits at Acme: the admin screens would say so.
    contacts(sqlite_directory, globex.id, [("Beatrice Bookman", "bookkeeping@acme-trading.example")])
    return acme, globex


@pytest.fixture
def portal(portal_service) -> PortalApp:
    return make_portal_app(portal_service.client(), cursor_blink=False)


def portal_screens(app: PortalApp) -> list[Screen]:
    """Screens that are neither the portal's nor the few shared dialogs it reuses."""
    allowed = (
        "contacts_tui.ui.portal.",
        "contacts_tui.ui.screens.confirm",
        "contacts_tui.ui.screens.help",
        "contacts_tui.ui.screens.contact_form",
        "textual.",
    )
    return [s for s in app.screen_stack if not type(s).__module__.startswith(allowed)]


def shows_nothing_of_globex(app: PortalApp) -> None:
    text = seen(app)
    assert not [word for word in SECRETS if word in text], text
    assert portal_screens(app) == []


async def back_to_contacts(pilot) -> None:
    app = pilot.app
    for _ in range(5):
        if isinstance(app.screen, PortalContactsScreen):
            return
        await press(pilot, "escape")
    if isinstance(app.screen, SignInScreen):
        await sign_in(pilot)
    assert isinstance(app.screen, PortalContactsScreen)


async def test_no_admin_key_shows_another_customer(portal: PortalApp, sqlite_directory: Directory, customers) -> None:
    acme, globex = customers
    before = sqlite_directory.list_contacts(globex.id, include_deleted=True)
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        shows_nothing_of_globex(app)
        for key in ADMIN_KEYS:
            await press(pilot, key)
            shows_nothing_of_globex(app)
            await back_to_contacts(pilot)
        # The same keys inside the form and the history.
        for opener in ("e", "h"):
            await press(pilot, opener)
            for key in ("ctrl+p", "l", "m", "p"):
                await press(pilot, key)
                shows_nothing_of_globex(app)
            await back_to_contacts(pilot)
    assert sqlite_directory.list_contacts(globex.id, include_deleted=True) == before
    assert sqlite_directory.get_customer(acme.id).email == OWNER


async def test_every_palette_command_stays_with_the_customer(
    portal: PortalApp, sqlite_directory: Directory, customers
) -> None:
    acme, globex = customers
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        titles = [c.title for c in screen_commands(app.screen)]
        titles += [c.title for c in app.get_system_commands(app.screen)]
        assert "Sign out" in titles and "Quit" in titles
        # Nothing of the admin's: no make primary, relay log, messages, sample, customers.
        for admin in ("primary", "relay log", "Captured", "sample", "customer's name", "Theme", "Screenshot"):
            assert not [t for t in titles if admin.lower() in t.lower()], admin
        # Each command as the palette runs it when chosen; one found by typing, below.
        for title in titles:
            if title == "Quit":
                continue
            await back_to_contacts(pilot)
            commands = [*screen_commands(app.screen), *app.get_system_commands(app.screen)]
            command = next(c for c in commands if c.title == title)
            result = command.callback()
            if hasattr(result, "__await__"):
                await result
            await settle(pilot)
            shows_nothing_of_globex(app)
        await back_to_contacts(pilot)
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "history")
        shows_nothing_of_globex(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, PortalHistoryScreen) and "customer added" in seen(app)
        shows_nothing_of_globex(app)
        # Typed words of admin actions find nothing to run.
        await back_to_contacts(pilot)
        for words in ("promote", "relay log", "captured messages", "send sample", "customers"):
            await press(pilot, "ctrl+p")
            await type_text(pilot, words)
            shows_nothing_of_globex(app)
            await press(pilot, "enter")
            shows_nothing_of_globex(app)
            await back_to_contacts(pilot)
    assert sqlite_directory.get_customer(acme.id).email == OWNER
    assert [c.name for c in sqlite_directory.list_contacts(globex.id)] == ["Beatrice Bookman", "Hank Scorpio"]


async def test_the_help_lists_only_the_portals_keys(portal: PortalApp, customers) -> None:
    app = portal
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await press(pilot, "question_mark")
        text = seen(app)
        assert "Sign out" in text and "Every change to your contact persons" in text
        for admin in ("primary", "relay log", "Captured", "sample", "(on the customers: quit)"):
            assert admin not in text, admin
        shows_nothing_of_globex(app)
