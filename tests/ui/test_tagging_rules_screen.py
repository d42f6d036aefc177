"""The tagging rules screen under Pilot at 80x24: an admin whose sender cannot add a
header writes a rule, sees what it would have tagged in last week's mail as they
type, turns it on, and sees the next message captured with the contacts in Cc."""

from __future__ import annotations

import smtplib

import pytest

from contacts_tui.core.tagging import store
from contacts_tui.ui.app import make_app
from contacts_tui.ui.screens.log_entry import LogEntryScreen
from contacts_tui.ui.screens.message import MessageScreen
from contacts_tui.ui.screens.messages import MessagesScreen
from contacts_tui.ui.screens.relay_log import LogScreen
from contacts_tui.ui.screens.tagging_rule_form import TaggingRuleForm
from contacts_tui.ui.screens.tagging_rules import TaggingRulesScreen

from ..notifications import SENDER, dutch_invoice, english_invoice, newsletter
from .helpers import (
    SIZE,
    burst,
    contacts,
    customer,
    notifications,
    press,
    screen_text,
    seen,
    settle,
    type_text,
    wait_for,
)

ACME = "accounts@acme-trading.example"


def mail(port: int, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.sendmail(SENDER, [ACME], data)


@pytest.fixture
def acme(sqlite_directory):
    acme = customer(sqlite_directory, "Acme Trading Ltd", ACME)
    contacts(
        sqlite_directory,
        acme.id,
        [("Beatrice Bookman", "bookkeeping@acme-trading.example")],
        categories=frozenset({"billing"}),
    )
    contacts(sqlite_directory, acme.id, [("Ivy Tran", "it@acme-trading.example")], categories=frozenset({"account"}))
    return acme


async def test_write_a_rule_see_last_weeks_figure_turn_it_on_and_see_the_next_message(
    sqlite_directory, acme, capture_relay
):
    for data in (dutch_invoice(ACME), dutch_invoice(ACME, "F2026-0043"), newsletter(ACME), english_invoice(ACME)):
        mail(capture_relay.port, data)
    app = make_app(sqlite_directory, cursor_blink=False, relay_address=("127.0.0.1", capture_relay.port))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "t")
        assert isinstance(app.screen, TaggingRulesScreen)
        assert "No tagging rules yet: a adds one." in seen(app)
        await press(pilot, "a")
        form = app.screen
        assert isinstance(form, TaggingRuleForm)
        assert app.focused.id == "category"
        await press(pilot, "enter")  # open the list of categories and types
        await press(pilot, "down", "enter")  # billing, the first after the prompt
        assert form.query_one("#category").value == "billing"
        await press(pilot, "tab", "tab", "tab")  # From, how to compare the Subject, the Subject
        assert app.focused.id == "subject"
        # Typed as a paste or tmux sends it, each key starting a try before the last one ended:
        # the figure shown is the newest text's.
        await burst(pilot, *"Factuur F2026-0043")
        one = "This rule would have tagged 1 of last week's 4 untagged messages, adding 1 copy."
        await wait_for(lambda: one in seen(app), lambda: seen(app))
        await burst(pilot, *["backspace"] * len(" F2026-0043"))
        two = "This rule would have tagged 2 of last week's 4 untagged messages, adding 2 copies."
        await wait_for(lambda: two in seen(app), lambda: seen(app))
        assert form.draft().subject == "Factuur"
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, TaggingRulesScreen)
        assert "Rule 1 tags billing (off: the relay does not use it) when" in screen_text(app)
        await press(pilot, "space")
        assert "Rule 1 is on: the relay uses it from the next message." in notifications(app)
        assert "Rule 1 tags billing (on: the relay uses it) when" in screen_text(app)

        mail(capture_relay.port, dutch_invoice(ACME, "F2026-0044"))
        await press(pilot, "escape", "m")
        assert isinstance(app.screen, MessagesScreen)
        await wait_for(lambda: "F2026-0044" in seen(app) or app.screen.action_refresh(), lambda: seen(app))
        await settle(pilot)
        assert "Added as Cc: Beatrice Bookman (opted in to billing)" in seen(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, MessageScreen)
        text = seen(app)
        assert "Cc Beatrice Bookman <bookkeeping@acme-trading.example>" in text
        assert "Tagged by rule 1: Subject contains 'Factuur'" in text
        await press(pilot, "escape", "escape", "l")
        assert isinstance(app.screen, LogScreen)
        await press(pilot, "enter")
        assert isinstance(app.screen, LogEntryScreen)
        text = seen(app)
        assert "Tagged by rule 1: Subject contains 'Factuur'" in text
        assert "tagged billing by rule 1: Subject contains 'Factuur'" in text


async def test_rules_move_switch_and_are_removed_with_keys(sqlite_directory):
    from contacts_tui.core.directory.history import Actor
    from contacts_tui.core.tagging.rule import RuleInput

    actor = Actor("admin ann", "cli")
    for subject in ("Invoice", "Factuur", "Herinnering"):
        store.add_rule(RuleInput(category="billing", subject=subject), sqlite_directory.catalog, actor)
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await type_text(pilot, "tagging rules")
        await press(pilot, "enter")
        assert isinstance(app.screen, TaggingRulesScreen)
        await press(pilot, "j", "K")  # Factuur up, to the top
        assert [r.subject for r in store.current_rules()] == ["Factuur", "Invoice", "Herinnering"]
        assert app.screen.table.current().subject == "Factuur"
        await press(pilot, "K")
        assert "This rule is tried first already" in notifications(app)
        await press(pilot, "J", "J")
        assert [r.subject for r in store.current_rules()] == ["Invoice", "Herinnering", "Factuur"]
        await press(pilot, "space")
        assert [r.enabled for r in store.current_rules()] == [False, False, True]
        await press(pilot, "d", "y")
        assert [r.subject for r in store.current_rules()] == ["Invoice", "Herinnering"]
        actions = [change.action for change in sqlite_directory.history()][:4]
        assert actions == ["tagging rule removed", "tagging rule enabled", "tagging rule moved", "tagging rule moved"]
        assert sqlite_directory.history()[0].who.startswith("admin ")
        assert sqlite_directory.history()[0].channel == "tui"


async def test_a_pattern_that_cannot_be_used_is_shown_under_its_field_and_nothing_is_lost(sqlite_directory):
    app = make_app(sqlite_directory, cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "t", "a", "enter", "down", "enter", "tab", "tab")
        assert app.focused.id == "subject_match"
        await press(pilot, "enter", "down", "enter")  # pattern
        await press(pilot, "tab")
        await type_text(pilot, "Factuur (\\d+")
        await wait_for(lambda: "Not tried yet" in seen(app), lambda: seen(app))
        assert "a ( is not closed at character 9" in seen(app)
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, TaggingRuleForm)
        assert "The Subject pattern cannot be used: a ( is not closed at character 9" in seen(app)
        assert app.screen.query_one("#subject").value == "Factuur (\\d+"
        assert store.current_rules() == []
