"""Long and non-Latin names at 80x24, NO_COLOR, and a database that stops
answering in the middle of an edit."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

from rich.cells import cell_len

from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.contact_form import ContactForm
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.widgets.contact_table import ContactTable
from contacts_tui.ui.widgets.customer_table import CustomerTable

from .helpers import SIZE, contacts, customer, notifications, press, screen_text, settle

LONG = "Internationale Gesellschaft für außerordentlich lange Firmennamen und Söhne GmbH & Co. KG"
CJK = "東京トレーディング株式会社・大阪支店・名古屋営業所"
EMOJI = "Bright Pixel Studio 🎨🖌️👩‍🎨 Creative Collective"


async def test_long_cjk_and_emoji_names_stay_in_their_columns(app, sqlite_directory):
    for number, name in enumerate([LONG, CJK, EMOJI]):
        record = customer(sqlite_directory, name, f"accounts{number}@a-rather-long-domain-name.example")
        contacts(
            sqlite_directory,
            record.id,
            [("山田 花子 " * 8, f"hanako{number}@tokyo-trading.example")],
            categories=("billing", "account"),
        )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CustomerTable)
        assert table.max_scroll_x == 0, "no sideways scrolling at 80 columns"
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(cell_len(line) <= 80 for line in lines)
        for start in ("Internationale", "東京", "Bright Pixel"):
            row = next(line for line in lines if line.lstrip().startswith(start))
            assert "…" in row and "1 of 10" in row and row.rstrip().endswith("active"), row
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.query_one(ContactTable).max_scroll_x == 0
        lines = screen_text(app).splitlines()
        assert all(cell_len(line) <= 80 for line in lines)
        row = next(line for line in lines if line.lstrip().startswith("山田"))
        # The long name takes what phone and role gave up; they are on the line under the table.
        assert "hanako" in row and row.rstrip().endswith("billing +1"), row
        await press(pilot, "e")
        assert isinstance(app.screen, ContactForm)
        assert all(cell_len(line) <= 80 for line in screen_text(app).splitlines())


async def test_every_contact_column_shows_at_80_columns_while_names_and_addresses_fit(app, sqlite_directory):
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(
        sqlite_directory,
        acme.id,
        [("Bea Books", "bea@acme.example")],
        phone="+44 20 7946 0001",
        role="Bookkeeping",
        categories=("billing", "account"),
    )
    contacts(sqlite_directory, acme.id, [("Max", "max@acme.example")], receive_all=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if line.lstrip().startswith("Name"))
        assert header.split() == ["Name", "Email", "Phone", "Role", "Receives"]  # all active: no Status
        bea = next(line for line in lines if line.startswith(" Bea Books "))
        assert bea.split() == [
            "Bea",
            "Books",
            "bea@acme.example",
            "+44",
            "20",
            "7946",
            "0001",
            "Bookkeeping",
            "billing",
            "+1",
        ]
        assert next(line for line in lines if line.startswith(" Max ")).split()[-1] == "all"
        await press(pilot, "down", "d", "y", "i")  # Max deleted, deleted ones shown: the Status column says which
        header = next(line for line in screen_text(app).splitlines() if line.lstrip().startswith("Name"))
        assert header.split()[-1] == "Status"
    # Wider, the categories are spelled out.
    async with make_app(sqlite_directory, cursor_blink=False).run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        bea = next(line for line in screen_text(pilot.app).splitlines() if line.startswith(" Bea Books "))
        assert "+44 20 7946 0001" in bea and "billing, account" in bea


async def test_names_and_addresses_stay_whole_at_80_columns_and_phone_and_role_give_way(app, sqlite_directory):
    """The issue's screen: once a person has a phone, names and addresses were cut to
    "Filler Pers…" and "bookkeeping@acme-t…"."""
    acme = customer(sqlite_directory, "Acme Trading Ltd", "accounts@acme-trading.example")
    contacts(
        sqlite_directory,
        acme.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        phone="+44 20 7946 0958",
        role="Bookkeeping",
        categories=("billing",),
    )
    contacts(
        sqlite_directory,
        acme.id,
        [(f"Filler Person {n}", f"filler.person{n}@acme-trading.example") for n in range(1, 6)],
        categories=("account",),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        text = screen_text(app)
        header = next(line for line in text.splitlines() if line.lstrip().startswith("Name"))
        assert header.split() == ["Name", "Email", "Role", "Receives"]
        rows = [line for line in text.splitlines() if line.startswith((" Beatrice", " Filler")) and "·" not in line]
        assert len(rows) == 6 and "…" not in "\n".join(rows)
        for number in range(1, 6):
            assert f"Filler Person {number}" in text and f"filler.person{number}@acme-trading.example" in text
        # The phone is on the line under the table, for the highlighted person.
        assert "Beatrice Bookman · +44 20 7946 0958 · Bookkeeping · bookkeeping@acme-trading" in text
    async with make_app(sqlite_directory, cursor_blink=False).run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        text = screen_text(pilot.app)
        # At 60 columns the longest addresses lose their end, names and the category stay.
        assert "filler.person5@acme-trading.exa" in text and "Filler Person 5" in text and "account" in text


async def test_no_color_still_shows_everything(monkeypatch, sqlite_directory):
    monkeypatch.setenv("NO_COLOR", "1")
    customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    app = make_app(sqlite_directory, cursor_blink=False)
    assert app.no_color
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Acme Ltd" in text and "1 customer" in text and "? help" in text


def footer_styles(app) -> dict[str, bool]:
    """Each footer key's description, and whether it is struck through."""
    strip = app.screen._compositor.render_strips()[-1]
    return {
        segment.text.strip(): bool(segment.style and segment.style.strike) for segment in strip if segment.text.strip()
    }


async def test_without_colour_a_key_not_usable_now_is_struck_through(monkeypatch, sqlite_directory):
    monkeypatch.setenv("NO_COLOR", "1")
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    contacts(sqlite_directory, acme.id, [(f"P{n}", f"p{n}@acme.example") for n in range(10)])
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        styles = footer_styles(app)
        assert styles["add"] and styles["sample"], "at the limit, and without a relay"
        assert not styles["edit"] and not styles["delete"] and not styles["help"]


async def test_form_errors_are_bold_not_only_red(app, sqlite_directory):
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "a", "ctrl+s")
        error = app.screen.query_one("#name-error")
        assert "Name is required" in str(error.render()) and error.rich_style.bold


def lock_writes(url: str) -> sqlite3.Connection:
    """Another process's long write transaction: reads go on, writes wait."""
    path = urlsplit(url).path[1:]
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    return locker


def impatient(directory) -> None:
    # Give up on a locked database after 50 ms instead of the 10 s that the
    # relays and the TUI wait for each other in real use.
    database = directory.database
    database._pragmas = [(k, 50 if k == "busy_timeout" else v) for k, v in database._pragmas]
    database._timeout = 0.05


async def test_a_database_outage_keeps_everything_typed(app, sqlite_directory, sqlite_url):
    impatient(sqlite_directory)
    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "a")
        form = app.screen
        form.query_one("#name").value = "Bea Books"
        form.query_one("#email").value = "bea@acme.example"
        form.query_one("#category-1").value = True
        locker = lock_writes(sqlite_url)
        try:
            await press(pilot, "ctrl+s")
            assert app.screen is form
            assert any("Nothing you typed is lost" in message for message in notifications(app))
            assert "Not saved: the database is unavailable" in screen_text(app)
            assert form.query_one("#name").value == "Bea Books"
            assert form.query_one("#email").value == "bea@acme.example"
            assert form.query_one("#category-1").value is True
        finally:
            locker.rollback()
            locker.close()
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, CustomerScreen)
        (saved,) = sqlite_directory.list_contacts(acme.id)
        assert saved.name == "Bea Books" and saved.categories == ("billing",)


async def test_the_save_button_of_a_long_form_is_in_sight_at_60x20(sqlite_directory):
    from contacts_tui.core.catalog import load_preset
    from contacts_tui.core.directory import settings

    acme = customer(sqlite_directory, "Acme Ltd", "billing@acme.example")
    settings.change_catalog(sqlite_directory.database, "perfex", load_preset("perfex"))  # seven categories
    sqlite_directory.refresh_settings()
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "a")
        form = app.screen
        assert isinstance(form, ContactForm)
        assert "Save (ctrl+s)" in screen_text(app)
        form.query_one("#name").value, form.query_one("#email").value = "Bea", "bea@acme.example"
        # Down the fields to the last switch: the button is still in sight, and tab reaches it.
        for _ in range(20):
            await press(pilot, "tab")
            assert "Save (ctrl+s)" in screen_text(app)
            if app.focused is form.query_one("#save"):
                break
        assert app.focused is form.query_one("#save")
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen)
        assert [c.name for c in sqlite_directory.list_contacts(acme.id)] == ["Bea"]
