"""The history in the admin TUI (h), the customer's portal sign-in on its
screen, and b, which stops or allows it: each change the TUI makes appears
once, with the admin and the channel."""

from __future__ import annotations

import io

import pytest

from contacts_tui.core.csv.importer import import_csv
from contacts_tui.core.directory.history import Actor, admin_actor
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput
from contacts_tui.ui.commands import screen_commands
from contacts_tui.ui.screens.confirm import Confirm
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customers import CustomersScreen
from contacts_tui.ui.screens.history import HistoryScreen
from contacts_tui.ui.widgets.contact_table import ContactTable
from contacts_tui.ui.widgets.history_table import HistoryTable

from .helpers import (
    SIZE,
    contacts,
    customer,
    notifications,
    press,
    screen_text,
    settle,
    table_rows,
    type_text,
)


@pytest.fixture
def acme(sqlite_directory: Directory):
    return customer(sqlite_directory, "Acme Ltd", "billing@acme.example")


async def open_customer(pilot) -> CustomerScreen:
    await settle(pilot)
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, CustomerScreen)
    return pilot.app.screen


def table_header(app) -> str:
    table = app.screen.query_one(HistoryTable)
    return " ".join(column.label.plain for column in table.columns.values())


def history_rows(app) -> list[tuple[str, str, str]]:
    return [(c.action, c.who, c.channel) for c in app.screen.query_one(HistoryTable).records]


async def test_each_change_made_in_the_tui_appears_once_with_the_admin(app, sqlite_directory, acme):
    admin = admin_actor().who
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "a")
        await type_text(pilot, "Bea Books")
        await press(pilot, "tab")
        await type_text(pilot, "bea@acme.example")
        await press(pilot, "ctrl+s")
        await press(pilot, "1")  # billing on
        await press(pilot, "d", "y")  # deleted
        await press(pilot, "h")
        assert isinstance(app.screen, HistoryScreen)
        assert history_rows(app) == [
            ("contact deleted", admin, "tui"),
            ("categories changed", admin, "tui"),
            ("contact added", admin, "tui"),
            ("customer added", admin, "tui"),
        ]
        text = screen_text(app)
        assert "History of Acme Ltd" in text
        assert "contact deleted bea@acme.example" in text
        # The highlighted change in full under the table: before and after, field by field.
        assert "  active: yes → no" in text
        await press(pilot, "down")
        assert "  categories: (none) → billing" in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomerScreen)
    # Deleting kept the contact person's history.
    assert [c.action for c in sqlite_directory.history(acme.id)][:3] == [
        "contact deleted",
        "categories changed",
        "contact added",
    ]


async def test_the_history_of_one_customer_or_of_every_customer(app, sqlite_directory, acme):
    other = customer(sqlite_directory, "Zeta Co", "owner@zeta.example")
    sqlite_directory.as_actor(Actor("owner@zeta.example", "web")).add_contact(
        other.id, ContactInput("Zed", "zed@zeta.example")
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        await press(pilot, "h")  # the highlighted customer: Acme Ltd
        assert [row[0] for row in history_rows(app)] == ["customer added"]
        assert "Customer" not in table_header(app)  # all of them are Acme's
        await press(pilot, "a")  # every customer
        assert [row[0] for row in history_rows(app)] == ["contact added", "customer added", "customer added"]
        text = screen_text(app)
        assert "owner@zeta.example" in text and " web " in text
        # At 80 columns each row says whose change it is, the admin's too.
        assert table_header(app).split() == ["When", "Who", "Via", "Customer", "What"]
        added = [line.split() for line in text.splitlines() if "customer added" in line and " tui " in line]
        assert sorted(row[-3] for row in added) == ["billing@acme.example", "owner@zeta.example"]
        await press(pilot, "a")
        assert len(history_rows(app)) == 1
        assert "Customer" not in table_header(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomersScreen)
        # With no customer to highlight, h shows them all.
        app.screen.query_one("#search").value = "nobody-matches-this"
        await settle(pilot)
        await press(pilot, "h")
        assert len(history_rows(app)) == 3


async def test_an_import_appears_with_its_file_as_the_author(app, sqlite_directory, acme):
    data = (
        "customer_email,customer_name,contact_name,contact_email,phone,role,categories\n"
        "billing@acme.example,Acme Ltd,Ivo,ivo@acme.example,,,billing\n"
    )
    import_csv(sqlite_directory, io.BytesIO(data.encode()), source="december.csv")
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "h")
        assert history_rows(app)[0] == ("contact added", "december.csv", "import")
        assert sum(1 for row in history_rows(app) if row[2] == "import") == 1


async def test_the_customer_screen_shows_the_last_sign_in(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_customer(pilot)
        assert "Portal: never signed in" in screen_text(app)
        sqlite_directory.record_sign_in(acme.id, "ssh")
        screen.reload()
        await settle(pilot)
        line = next(line for line in screen_text(app).splitlines() if "Portal:" in line)
        assert line.strip().startswith("Portal: last signed in 20") and line.rstrip().endswith(" UTC (ssh)")


async def test_b_disables_and_enables_portal_sign_in_after_a_yes(app, sqlite_directory, acme):
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        await press(pilot, "b")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "n")
        assert sqlite_directory.get_customer(acme.id).portal_enabled
        await press(pilot, "b", "y")
        assert not sqlite_directory.get_customer(acme.id).portal_enabled
        assert "Portal sign-in disabled · never signed in" in screen_text(app)
        assert "Acme Ltd can no longer sign in to the portal." in notifications(app)
        await press(pilot, "b", "y")
        assert sqlite_directory.get_customer(acme.id).portal_enabled
        assert "Portal: never signed in" in screen_text(app)
        await press(pilot, "h")
        assert [row[0] for row in history_rows(app)][:2] == ["portal enabled", "portal disabled"]


async def test_help_and_the_palette_name_history_and_portal_sign_in(app, sqlite_directory, acme):
    contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in screen_commands(app.screen)]
        assert "History: every change to the highlighted customer (to every customer when none is)" in titles
        await press(pilot, "question_mark")
        assert "h History: every change to the highlighted customer" in table_rows(app.screen)
        await press(pilot, "escape", "enter", "question_mark")
        text = table_rows(app.screen)
        assert "h History: every change to this customer" in text
        assert "b Disable this customer's sign-in to the portal" in text
        await press(pilot, "escape", "ctrl+p")
        await type_text(pilot, "block")
        assert "Disable this customer's sign-in to the portal" in " ".join(screen_text(app).split())
        await press(pilot, "escape", "ctrl+p")
        await type_text(pilot, "audit")
        await press(pilot, "enter")
        assert isinstance(app.screen, HistoryScreen)
        await press(pilot, "question_mark")
        assert "a Show the changes of every customer" in table_rows(app.screen)


async def test_a_long_change_reads_at_80_columns(app, sqlite_directory, acme):
    (bea,) = contacts(sqlite_directory, acme.id, [("Bea", "bea@acme.example")])
    sqlite_directory.update_contact(
        bea.id,
        ContactInput(
            "Beatrix Wilhelmina Armgard van Oranje-Nassau",
            "beatrix.van.oranje-nassau@acme.example",
            phone="+31 70 123 4567",
            role="Bookkeeping",
            categories=("billing", "account"),
        ),
    )
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot)
        assert app.screen.query_one(ContactTable).records
        await press(pilot, "h")
        lines = screen_text(app).splitlines()
        assert all(len(line) <= 80 for line in lines)
        text = "\n".join(lines)
        assert '  name: "Bea" → "Beatrix Wilhelmina Armgard van Oranje-Nassau"' in text
        assert '  email: "bea@acme.example" → "beatrix.van.oranje-nassau@acme.example"' in text
