"""The tagging rules by keys alone in a real terminal: `contacts-tui` in tmux at 80x24
(TERM=xterm, 16 colours), a capture relay beside it. A rule is written, its figure
for last week's mail read off the screen, turned on, and the next message arrives
with the bookkeeper in Cc."""

from __future__ import annotations

import smtplib

import pytest

from contacts_tui.core.tagging import store

from ..notifications import SENDER, dutch_invoice, newsletter
from .helpers import Terminal, contacts, customer, needs_tmux, program

pytestmark = [needs_tmux, pytest.mark.slow]

ACME = "accounts@acme-trading.example"


def mail(port: int, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.sendmail(SENDER, [ACME], data)


def test_a_rule_written_tried_and_turned_on_by_keys_in_tmux(sqlite_directory, sqlite_url, capture_relay):
    acme = customer(sqlite_directory, "Acme Trading Ltd", ACME)
    contacts(
        sqlite_directory,
        acme.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        categories=frozenset({"billing"}),
    )
    for data in (dutch_invoice(ACME), newsletter(ACME)):
        mail(capture_relay.port, data)
    terminal = Terminal([*program(), "--db", sqlite_url], {"TERM": "xterm", "LANG": "C.UTF-8"})
    try:
        terminal.wait_for("1 customer")
        terminal.keys("t")
        # The catalog's six example rules, off, come with a new database.
        terminal.wait_for("Subject contains 'Factuur'")
        terminal.keys("a")
        terminal.wait_for("New tagging rule")
        terminal.keys("Enter", "Down", "Enter")  # billing
        terminal.keys("Tab", "Tab", "Tab")  # From, how the Subject compares, the Subject
        terminal.type("Factuur")
        screen = terminal.wait_for("This rule would have tagged 1 of last week's 2 untagged")
        assert "adding 1 copy" in " ".join(screen.split())
        terminal.keys("C-s")
        terminal.wait_for("Rule 7 tags billing (off")
        terminal.keys("Space")
        terminal.wait_for("Rule 7 tags billing (on")
        mail(capture_relay.port, dutch_invoice(ACME, "F2026-0044"))
        terminal.keys("Escape")  # alone: ESC and m together read as alt+m
        terminal.wait_for("1 customer")
        terminal.keys("m")
        terminal.wait_for("F2026-0044")
        terminal.wait_for("Added as Cc: Beatrice Bookman")
        terminal.quit()
    finally:
        terminal.close()
    assert [rule.enabled for rule in store.current_rules()] == [False] * 6 + [True]
