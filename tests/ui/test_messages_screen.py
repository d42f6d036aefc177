"""The captured messages screen: the list with its count and search, the
detail tabs (who was added and why, the header diff with its marks, bodies,
raw), keys between tabs, and clearing with a confirmation."""

from __future__ import annotations

import datetime as dt

import pytest

from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.sample import build_sample, send_sample
from contacts_tui.core.models import CapturedMessage
from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.confirm import Confirm
from contacts_tui.ui.screens.log_entry import LogEntryScreen
from contacts_tui.ui.screens.message import MessageScreen
from contacts_tui.ui.screens.messages import MessagesScreen
from contacts_tui.ui.widgets.mail_tables import MessageTable

from .helpers import (
    ORIGINAL,
    RECEIVED_LINE,
    REWRITTEN,
    SIZE,
    captured_row,
    notifications,
    press,
    screen_text,
    seen,
    settle,
    type_text,
    wait_for,
)

NORDLICHT = {
    "email": "asa@nordlicht.example",
    "name": "Åsa Lindqvist",
    "customer": "faktura@nordlicht.example",
    "reason": "receives all notifications",
}


@pytest.fixture
def app(sqlite_directory):
    return make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0)


@pytest.fixture
def three():
    captured_row(1)
    captured_row(2, subject="Order #1042 confirmed", recipients=("faktura@nordlicht.example",), added=[NORDLICHT])
    captured_row(
        3,
        subject="Newsletter",
        recipients=("someone@elsewhere.example",),
        added=[],
        decision="unchanged",
        reason="no recipient is a customer's primary email",
    )


def subjects(app) -> list[str]:
    return [record.subject for record in app.screen.query_one(MessageTable).records]


async def open_messages(pilot) -> MessagesScreen:
    await settle(pilot)
    await press(pilot, "m")
    assert isinstance(pilot.app.screen, MessagesScreen)
    return pilot.app.screen


async def test_the_list_is_newest_first_with_a_count(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        assert subjects(app) == ["Newsletter", "Order #1042 confirmed", "Your invoice INV-2024-0042"]
        text = screen_text(app)
        assert "3 captured messages, newest first · row 1" in text
        row = next(line for line in text.splitlines() if "Your invoice" in line)
        assert row.startswith(" 03-01 09:31") and "accounts@acme-trading.example" in row
        assert "Added as Cc: nobody" in text
        await press(pilot, "down")
        assert "Added as Cc: Åsa Lindqvist (receives all notifications)" in screen_text(app)


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("nordlicht", ["Order #1042 confirmed"]),  # a recipient
        ("bookkeeping@acme", ["Your invoice INV-2024-0042"]),  # an added person's address
        ("åsa", ["Order #1042 confirmed"]),  # an added person's name, any case
        ("newsletter", ["Newsletter"]),  # the subject
        ("demo-shop", ["Newsletter", "Order #1042 confirmed", "Your invoice INV-2024-0042"]),  # the sender
    ],
)
async def test_search_as_you_type(app, three, words, found):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "slash")
        await type_text(pilot, words)
        assert subjects(app) == found
        assert f"{len(found)} of 3 captured messages match" in screen_text(app)


async def test_one_match_reads_in_the_singular(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "newsletter")
        assert "1 of 3 captured messages matches · row 1" in screen_text(app)


async def test_one_match_of_one_reads_in_the_singular(app):
    captured_row(1)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "invoice")
        assert "1 of 1 captured message matches · row 1" in screen_text(app)


async def test_the_footer_tells_deleting_everything_from_clearing_the_search(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "invoice")
        await press(pilot, "enter")  # to the list, where c works
        footer = screen_text(app).splitlines()[-1]
        assert "c delete all" in footer and "esc clear search" in footer
        assert " c clear" not in f" {footer}"


async def test_a_subject_of_today_and_the_recipient_are_whole_at_80_columns(app):
    # Today's times are short (HH:MM:SS): the subject, not the time, gets the room; the
    # sender, the same on most rows, is on the line under the table and not in a column.
    captured_row(1)
    CapturedMessage.update(received_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)).execute()
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        text = screen_text(app)
        row = next(line for line in text.splitlines() if "Your invoice" in line)
        assert "Your invoice INV-2024-0042 " in row and "accounts@acme-trading.example" in row
        assert "billing@demo-shop.example → accounts@acme-trading.example" in text
    async with make_app(app.directory, cursor_blink=False, refresh_seconds=0).run_test(size=(120, 30)) as pilot:
        await open_messages(pilot)
        row = next(line for line in screen_text(pilot.app).splitlines() if "Your invoice" in line)
        assert "billing@demo-shop.example" in row  # wide enough for a From column again


async def test_a_search_that_finds_nothing_says_how_to_get_back(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "slash")
        await type_text(pilot, "nobody-at-all")
        assert "Nothing matches; 3 captured messages in all. Escape shows them all." in screen_text(app)
        await press(pilot, "escape", "escape")
        assert len(subjects(app)) == 3


async def test_the_summary_says_who_was_added_and_why(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "end", "enter")
        assert isinstance(app.screen, MessageScreen)
        text = seen(app)
        assert "Your invoice INV-2024-0042" in text
        assert "From Demo Shop Billing <billing@demo-shop.example>" in text
        assert "To Acme Trading Ltd <accounts@acme-trading.example>" in text
        assert "Cc Beatrice Bookman <bookkeeping@acme-trading.example>" in text
        assert "Category invoice.created (category billing)" in text
        assert "+ Beatrice Bookman <bookkeeping@acme-trading.example>: opted in to billing" in text
        assert "Decision rewritten: 1 contact person(s) of Acme Trading Ltd opted in to billing" in text


async def test_the_headers_tab_marks_what_the_relay_added(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "end", "enter", "2")
        assert app.screen.query_one("#tabs").active == "headers"
        lines = screen_text(app).splitlines()
        # The mark is the first character of the field: readable without colour.
        assert any(line.startswith(" + Cc: Beatrice Bookman <bookkeeping@acme-trading.example>") for line in lines)
        assert any(line.startswith(" + Received: from shop.example") for line in lines)
        assert any(line.startswith("   Subject: Your invoice INV-2024-0042") for line in lines)
        assert not any(line.startswith(" - ") for line in lines)
        assert "+ the relay added this line, - it removed it" in seen(app)


async def test_a_removed_header_line_is_marked_minus(app):
    original = ORIGINAL.replace(b"Subject:", b"Cc: Old Person <old@acme-trading.example>\r\nSubject:", 1)
    captured_row(1, original=original, rewritten=REWRITTEN)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "enter", "2")
        lines = screen_text(app).splitlines()
        assert any(line.startswith(" - Cc: Old Person <old@acme-trading.example>") for line in lines)
        assert any(line.startswith(" + Cc: Beatrice Bookman") for line in lines)


async def test_the_headers_tab_decodes_encoded_words_and_raw_keeps_them(app):
    original = ORIGINAL.replace(
        b"Subject: Your invoice INV-2024-0042", b"Subject: Facture =?utf-8?b?bsKwIDQy?= pour mars", 1
    )
    rewritten = RECEIVED_LINE + original.replace(
        b"Subject:", b"Cc: =?utf-8?b?SsO8cmdlbiBXZWnDnw==?= <buchhaltung@mueller-soehne.example>\r\nSubject:", 1
    )
    captured_row(1, original=original, rewritten=rewritten)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "enter", "2")
        lines = screen_text(app).splitlines()
        assert any(line.startswith(" + Cc: Jürgen Weiß <buchhaltung@mueller-soehne.example>") for line in lines)
        assert any(line.startswith("   Subject: Facture n° 42 pour mars") for line in lines)
        assert "=?utf-8?" not in screen_text(app)
        await press(pilot, "5")
        assert "Cc: =?utf-8?b?SsO8cmdlbiBXZWnDnw==?= <buchhaltung@mueller-soehne.example>" in screen_text(app)


async def test_o_shows_the_original_as_received_and_back(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "end", "enter")
        footer = lambda: screen_text(app).splitlines()[-1]  # noqa: E731
        assert "o original" in footer()
        await press(pilot, "o")
        assert app.screen.query_one("#tabs").active == "raw"
        text = screen_text(app)
        assert f"The original, as the relay received it ({len(ORIGINAL):,} bytes)" in seen(app)
        assert "Subject: Your invoice INV-2024-0042" in text
        assert "Cc: Beatrice Bookman" not in text and "Received: from shop.example" not in text
        assert "o as sent" in footer()
        await press(pilot, "o")
        text = screen_text(app)
        assert f"As the relay would have sent it ({len(REWRITTEN):,} bytes)" in seen(app)
        assert "Cc: Beatrice Bookman" in text and "Received: from shop.example" in text
        assert "o original" in footer()


async def test_text_html_and_raw_tabs_and_the_keys_between_them(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "end", "enter", "3")
        assert "your invoice INV-2024-0042 is attached." in screen_text(app)
        await press(pilot, "right")
        assert app.screen.query_one("#tabs").active == "html"
        # Readable text first, as a mail client shows it; h shows the source.
        assert "Dear Acme Trading Ltd, your invoice INV-2024-0042 is attached." in seen(app)
        await press(pilot, "h")
        assert "<p>Dear Acme Trading Ltd,</p><p>your invoice <b>INV-2024-0042</b>" in seen(app)
        await press(pilot, "h")
        assert "<p>" not in seen(app)
        await press(pilot, "5")
        text = screen_text(app)
        assert "Received: from shop.example" in text and "Cc: Beatrice Bookman" in text
        assert "--b1" in text
        await press(pilot, "right")
        assert app.screen.query_one("#tabs").active == "summary"
        await press(pilot, "left", "left")
        assert app.screen.query_one("#tabs").active == "html"
        # Long content scrolls with the keys of the tab.
        await press(pilot, "1")
        assert app.screen.focused is app.screen.query_one("#summary-scroll")


async def test_a_long_raw_message_scrolls(app):
    body = b"".join(b"line %d of a long body\r\n" % n for n in range(200))
    captured_row(1, original=ORIGINAL + body, rewritten=REWRITTEN + body)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "enter", "5")
        scroll = app.screen.query_one("#raw-scroll")
        assert scroll.max_scroll_y > 100
        await press(pilot, "end")
        assert scroll.scroll_y == scroll.max_scroll_y
        assert "line 199 of a long body" in screen_text(app)


async def test_l_in_a_message_opens_its_relay_log_entry(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "end", "enter", "l")
        assert isinstance(app.screen, LogEntryScreen)
        assert "Status captured" in seen(app)
        await press(pilot, "escape", "escape")
        assert isinstance(app.screen, MessagesScreen)


async def test_clear_asks_first_and_then_deletes_every_message(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "c")
        assert isinstance(app.screen, Confirm)
        assert "Delete all 3 captured messages?" in seen(app)
        await press(pilot, "n")
        assert relay_log.count_captured() == 3 and len(subjects(app)) == 3
        await press(pilot, "c", "y")
        assert relay_log.count_captured() == 0
        assert "Deleted 3 captured messages." in notifications(app)
        assert subjects(app) == []
        assert "No captured messages." in screen_text(app)
        # The relay log keeps its entries.
        assert len(relay_log.recent_log(10)) == 3
        await press(pilot, "c")
        assert notifications(app).count("There are no captured messages to delete.") == 1
        assert isinstance(app.screen, MessagesScreen)


async def test_m_and_l_go_back_and_forth_without_piling_up_screens(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        depth = len(app.screen_stack)
        await press(pilot, "l", "m", "l", "m")
        assert isinstance(app.screen, MessagesScreen) and len(app.screen_stack) == depth


async def test_a_message_sent_while_the_list_is_open_appears_by_itself(sqlite_directory, capture_relay):
    app = make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        assert "No captured messages" in screen_text(app)
        message = build_sample("Quiet Ltd", "finance@quiet.example", "invoice.created")
        send_sample("127.0.0.1", capture_relay.port, "finance@quiet.example", message)
        # No key pressed.
        await wait_for(lambda: subjects(app) == ["Your invoice INV-2026-0042"])
        await settle(pilot)
        assert "1 captured message, newest first · row 1" in screen_text(app)


async def test_one_message_is_deleted_from_the_list_or_from_its_own_screen(app, three):
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "d")
        assert isinstance(app.screen, Confirm) and "Delete captured message 3?" in seen(app)
        await press(pilot, "n")
        assert len(subjects(app)) == 3
        await press(pilot, "d", "y")
        assert subjects(app) == ["Order #1042 confirmed", "Your invoice INV-2024-0042"]
        assert "Deleted captured message 3." in notifications(app)
        await press(pilot, "enter", "d", "y")
        assert isinstance(app.screen, MessagesScreen)
        assert subjects(app) == ["Your invoice INV-2024-0042"]
        assert relay_log.count_captured() == 1 and relay_log.count_log() == 3  # the relay log keeps its entries


async def test_raw_headers_that_wrap_stay_indented_under_their_name(app):
    received = (
        b"Received: from a-very-long-host-name.shop.example ([192.0.2.1]) by test-relay.localhost "
        b"(Contact Persons relay) with ESMTPSA id 5F3A1C for <accounts@acme-trading.example>; "
        b"Fri, 01 Mar 2024 09:30:05 +0000\r\n"
    )
    captured_row(1, rewritten=received + ORIGINAL)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        await press(pilot, "enter", "5")
        lines = screen_text(app).splitlines()
        first = next(n for n, line in enumerate(lines) if line.lstrip().startswith("Received: from a-very-long"))
        following = lines[first + 1]
        indent = len(lines[first]) - len(lines[first].lstrip())
        assert following.startswith(" " * (indent + 4)) and following.strip(), following


async def test_escape_goes_straight_back_from_the_messages_of_a_customer(app, sqlite_directory, three):
    from contacts_tui.ui.screens.customer import CustomerScreen

    from .helpers import customer

    customer(sqlite_directory, "Acme Trading Ltd", "accounts@acme-trading.example")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "m")
        assert isinstance(app.screen, MessagesScreen) and subjects(app) == ["Your invoice INV-2024-0042"]
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomerScreen)
        # A search typed there is cleared first, as in any list.
        await press(pilot, "m", "slash", *"invoice", "escape", "escape")
        assert isinstance(app.screen, MessagesScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, CustomerScreen)


async def test_chaos_rules_show_above_the_messages_while_they_last(app, three):
    from contacts_tui.core.mail import chaos

    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        assert "Chaos" not in screen_text(app)
        added = chaos.add_rule(chaos.rule("data", "451 4.3.0 Try again later", category="billing", probability=0.5))
        await press(pilot, "r")
        await wait_for(lambda: "Chaos, 1 rule (mail fails on purpose)" in screen_text(app))
        text = " ".join(screen_text(app).split())
        assert f"#{added.id} 451 4.3.0 Try again later (at DATA, category billing, 50% of the time)" in text
        # The messages stay in view under it.
        assert "Newsletter" in text
        chaos.clear_rules()
        await press(pilot, "r")
        await wait_for(lambda: "Chaos" not in screen_text(app))


async def test_a_message_for_two_customers_is_captured_as_its_copies(sqlite_directory, capture_relay):
    import smtplib

    from .helpers import contacts, customer

    acme = customer(sqlite_directory, "Acme Trading Ltd", "accounts@acme-trading.example")
    contacts(
        sqlite_directory, acme.id, [("Beatrice Bookman", "bookkeeping@acme-trading.example")], categories=("billing",)
    )
    beta = customer(sqlite_directory, "Beta Bikes", "office@beta-bikes.example")
    contacts(sqlite_directory, beta.id, [("Carl Cash", "carl@beta-bikes.example")], categories=("billing",))
    data = build_sample("Customers", "undisclosed-recipients:;", "invoice.created")
    with smtplib.SMTP("127.0.0.1", capture_relay.port, timeout=30) as client:
        client.sendmail("billing@demo-shop.example", [acme.email, beta.email, "someone@elsewhere.example"], data)
    app = make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0)
    async with app.run_test(size=SIZE) as pilot:
        await open_messages(pilot)
        records = app.screen.query_one(MessageTable).records
        assert sorted(record.copy_number for record in records) == [1, 2, 3]
        while app.screen.query_one(MessageTable).current().copy_number != 2:
            await press(pilot, "down")
        assert f"billing@demo-shop.example → {beta.email} · copy 2 of 3" in seen(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, MessageScreen)
        await wait_for(lambda: "Copy 2 of 3" in seen(app), lambda: seen(app))
        text = seen(app)
        assert "Cc Carl Cash <carl@beta-bikes.example>" in text and "Beatrice" not in text
        assert "Copy 2 of 3, one per customer: each sees only its own contact persons" in text
        first = next(r for r in records if r.copy_number == 1)
        assert f"1: message {first.id}, to {acme.email}, +1 cc" in text
