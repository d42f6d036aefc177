"""Bulk changes in the TUI at 80x24: space and * mark rows, x opens the bulk
change dialog (choose, check, one confirmation, progress), z undoes the last
bulk change; the Done-when flow of the bookkeepers at one domain, from the
filter to the history, in the TUI alone."""

from __future__ import annotations

import sqlite3

from textual.widgets import Button, OptionList, Static

from contacts_tui.core.directory.bulk import steps
from contacts_tui.core.directory.filters import Filter
from contacts_tui.ui import typeahead
from contacts_tui.ui.screens.bulk_dialog import BulkDialog
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.customers import CustomersScreen
from contacts_tui.ui.screens.history import HistoryScreen
from contacts_tui.ui.widgets.history_table import HistoryTable

from .helpers import SIZE, contacts, customer, notifications, press, screen_text, seen, settle, wait_for
from .test_filters import choose


def town(directory, customers: int = 6):
    """Customers at acme.example and globex.example, each with a bookkeeper
    (at a bookkeeping firm) and a technical contact."""
    made = []
    for number in range(customers):
        domain = "acme.example" if number < 4 else "globex.example"
        record = customer(directory, f"Customer {number}", f"owner{number}@{domain}")
        contacts(directory, record.id, [(f"Keeper {number}", f"books{number}@ledger.example")], role="Bookkeeping")
        contacts(directory, record.id, [(f"Tech {number}", f"tech{number}@{domain}")], role="Technical")
        made.append(record)
    return made


async def pick(pilot, label: str) -> None:
    """In the bulk dialog: move to the choice ``label`` and take it with enter."""
    dialog = pilot.app.screen
    assert isinstance(dialog, BulkDialog)
    labels = [text.strip() for text, _ in dialog.choices]
    options = dialog.query_one("#bulk-actions", OptionList)
    while labels[options.highlighted] != label:
        await press(pilot, "down")
    await press(pilot, "enter")


def dialog(app) -> str:
    """The bulk dialog's words as shown (its lines wrap inside a border)."""
    assert isinstance(app.screen, BulkDialog), type(app.screen)
    parts = [str(w.content) for w in app.screen.query(Static) if w.display and not isinstance(w, Button)]
    parts += [str(b.label) for b in app.screen.query(Button) if b.display and b.parent.display]
    return " ".join(" ".join(parts).split())


def marks_column(app) -> list[str]:
    """The first character of each table row on screen: the mark column."""
    lines = screen_text(app).splitlines()
    return [line[1:2] for line in lines[4:10]]


async def test_space_marks_rows_and_the_status_line_counts_them(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "marked" not in seen(app) and "✓" not in screen_text(app)
        await press(pilot, "space", "space")
        assert screen_text(app).splitlines()[2].startswith(" 2 marked (x changes them) · 6 customers")
        assert marks_column(app) == ["✓", "✓", " ", " ", " ", " "]
        await press(pilot, "up", "space")  # unmarks the second
        assert marks_column(app) == ["✓", " ", " ", " ", " ", " "]
        await press(pilot, "asterisk")
        assert "all 6 marked" in seen(app)
        assert marks_column(app) == ["✓"] * 6
        await press(pilot, "space")  # all but one
        assert "5 marked" in seen(app)
        await press(pilot, "asterisk")  # all again
        await press(pilot, "asterisk")  # and none
        assert "marked" not in seen(app) and "✓" not in screen_text(app)
        # Nothing marked: x says how to mark; nothing to undo yet: z says so.
        await press(pilot, "x")
        assert not isinstance(app.screen, BulkDialog)
        assert "Nothing is marked: space marks the highlighted row" in notifications(app)[-1]
        await press(pilot, "z")
        assert "No bulk change to undo" in notifications(app)[-1]


async def test_the_done_when_flow_in_the_tui_alone(app, sqlite_directory):
    """Every bookkeeper of customers at acme.example not opted in to account
    mail: found with f, marked with *, account switched on with x, one history
    entry per person seen with h; the others are left alone."""
    made = town(sqlite_directory)
    keeper = sqlite_directory.list_contacts(made[0].id, filter=Filter(role="Bookkeeping"))[0]
    sqlite_directory.set_category(keeper.id, "account", True)  # opted in already
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f")
        await choose(pilot, role="Bookkeeping", category="not:account", domain="acme.example")
        assert [r.name for r in app.screen.table.records] == ["Customer 1", "Customer 2", "Customer 3"]
        await press(pilot, "asterisk")
        assert "all 3 marked" in seen(app)
        await press(pilot, "x")
        assert isinstance(app.screen, BulkDialog)
        # What contact persons means here, in the dialog itself.
        assert "those the filter keeps at these customers (role Bookkeeping, not in account, @acme.example)" in dialog(
            app
        )
        await pick(pilot, "Switch Account on")
        assert "Switch Account on for 3 contact persons at 3 customers?" in dialog(app)
        await press(pilot, "y")
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        assert notifications(app)[-1] == ("Switched Account on for 3 contact persons at 3 customers. z undoes it.")
        assert "No customer matches" in seen(app)  # nobody left who is not opted in
        await press(pilot, "h")  # no customer highlighted: every customer's history
        assert isinstance(app.screen, HistoryScreen)
        changes = app.screen.query_one(HistoryTable).records
        switched = [c for c in changes if c.at == changes[0].at]  # the bulk change: one time for all
        # One entry per person, and only for those three (Keeper 0 had it already).
        assert sorted(c.contact_email for c in switched) == [f"books{n}@ledger.example" for n in (1, 2, 3)]
        assert all(c.action == "categories changed" for c in switched)
        assert all(c.changes == (("categories", [], ["account"]),) for c in switched)
        assert "categories changed" in seen(app) and "books3@ledger.example" in seen(app)
    for record in made:
        for person in sqlite_directory.list_contacts(record.id):
            opted = "account" in person.categories
            assert opted == (person.role == "Bookkeeping" and record.email.endswith("acme.example")), person


async def test_marked_contact_persons_switched_and_undone_with_z(app, sqlite_directory):
    made = town(sqlite_directory, customers=1)
    contacts(sqlite_directory, made[0].id, [("Zed", "zed@acme.example")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, CustomerScreen)
        await press(pilot, "space", "space")  # Keeper 0 and Tech 0
        assert "3 of 10 contacts · 2 marked (x changes them)" in seen(app)
        await press(pilot, "x")
        await pick(pilot, "Switch Billing on")
        assert "Switch Billing on for 2 contact persons at 1 customer?" in dialog(app)
        await press(pilot, "y")
        await settle(pilot)
        assert "marked" not in seen(app)
        billing = {p.name: "billing" in p.categories for p in sqlite_directory.list_contacts(made[0].id)}
        assert billing == {"Keeper 0": True, "Tech 0": True, "Zed": False}
        await press(pilot, "z")
        assert isinstance(app.screen, BulkDialog)
        assert "Switch Billing off for 2 contact persons at 1 customer? (undoes the last bulk change)" in dialog(app)
        await press(pilot, "y")
        await settle(pilot)
        assert notifications(app)[-1].startswith("Switched Billing off for 2 contact persons at 1 customer.")
    assert not any("billing" in p.categories for p in sqlite_directory.list_contacts(made[0].id))
    entries = [c for c in sqlite_directory.history(made[0].id) if c.action == "categories changed"]
    assert len(entries) == 4  # on and off, each person on their own


async def test_a_refusal_names_the_records_n_changes_nothing_y_applies_the_rest(app, sqlite_directory):
    acme = customer(sqlite_directory, "[red]Acme[/red] Ltd", "owner@acme.example")
    people = contacts(sqlite_directory, acme.id, [(f"[b]P{n}", f"p{n}@acme.example") for n in range(10)])
    for person in people[:2]:
        sqlite_directory.delete_contact(person.id)
    contacts(sqlite_directory, acme.id, [("New", "new@acme.example")])  # 9 of 10: room for one
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "i")  # deleted ones shown, at the end
        table = app.screen.table
        while table.current().active:
            await press(pilot, "down")
        await press(pilot, "space", "space")
        await press(pilot, "x")
        await pick(pilot, "Restore")
        text = dialog(app)
        assert "Restore 1 contact person at 1 customer?" in text
        assert "1 refused by the rules, and left as they are:" in text
        # Names from the database as they are, never as markup.
        assert "[b]P1 <p1@acme.example> at [red]Acme[/red] Ltd: [red]Acme[/red] Ltd already has 10" in text
        assert "Apply to the other 1 (y)" in text
        await press(pilot, "n")
        assert not isinstance(app.screen, BulkDialog)
        assert [sqlite_directory.get_contact(p.id).active for p in people[:2]] == [False, False]
        await press(pilot, "x")
        await pick(pilot, "Restore")
        await press(pilot, "y")
        await settle(pilot)
    assert [sqlite_directory.get_contact(p.id).active for p in people[:2]] == [True, False]


async def test_progress_while_it_works_escape_stops_after_the_batch_and_z_undoes(
    app, sqlite_directory, sqlite_url, monkeypatch
):
    """The work runs off the UI thread: while it waits for the database (another
    program holds the write lock) the dialog shows its progress and takes keys."""
    monkeypatch.setattr(steps, "BATCH", 2)
    # Keys never wait for the work: were they held until it ends, escape would
    # wait here for the lock this test releases only once escape is handled.
    monkeypatch.setattr(typeahead, "LIMIT", 60.0)
    town(sqlite_directory, customers=5)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "asterisk", "x")
        await pick(pilot, "Deactivate (their contact persons get no copies)")
        assert "Deactivate 5 customers?" in dialog(app)
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer: the first batch waits for it
        try:
            await pilot.press("y")
            await wait_for(lambda: "░ 0 of 5" in dialog(app), lambda: screen_text(app))
            assert "Deactivate 5 customers…" in dialog(app)
            await pilot.press("escape")
            await wait_for(lambda: "Stopping after the batch at hand" in dialog(app), lambda: screen_text(app))
            assert isinstance(app.screen, BulkDialog)
        finally:
            other.execute("COMMIT")
            other.close()
        await wait_for(lambda: not isinstance(app.screen, BulkDialog))
        await settle(pilot)
        assert notifications(app)[-1] == "Stopped after 2 of 5. Deactivated 2 customers. z undoes it."
        assert [c.active for c in app.screen.table.records] == [False, False, True, True, True]
        await press(pilot, "z")
        assert "Activate 2 customers? (undoes the last bulk change)" in dialog(app)
        await press(pilot, "y")
        await settle(pilot)
        assert all(c.active for c in app.screen.table.records)
    actions = [c.action for c in sqlite_directory.history()]
    assert actions.count("customer deactivated") == 2 and actions.count("customer activated") == 2


async def test_marks_of_all_shown_go_when_the_search_changes(app, sqlite_directory):
    town(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "space")
        await press(pilot, "slash")
        await pilot.press(*"globex")
        await settle(pilot)
        assert "1 marked" in seen(app)  # a marked row stays marked
        await press(pilot, "escape", "escape", "asterisk")
        assert "all 6 marked" in seen(app)
        await press(pilot, "slash")
        await pilot.press(*"globex")
        await settle(pilot)
        assert "marked" not in seen(app)
        assert "The marks are cleared" in notifications(app)[-1]


async def test_after_a_bulk_change_an_estimated_total_is_counted_again(app, sqlite_directory, monkeypatch):
    from contacts_tui.core.directory import search

    # A probe that stops at 3 matches among the first 10 customers: 60 is "many",
    # estimated first and then counted, before the change and after it.
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "_PROBE_ROWS", 10)
    for number in range(60):
        customer(sqlite_directory, f"Shop {number:03d}", f"shop{number}@many.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "f")
        await choose(pilot, domain="many.example")
        await wait_for(lambda: "60 of 60 customers match" in seen(app) and "about" not in seen(app))
        await press(pilot, "asterisk", "x")
        await pick(pilot, "Deactivate (their contact persons get no copies)")
        await wait_for(lambda: "Deactivate 60 customers?" in dialog(app))
        await press(pilot, "y")
        await wait_for(lambda: isinstance(app.screen, CustomersScreen))
        await wait_for(
            lambda: "60 of 60 customers match" in seen(app) and "counting" not in seen(app),
            describe=lambda: seen(app),
        )
