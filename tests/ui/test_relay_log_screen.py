"""The relay log screen: entries a real capture relay wrote, newest first,
searched and filtered as you type, opened in full, paged, and refreshed while
open without moving the cursor."""

from __future__ import annotations

import asyncio

import pytest

from contacts_tui.core.mail.sample import build_sample, send_sample
from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.customers import CustomersScreen
from contacts_tui.ui.screens.log_entry import LogEntryScreen
from contacts_tui.ui.screens.mail_list import PAGE
from contacts_tui.ui.screens.relay_log import LogScreen
from contacts_tui.ui.widgets.mail_tables import LogTable

from .helpers import SIZE, contacts, customer, log_row, press, screen_text, seen, settle, type_text, wait_for


@pytest.fixture
def acme(sqlite_directory):
    record = customer(sqlite_directory, "Acme Trading Ltd", "accounts@acme-trading.example")
    contacts(
        sqlite_directory,
        record.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        role="Bookkeeping",
        categories=("billing",),
    )
    return record


async def send(relay, to: str, name: str, category: str) -> str:
    return await asyncio.to_thread(send_sample, "127.0.0.1", relay.port, to, build_sample(name, to, category))


def table(app) -> LogTable:
    return app.screen.query_one(LogTable)


def row_of(app, words: str) -> str:
    return next(line for line in screen_text(app).splitlines() if words in line)


async def open_log(pilot) -> LogScreen:
    await settle(pilot)
    await press(pilot, "l")
    assert isinstance(pilot.app.screen, LogScreen)
    return pilot.app.screen


async def test_each_message_is_a_row_newest_first_with_what_was_added(sqlite_directory, acme, capture_relay):
    assert (await send(capture_relay, acme.email, acme.name, "invoice.created")).startswith("250 ")
    await send(capture_relay, "someone@elsewhere.example", "Someone", "order.confirmed")
    app = make_app(sqlite_directory, cursor_blink=False, relay_address=("127.0.0.1", capture_relay.port))
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        text = screen_text(app)
        assert "2 entries, newest first · row 1" in text
        assert "Time" in text and "Status" in text and "Decision" in text and "Added" in text
        newest, older = table(app).records
        assert newest.recipients == ("someone@elsewhere.example",)
        assert row_of(app, "someone@").split()[1:4] == ["captured", "unchanged", "account"]
        assert row_of(app, "accounts@").split()[1:4] == ["captured", "rewritten", "billing"]
        assert row_of(app, "accounts@").rstrip().endswith("+1")
        # The highlighted entry in full under the table: nobody added, and why.
        assert "billing@demo-shop.example → someone@elsewhere.example" in text
        assert "unchanged: no recipient is a customer's primary email" in text
        await press(pilot, "down")
        assert "Added as Cc: Beatrice Bookman (opted in to billing)" in seen(app)


async def test_search_as_you_type_and_the_status_filter(sqlite_directory, acme, capture_relay):
    await send(capture_relay, acme.email, acme.name, "invoice.created")
    await send(capture_relay, "someone@elsewhere.example", "Someone", "order.confirmed")
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        await press(pilot, "slash")
        # The bookkeeper added as Cc is what people search the log for.
        await type_text(pilot, "bookkeeping")
        assert [r.recipients for r in table(app).records] == [("accounts@acme-trading.example",)]
        assert "1 of 2 entries matches" in screen_text(app)
        await press(pilot, "enter", "f")
        assert app.screen.query_state.status == "queued"
        assert "esc clear search" in screen_text(app).splitlines()[-1]
        assert "Nothing matches; 2 entries in all. Escape shows them all." in screen_text(app)
        assert "Status queued" in screen_text(app)
        await press(pilot, "escape")
        assert (app.screen.query_state.text, app.screen.query_state.status) == ("", "")
        assert "2 entries, newest first" in screen_text(app)
        # Without a search, escape goes back.
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomersScreen)


async def test_the_detail_view_shows_every_field(sqlite_directory, acme, capture_relay):
    await send(capture_relay, acme.email, acme.name, "invoice.created")
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        (entry,) = table(app).records
        await press(pilot, "enter")
        assert isinstance(app.screen, LogEntryScreen)
        text = seen(app)
        for label, value in [
            ("Message-ID", entry.message_id),
            ("Queue ID", entry.queue_id),
            ("Sender", "billing@demo-shop.example"),
            ("Recipients", "accounts@acme-trading.example"),
            ("Category", "invoice.created"),
            ("Resolved", "billing"),
            ("Customers", "accounts@acme-trading.example"),
            ("Added", "Beatrice Bookman <bookkeeping@acme-trading.example>: opted in to billing"),
            ("Decision", "rewritten"),
            ("Reason", "1 contact person(s) of Acme Trading Ltd opted in to billing"),
            ("Status", "captured"),
            ("Attempts", "0"),
            ("Last error", "-"),
            ("Delivered", "-"),
            ("Received", f"{entry.received_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Updated", f"{entry.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
        ]:
            assert f"{label} {value}" in text, label
        await press(pilot, "escape")
        assert isinstance(app.screen, LogScreen)


async def test_a_bounce_has_no_size_as_received(sqlite_directory):
    # As the relay writes the delivery status notification it sends the sender.
    log_row(
        1,
        sender="",
        recipients=["billing@demo-shop.example"],
        subject="Delivery status notification for 5F3A0001",
        category="",
        category_key="",
        customers=[],
        added=[],
        decision="bounce",
        status="queued",
        reason="delivery to accounts@acme-trading.example failed: 550 5.1.1 no such user",
        size=0,
        attempts=0,
        delivered_at=None,
    )
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, LogEntryScreen)
        text = seen(app)
        assert "Size - (the relay wrote this notification itself)" in text
        assert "0 bytes" not in text


async def test_new_entries_appear_while_open_and_the_cursor_stays(sqlite_directory, acme, capture_relay):
    await send(capture_relay, acme.email, acme.name, "invoice.created")
    await send(capture_relay, acme.email, acme.name, "payment.received")
    app = make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        await press(pilot, "down")
        chosen = table(app).current()
        assert chosen.category == "invoice.created"
        await send(capture_relay, acme.email, acme.name, "order.confirmed")
        # No key pressed: the refresh finds the new entry by itself.
        await wait_for(lambda: table(app).total == 3)
        await settle(pilot)
        assert "3 entries, newest first" in screen_text(app)
        assert table(app).current() == chosen, "the cursor stays on the entry it was on"
        assert table(app).index == 2


async def test_a_long_log_is_paged_from_the_database(sqlite_directory):
    for number in range(1, 251):
        log_row(number, status="delivered" if number % 5 else "deferred", last_error="" if number % 5 else "451 busy")
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        assert "250 entries, newest first · row 1" in screen_text(app)
        assert len(table(app).records) == PAGE
        assert table(app).current().subject == "Your invoice INV-2024-0250"
        await press(pilot, "end")
        assert table(app).current().subject == "Your invoice INV-2024-0001"
        assert "row 250" in screen_text(app)
        await press(pilot, "home", "f", "f")
        assert app.screen.query_state.status == "deferred"
        assert "50 of 250 entries match" in screen_text(app)
        assert all(record.status == "deferred" for record in table(app).records)


def bold(app, words: str) -> bool:
    """Whether the first piece of the screen that shows ``words`` is bold."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if words in segment.text:
                return bool(segment.style and segment.style.bold)
    raise AssertionError(f"{words!r} is not on the screen")


async def test_partially_failed_is_a_status_to_filter_by_and_stands_out_as_trouble(sqlite_directory):
    log_row(1, status="delivered")
    log_row(2, status="partially failed", attempts=1, last_error="bob@acme-trading.example: 550 5.1.1 no such user")
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        # The cell is cut to the column ("partiall…"); bold, like failed, without colour.
        assert bold(app, "partiall") and not bold(app, "delivered")
        for _ in LogScreen.STATUSES:
            if app.screen.query_state.status == "partially failed":
                break
            await press(pilot, "f")
        assert app.screen.query_state.status == "partially failed"
        assert "Status partially failed ▼" in screen_text(app)
        assert [record.status for record in table(app).records] == ["partially failed"]
        assert "1 of 2 entries matches" in screen_text(app)


async def test_l_on_a_customer_shows_that_customers_entries(sqlite_directory, acme, capture_relay):
    await send(capture_relay, acme.email, acme.name, "invoice.created")
    await send(capture_relay, "someone@elsewhere.example", "Someone", "order.confirmed")
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "l")
        assert isinstance(app.screen, LogScreen)
        assert app.screen.query_one("#search").value == acme.email
        assert [r.recipients for r in table(app).records] == [(acme.email,)]
        assert "1 of 2 entries match" in screen_text(app)


def send_to_several(relay, recipients: list[str], data: bytes) -> str:
    """One message to several envelope recipients; the relay's final reply."""
    import smtplib

    with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as client:
        client.ehlo("ui-test.example")
        client.mail("billing@demo-shop.example")
        for recipient in recipients:
            client.rcpt(recipient)
        code, reply = client.data(data)
    return f"{code} {reply.decode()}"


async def test_a_message_for_two_customers_shows_as_its_copies(sqlite_directory, acme, capture_relay):
    beta = customer(sqlite_directory, "Beta Bikes", "office@beta-bikes.example")
    contacts(sqlite_directory, beta.id, [("Carl Cash", "carl@beta-bikes.example")], categories=("billing",))
    data = build_sample("Customers", "undisclosed-recipients:;", "invoice.created")
    recipients = [acme.email, beta.email, "someone@elsewhere.example"]
    reply = await asyncio.to_thread(send_to_several, capture_relay, recipients, data)
    assert reply.startswith("250 ") and "and 2 more copies" in reply
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_log(pilot)
        assert "3 entries, newest first" in screen_text(app)
        by_copy = {entry.copy_number: entry for entry in table(app).records}
        assert [by_copy[n].recipients for n in (1, 2, 3)] == [(acme.email,), (beta.email,), tuple(recipients[2:])]
        # The line under the table says which copy the highlighted entry is.
        while table(app).records[table(app).cursor_row].copy_number != 2:
            await press(pilot, "down")
        assert f"billing@demo-shop.example → {beta.email} · copy 2 of 3" in seen(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, LogEntryScreen)
        await wait_for(lambda: "1: queue id" in seen(app), lambda: seen(app))
        text = seen(app)
        assert "Copy 2 of 3, one per customer: each sees only its own contact persons" in text
        assert f"1: queue id {by_copy[1].queue_id}, to {acme.email}, +1 cc" in text
        assert f"3: queue id {by_copy[3].queue_id}, to someone@elsewhere.example, nobody added" in text
        assert "Added Carl Cash <carl@beta-bikes.example>" in text
        assert "Beatrice" not in text
