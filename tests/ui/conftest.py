"""The real app over a real SQLite directory, driven by Pilot at 80x24."""

from __future__ import annotations

from typing import Iterable

import pytest
from textual import events
from textual.pilot import Pilot

from contacts_tui.core.directory import Directory
from contacts_tui.core.records import ContactInput, CustomerInput, CustomerRecord
from contacts_tui.ui.app import ContactsApp, make_app

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def utc(local_zone):
    """Times on screen are local; in the tests local is UTC, so screenshots match anywhere."""
    local_zone("UTC")


@pytest.fixture
def app(sqlite_directory: Directory) -> ContactsApp:
    return make_app(sqlite_directory, cursor_blink=False)


async def settle(pilot: Pilot) -> None:
    """Wait until every directory call has answered and the screen is drawn."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers):
            await pilot.pause()
            if not any(worker.is_running for worker in app.workers):
                return
        await app.workers.wait_for_complete()
    raise AssertionError("the app kept starting directory calls")


async def press(pilot: Pilot, *keys: str) -> None:
    """Press keys one at a time, letting each one's directory call answer."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def burst(pilot: Pilot, *keys: str) -> None:
    """Send keys the way a paste, tmux or a slow SSH link does: all at once,
    none waiting for the one before it to be handled (pilot.press waits).
    Characters are letters, digits and spaces; longer keys are key names."""
    app = pilot.app
    for key in keys:
        character = key if len(key) == 1 else None
        event = events.Key("space" if key == " " else key, character)
        event.set_sender(app)
        app.post_message(event)
    await settle(pilot)


async def type_text(pilot: Pilot, text: str) -> None:
    await pilot.press(*text)
    await settle(pilot)


def screen_text(app: ContactsApp) -> str:
    """What the terminal shows, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in strips)


def notifications(app: ContactsApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def customer(directory: Directory, name: str, email: str, phone: str = "") -> CustomerRecord:
    return directory.create_customer(CustomerInput(name, email, phone))


def contacts(directory: Directory, customer_id: int, people: Iterable[tuple[str, str]], **fields) -> list:
    return [directory.add_contact(customer_id, ContactInput(name, email, **fields)) for name, email in people]


def seen(app: ContactsApp) -> str:
    """The screen's words with line breaks and padding folded, for wrapped messages."""
    return " ".join(screen_text(app).split())
