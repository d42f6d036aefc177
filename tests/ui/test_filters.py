"""The filter (f) on the customers and customer screens at 80x24: what it
keeps, the header line that keeps it in sight, the command palette; and a
search typed fast, whose older queries are ended rather than waited for."""

from __future__ import annotations

import threading

from textual.command import CommandPalette
from textual.widgets import Input, Select

from contacts_tui.core.directory.filters import Filter
from contacts_tui.core.interrupt import Interrupted
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.filter_dialog import FilterDialog

from .helpers import SIZE, contacts, customer, press, screen_text, seen, settle, type_text, wait_for


def town(directory):
    acme = customer(directory, "Acme Ltd", "owner@acme.example")
    contacts(directory, acme.id, [("Bea Books", "bea@acme.example")], role="Bookkeeping")
    contacts(directory, acme.id, [("Tom Tech", "tom@acme.example")], role="Technical")
    globex = customer(directory, "Globex", "info@globex.example")
    contacts(directory, globex.id, [("Hank", "hank@globex.example")], role="Billing")
    customer(directory, "Initech", "hello@initech.example")
    return acme


def names(app) -> list[str]:
    return [record.name for record in app.screen.table.records]


async def choose(pilot, **values: str) -> None:
    """In the open filter dialog: pick each value, then apply with ctrl+s."""
    dialog = pilot.app.screen
    assert isinstance(dialog, FilterDialog)
    for name, value in values.items():
        widget = dialog.query_one(f"#{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value
    await press(pilot, "ctrl+s")


async def test_f_filters_the_customers_and_the_header_line_says_so_until_f_clears_it(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert names(app) == ["Acme Ltd", "Globex", "Initech"]
        await press(pilot, "f")
        assert isinstance(app.screen, FilterDialog)
        await choose(pilot, role="Bookkeeping")
        assert names(app) == ["Acme Ltd"]
        lines = screen_text(app).splitlines()
        assert lines[0].endswith("— filter: role Bookkeeping")
        assert "1 of 3 customers matches" in seen(app)
        # Combined with a search.
        await press(pilot, "slash")
        await type_text(pilot, "globex")
        assert names(app) == []
        assert "No customer matches" in seen(app)
        # escape clears the search, a second one leaves the box for the table
        await press(pilot, "escape", "escape", "F")
        assert names(app) == ["Acme Ltd", "Globex", "Initech"]
        assert "filter" not in screen_text(app).splitlines()[0]


async def test_a_status_and_a_domain_and_a_wrong_domain(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f")
        await choose(pilot, status="no-contacts")
        assert names(app) == ["Initech"]
        await press(pilot, "f")
        await choose(pilot, status="no-contacts", domain="acme.example")
        assert names(app) == []
        await press(pilot, "f")
        await choose(pilot, status=Select.NULL, domain="not a domain")
        assert isinstance(app.screen, FilterDialog)
        assert "is not an email domain" in seen(app)
        await press(pilot, "ctrl+r", "ctrl+s")
        assert names(app) == ["Acme Ltd", "Globex", "Initech"]


async def test_the_customer_screen_shows_the_filter_s_contact_persons(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f")
        await choose(pilot, category="not:billing")
        await press(pilot, "enter")
        screen = app.screen
        assert isinstance(screen, CustomerScreen)
        assert [c.name for c in screen.table.records] == ["Bea Books", "Tom Tech"]
        await press(pilot, "f")
        await choose(pilot, role="Technical", category=Select.NULL)
        assert [c.name for c in screen.table.records] == ["Tom Tech"]
        text = screen_text(app)
        assert text.splitlines()[0].endswith("— filter: role Technical")
        # The limit still counts every contact person.
        assert "2 of 10 contacts · 1 shown by the filter (F clears it)" in seen(app)
        await press(pilot, "escape")
        assert app.filter == Filter(role="Technical")
        assert "filter: role Technical" in screen_text(app).splitlines()[0]
        assert names(app) == ["Acme Ltd"]


async def test_the_filter_is_in_the_command_palette(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "bookkeeper")
        assert isinstance(app.screen, CommandPalette)
        assert "Filter by role, category, status or email domain" in seen(app) and "Key: f" in seen(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, FilterDialog)
        await choose(pilot, role="Billing")
        await press(pilot, "ctrl+p")
        await type_text(pilot, "clear the filter")
        assert "Clear the filter" in seen(app) and "Key: F" in seen(app)
        await press(pilot, "enter")
        await settle(pilot)
        assert names(app) == ["Acme Ltd", "Globex", "Initech"]


async def test_an_older_search_is_ended_when_a_newer_keystroke_arrives(app, sqlite_directory, monkeypatch):
    """Typing fast never waits for a search already overtaken: its query is
    interrupted in the database, and only the newest term's rows are shown."""
    town(sqlite_directory)
    directory = sqlite_directory
    plain = directory.search_customers
    running = threading.Event()
    ended: list[BaseException] = []

    def search_customers(text: str = "", **options):
        if text == "slow":
            # A query that never ends by itself, under the screen's Stop.
            try:
                with options["stop"].reading(directory.database):
                    running.set()
                    directory.database.execute_sql(
                        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
                    ).fetchone()
            except Interrupted as exc:
                ended.append(exc)
                raise
        return plain(text, **options)

    monkeypatch.setattr(directory, "search_customers", search_customers)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        search = screen.query_one("#search", Input)
        search.value = "slow"
        await wait_for(running.is_set)
        search.value = "globex"
        await wait_for(lambda: screen.shown is not None and screen.shown.text == "globex")
        assert names(app) == ["Globex"]
        await wait_for(lambda: ended)
        assert isinstance(ended[0], Interrupted) and screen.stops == 1
        await settle(pilot)
        assert names(app) == ["Globex"], "the ended search's answer was shown after all"


async def test_an_estimated_count_says_about_until_the_exact_count_replaces_it(app, sqlite_directory, monkeypatch):
    from contacts_tui.core.directory import search

    # A probe that stops at 3 matches among the first 10 customers: 120 is "many".
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "_PROBE_ROWS", 10)
    for number in range(120):
        customer(sqlite_directory, f"Shop {number:03d}", f"shop{number}@many.example")
    counted = threading.Event()
    plain = sqlite_directory.count_customers
    calls = []

    def count_customers(*args, **options):
        calls.append(args)
        counted.wait(10)  # the estimate is on screen first
        return plain(*args, **options)

    monkeypatch.setattr(sqlite_directory, "count_customers", count_customers)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        search_box = app.screen.query_one("#search", Input)
        search_box.value = "many"
        await wait_for(lambda: app.screen.shown is not None and app.screen.shown.text == "many")
        await pilot.pause()
        assert "about 120 of 120 customers match (counting…)" in seen(app)
        counted.set()
        await settle(pilot)
        assert "120 of 120 customers match" in seen(app) and "about" not in seen(app)
        # Paging on keeps the exact count.
        await press(pilot, "down", "end")
        assert "120 of 120 customers match · row 120" in seen(app)
        assert len(calls) == 1, "paging counted the same result again"
