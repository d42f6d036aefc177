"""Screenshots of the main screens at 80x24, compared with the accepted ones
in __snapshots__ (pytest --snapshot-update rewrites them after a change that
was looked at)."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.demo_data import seed_demo
from contacts_tui.ui.app import make_app

from .helpers import SIZE, press, settle


@pytest.fixture
def demo(sqlite_directory):
    seed_demo(sqlite_directory)
    return sqlite_directory


def keys(*pressed: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await press(pilot, *pressed)

    return run_before


def test_empty_database(snap_compare, sqlite_directory):
    assert snap_compare(make_app(sqlite_directory, cursor_blink=False), terminal_size=SIZE, run_before=keys())


def test_customers(snap_compare, demo):
    assert snap_compare(make_app(demo, cursor_blink=False), terminal_size=SIZE, run_before=keys())


def test_customer_with_contacts(snap_compare, demo):
    assert snap_compare(make_app(demo, cursor_blink=False), terminal_size=SIZE, run_before=keys("enter"))


def test_customer_at_the_limit(snap_compare, demo):
    app = make_app(demo, cursor_blink=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=keys("slash", *"orbit", "enter", "enter"))


def test_contact_form_with_errors(snap_compare, demo):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await press(pilot, "enter", "a")
        form = pilot.app.screen
        form.query_one("#name").value = ""
        form.query_one("#email").value = "Accounts@Acme-Trading.example"
        form.query_one("#phone").value = "ask reception"
        await press(pilot, "ctrl+s")

    assert snap_compare(make_app(demo, cursor_blink=False), terminal_size=SIZE, run_before=run_before)


def test_bulk_change_confirmation(snap_compare, demo):
    """Two customers marked, their contact persons' Billing switched off: the one
    confirmation, with the count and the records left as they are."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await press(pilot, "space", "space", "x", "down", "enter")

    assert snap_compare(make_app(demo, cursor_blink=False), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, demo):
    assert snap_compare(
        make_app(demo, cursor_blink=False), terminal_size=SIZE, run_before=keys("enter", "question_mark")
    )


@pytest.fixture
def captured(sqlite_directory):
    """Three captured messages and a delivered and a deferred log entry, at fixed times."""
    from .helpers import BEA, captured_row, log_row

    log_row(1)
    log_row(2, status="deferred", attempts=3, last_error="451 4.3.0 mailbox busy", delivered_at=None)
    captured_row(3)
    captured_row(
        4,
        subject="Order #1042 confirmed",
        recipients=("orders@riverside-bakery.example",),
        added=[dict(BEA, name="Rosa Baker", email="rosa@riverside-bakery.example", reason="opted in to account")],
    )
    captured_row(
        5,
        subject="Newsletter",
        recipients=("someone@elsewhere.example",),
        added=[],
        decision="unchanged",
        reason="no recipient is a customer's primary email",
    )
    return sqlite_directory


def mail_app(directory):
    # No refresh timer: a screenshot must not depend on when it fires.
    return make_app(directory, cursor_blink=False, refresh_seconds=0)


def test_messages(snap_compare, captured):
    assert snap_compare(mail_app(captured), terminal_size=SIZE, run_before=keys("m"))


def test_message_summary(snap_compare, captured):
    assert snap_compare(mail_app(captured), terminal_size=SIZE, run_before=keys("m", "end", "enter"))


def test_message_headers(snap_compare, captured):
    assert snap_compare(mail_app(captured), terminal_size=SIZE, run_before=keys("m", "end", "enter", "2"))


def test_relay_log(snap_compare, captured):
    assert snap_compare(mail_app(captured), terminal_size=SIZE, run_before=keys("l"))


@pytest.fixture
def changes(demo):
    """The demo's history, with a customer's own edit, at fixed times and by a fixed admin."""
    import datetime as dt

    from contacts_tui.core.directory.history import Actor
    from contacts_tui.core.models import ChangeRecord
    from contacts_tui.core.records import ContactInput

    first = demo.search_customers("").rows[0]
    person = demo.list_contacts(first.id)[0]
    portal = demo.as_actor(Actor(first.email, "web"))
    portal.update_contact(
        person.id,
        ContactInput(
            person.name, person.email, "+31 20 555 0199", "Bookkeeping", person.receive_all, person.categories
        ),
    )
    start = dt.datetime(2026, 12, 1, 9, 0)
    for row in ChangeRecord.select(ChangeRecord.id, ChangeRecord.channel):
        fields = {"at": start + dt.timedelta(minutes=row.id)}
        if row.channel == "tui":
            fields["who"] = "admin alice"
        ChangeRecord.update(**fields).where(ChangeRecord.id == row.id).execute()
    return demo


def test_history(snap_compare, changes):
    assert snap_compare(make_app(changes, cursor_blink=False), terminal_size=SIZE, run_before=keys("enter", "h"))
