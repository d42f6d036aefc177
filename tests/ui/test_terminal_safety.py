"""Text from mail or from the directory never writes to the admin's terminal.

A subject (an RFC 2047 encoded-word decodes to anything), a body, a header
or a name carrying ``ESC ] 8`` (a hidden link), ``ESC [ 2 J`` (clear the
screen), OSC 52 (the clipboard), a one-byte CSI (``\\x9b``) or a bidi override
is shown with visible stand-ins (␛ for ESC) on every screen, and what the
app draws holds no ESC at all.
"""

from __future__ import annotations

import pytest

from contacts_tui.core.models import Customer
from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.message import TABS

from .helpers import ORIGINAL, RECEIVED_LINE, SIZE, captured_row, log_row, press, screen_text, settle

LINK = "\x1b]8;;http://evil.example\x1b\\"
CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
SUBJECT = f"Invoice {LINK}click{CLEAR} now"
SHOWN_SUBJECT = "Invoice ␛]8;;http://evil.example␛\\click␛[2J now"
HOSTILE = ORIGINAL.replace(b"Subject: Your invoice INV-2024-0042", b"Subject: " + SUBJECT.encode()).replace(
    b"your invoice INV-2024-0042 is attached.", f"pay here {LINK}{CLEAR}{CLIPBOARD}\u202e\x9b31m".encode()
)


@pytest.fixture
def app(sqlite_directory):
    return make_app(sqlite_directory, cursor_blink=False, refresh_seconds=0)


def drawn(app) -> str:
    """Every character the app hands to the terminal for the current screen."""
    text = screen_text(app)
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text and "\u202e" not in text, text
    return text


async def test_a_hostile_subject_and_body_show_as_stand_ins_in_the_list_and_every_tab(app):
    captured_row(1, original=HOSTILE, rewritten=RECEIVED_LINE + HOSTILE, subject=SUBJECT)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "m")
        listed = drawn(app)
        assert "Invoice ␛]8;;http://evil.example␛\\click" in listed  # the table's cell
        await press(pilot, "enter")
        for number, (key, _) in enumerate(TABS, 1):
            await press(pilot, str(number))
            text = " ".join(drawn(app).split())
            if key in ("summary", "headers", "raw"):
                assert SHOWN_SUBJECT in text, key
            if key in ("text", "raw"):
                assert "pay here ␛]8;;http://evil.example␛\\␛[2J␛]52;c;ZXZpbA==␇<U+202E><U+009B>31m" in text, key
        await press(pilot, "o")  # the original as received
        assert SHOWN_SUBJECT in " ".join(drawn(app).split())


async def test_an_encoded_word_that_decodes_to_escapes_is_shown_not_obeyed(app):
    import base64

    word = "=?utf-8?b?" + base64.b64encode(SUBJECT.encode()).decode() + "?="
    original = ORIGINAL.replace(b"Your invoice INV-2024-0042", word.encode())
    captured_row(1, original=original, rewritten=RECEIVED_LINE + original, subject=SUBJECT)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "m", "enter", "2")
        assert "Subject: Invoice" in drawn(app)


async def test_relay_log_lines_and_the_entry_show_stand_ins(app):
    log_row(
        1,
        subject=SUBJECT,
        sender=f"x{CLEAR}@evil.example",
        reason=f"why {LINK}",
        added=[{"email": "b@x.example", "name": f"Bea{CLIPBOARD}", "reason": "opted in"}],
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await press(pilot, "l")
        assert "x␛[2J@evil.example" in drawn(app)
        await press(pilot, "enter")
        text = " ".join(drawn(app).split())
        assert SHOWN_SUBJECT in text and "Bea␛]52;c;ZXZpbA==␇" in text and "why ␛]8;;http://evil.example␛\\" in text


async def test_a_name_written_past_the_directory_rules_is_shown_not_obeyed(app, sqlite_directory):
    # The directory refuses control characters; a row written by hand (or an
    # older program) still must not reach the terminal as they are.
    Customer.insert(
        name=f"Evil{CLEAR} [bold red]Co", name_key="evil", email="e@evil.example", email_key="e@evil.example"
    ).execute()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Evil␛[2J [bold red]Co" in drawn(app)  # Rich markup stays literal too
        await press(pilot, "enter")
        text = drawn(app)
        assert "Evil␛[2J [bold red]Co" in text
        await press(pilot, "d")  # no contact person: the notification names nobody, but the header does
        drawn(app)


async def test_the_admin_forms_show_stand_ins_for_a_name_written_past_the_rules(app, sqlite_directory):
    Customer.insert(
        name=f"Evil{CLEAR}Co", name_key="evil", email="e@evil.example", email_key="e@evil.example"
    ).execute()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "e")  # the customer form, with the name in its input
        text = drawn(app)
        assert "Evil␛[2JCo" in text
