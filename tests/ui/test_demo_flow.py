"""The demo as a new user meets it: the app built the way `contacts-tui demo`
builds it (demo data, a real capture relay on an ephemeral port), a sample
notification sent by keys, and the captured message with the bookkeeper in Cc."""

from __future__ import annotations

import socket

import pytest

from contacts_tui.core.directory.demo_data import seed_demo
from contacts_tui.core.mail import relay_log
from contacts_tui.ui.app import make_app
from contacts_tui.ui.commands import screen_commands
from contacts_tui.ui.screens.customer import CustomerScreen
from contacts_tui.ui.screens.message import MessageScreen
from contacts_tui.ui.screens.messages import MessagesScreen
from contacts_tui.ui.screens.sample import NO_RELAY, SampleDialog

from .helpers import SIZE, notifications, press, screen_text, seen, settle, table_rows, type_text, wait_for


@pytest.fixture
def demo(sqlite_directory, capture_relay):
    """What `contacts-tui demo` starts: demo data and a capture relay in this process."""
    seed_demo(sqlite_directory)
    return make_app(sqlite_directory, cursor_blink=False, relay_address=("127.0.0.1", capture_relay.port), demo=True)


async def open_customer(pilot, name: str) -> CustomerScreen:
    await settle(pilot)
    await press(pilot, "slash")
    await type_text(pilot, name)
    await press(pilot, "enter", "enter")
    assert isinstance(pilot.app.screen, CustomerScreen)
    assert pilot.app.screen.customer.name.startswith(name)
    return pilot.app.screen


async def sent(pilot) -> str:
    app = pilot.app
    await wait_for(lambda: [m for m in notifications(app) if m.startswith(("Sent", "Not sent"))])
    await settle(pilot)
    return next(m for m in notifications(app) if m.startswith(("Sent", "Not sent")))


async def test_send_a_billing_sample_and_find_the_bookkeeper_in_cc(demo):
    app = demo
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Demo: open a customer, press s to send a sample, then m to see who was added." in seen(app)
        await open_customer(pilot, "Acme Trading")
        assert "s sample" in screen_text(app)
        await press(pilot, "s")
        assert isinstance(app.screen, SampleDialog)
        text = seen(app)
        assert "1 Billing (Invoices, payments, reminders and direct-debit mandates)" in text
        assert "sends invoice.created; its types: invoice.created," in text
        assert "2 Account" in text and "enter sends · 1-2 send that category · escape cancels" in text
        await press(pilot, "enter")  # billing is highlighted first
        reply = await sent(pilot)
        assert reply.startswith("Sent: 250 ") and "captured as" in reply
        assert reply.endswith("Added as Cc: Beatrice Bookman, Marcus Manning. Press m to see the message.")
        await press(pilot, "m")
        assert isinstance(app.screen, MessagesScreen)
        assert "Your invoice INV-2026-0042" in screen_text(app)
        # The toast said it already; it must not cover the summary lines that say it here.
        assert not [m for m in notifications(app) if m.startswith("Sent")]
        assert "Added as Cc: Beatrice Bookman (opted in to billing)" in seen(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, MessageScreen)
        text = seen(app)
        assert "Cc Beatrice Bookman <bookkeeping@acme-trading.example>" in text
        assert "+ Beatrice Bookman <bookkeeping@acme-trading.example>: opted in to billing" in text
        # Ivy Tran opted in to account only: not a copy of an invoice.
        assert "it@acme-trading.example" not in text
    (record,) = relay_log.captured_messages(5)
    assert "bookkeeping@acme-trading.example" in [a.email for a in record.added]


async def test_a_long_non_ascii_customer_gets_an_account_sample(demo):
    async with demo.run_test(size=SIZE) as pilot:
        await open_customer(pilot, "Müller")
        await press(pilot, "s", "2")
        assert (await sent(pilot)).startswith("Sent: 250 ")
        await press(pilot, "m", "enter")
        assert "Cc Anja Köhler <a.koehler@mueller-soehne.example>" in seen(demo)
        assert "buchhaltung@" not in seen(demo)


async def test_a_sample_nobody_opted_in_to_says_so_and_why(demo):
    async with demo.run_test(size=SIZE) as pilot:
        await open_customer(pilot, "Nordlicht")
        await press(pilot, "s", "2")  # account: Åsa takes billing only, Erik nothing
        reply = await sent(pilot)
        assert reply.startswith("Sent: 250 ")
        assert "Nobody was added: " in reply and "Added as Cc" not in reply
        (entry,) = relay_log.recent_log(5)
        assert f"Nobody was added: {entry.reason}. Press m to see the message." in reply


async def test_the_keys_of_the_demo_are_in_help_and_the_palette(demo):
    async with demo.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in screen_commands(demo.screen)]
        assert "Relay log: what the relay did with each message" in titles
        assert "Captured messages: what a capture relay would have sent" in titles
        await open_customer(pilot, "Acme Trading")
        titles = [command.title for command in screen_commands(demo.screen)]
        assert "Send a sample notification to this customer through the relay" in titles
        await press(pilot, "question_mark")
        text = table_rows(demo.screen)
        for key, words in [
            ("s", "Send a sample notification"),
            ("m", "Captured messages to this customer"),
            ("l", "Relay log entries of this customer"),
        ]:
            assert f"{key} {words}" in text, key


async def test_without_a_relay_s_says_why(sqlite_directory):
    seed_demo(sqlite_directory)
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Demo:" not in screen_text(app)
        screen = await open_customer(pilot, "Acme Trading")
        assert screen.check_action("send_sample", ()) is None  # dimmed in the footer
        await press(pilot, "s")
        assert app.screen is screen
        assert NO_RELAY in notifications(app)
        (command,) = [c for c in screen_commands(screen) if c.title.startswith("Send a sample")]
        assert command.help == f"Not now: {NO_RELAY}"


async def test_a_relay_that_is_down_is_reported(sqlite_directory):
    seed_demo(sqlite_directory)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    app = make_app(sqlite_directory, cursor_blink=False, relay_address=("127.0.0.1", port), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_customer(pilot, "Acme Trading")
        await press(pilot, "s", "1")
        reply = await sent(pilot)
        assert reply.startswith("Not sent: the relay cannot be reached")
        assert isinstance(app.screen, CustomerScreen)


async def test_escape_closes_the_sample_dialog_without_sending(demo):
    async with demo.run_test(size=SIZE) as pilot:
        await open_customer(pilot, "Acme Trading")
        await press(pilot, "s", "escape")
        assert isinstance(demo.screen, CustomerScreen)
        assert not [m for m in notifications(demo) if m.startswith("Sen")]
        assert relay_log.count_captured() == 0


async def test_s_on_the_customers_list_sends_to_the_highlighted_customer(demo):
    async with demo.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "s")
        assert isinstance(demo.screen, SampleDialog)
        assert "Send a sample notification to Acme Trading Ltd" in seen(demo)
        await press(pilot, "1")
        assert (await sent(pilot)).startswith("Sent: 250 ")
        await press(pilot, "m")
        assert "Added as Cc: Beatrice Bookman (opted in to billing)" in seen(demo)


async def test_without_a_relay_s_on_the_customers_list_says_why(app, sqlite_directory):
    seed_demo(sqlite_directory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "s")
        assert NO_RELAY in notifications(app)
        assert not isinstance(app.screen, SampleDialog)
