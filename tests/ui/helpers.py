"""Plain helpers of the UI tests (fixtures are in conftest.py): driving the
app under Pilot and reading the screen, making customers, relay data for the
relay log and captured messages screens (fixed rows, for screenshots whose
times must not move), and the program in a real terminal (tmux)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import added as added_people
from contacts_tui.core.mail.query import search_text
from contacts_tui.core.models import CapturedMessage, RelayLog
from contacts_tui.core.records import ContactInput, CustomerInput, CustomerRecord
from contacts_tui.ui.app import ContactsApp

from ..waiting import poll, wait_until

SIZE = (80, 24)
DEADLINE = 15.0
TERMINAL_DEADLINE = 30.0


async def settle(pilot: Pilot) -> None:
    """Wait until every directory call has answered and the screen is drawn."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers) and not app.keys_waiting:
            await pilot.pause()
            if not any(worker.is_running for worker in app.workers) and not app.keys_waiting:
                return
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a call the next key made unnecessary (an exclusive worker): the loop looks again
    raise AssertionError("the app kept starting directory calls")


async def press(pilot: Pilot, *keys: str) -> None:
    """Press keys one at a time, letting each one's directory call answer."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def burst(pilot: Pilot, *keys: str) -> None:
    """Send keys the way a paste, tmux or a slow SSH link does: all at once,
    none waiting for the one before it to be handled (pilot.press waits).
    A key of one character is that character ("@", "+"); longer ones are key names."""
    from textual.keys import _character_to_key  # the name Textual's own driver gives a character

    app = pilot.app
    for key in keys:
        event = events.Key(_character_to_key(key), key) if len(key) == 1 else events.Key(key, None)
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


def table_rows(help_screen) -> str:
    """The key tables of the help, as text."""
    from rich.console import Console

    console = Console(width=100, record=True, file=open("/dev/null", "w"))
    for widget in help_screen.query("#help-body Static"):
        console.print(widget.content if hasattr(widget, "content") else widget.render())
    return " ".join(console.export_text().split())


def seen(app: ContactsApp) -> str:
    """The screen's words with line breaks and padding folded, for wrapped messages."""
    return " ".join(screen_text(app).split())


async def wait_for(condition: Callable[[], Any], describe: Callable[[], Any] | None = None) -> Any:
    """``wait_until`` with the UI tests' deadline: for mail a relay handles in its own thread."""
    return await wait_until(condition, DEADLINE, describe)


# -- relay data ------------------------------------------------------------

RECEIVED = dt.datetime(2024, 3, 1, 9, 30, 5)
"""Long past, so the screens show date and time, the same on any day."""

ORIGINAL = (
    b"From: Demo Shop Billing <billing@demo-shop.example>\r\n"
    b"To: Acme Trading Ltd <accounts@acme-trading.example>\r\n"
    b"Subject: Your invoice INV-2024-0042\r\n"
    b"Date: Fri, 01 Mar 2024 09:30:04 +0000\r\n"
    b"Message-ID: <inv-0042@demo-shop.example>\r\n"
    b"X-Notification-Category: invoice.created\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Dear Acme Trading Ltd,\r\n\r\nyour invoice INV-2024-0042 is attached.\r\n"
    b"--b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Dear Acme Trading Ltd,</p><p>your invoice <b>INV-2024-0042</b> is attached.</p>\r\n"
    b"--b1--\r\n"
)
RECEIVED_LINE = (
    b"Received: from shop.example ([127.0.0.1]) by test-relay.localhost (Contact Persons relay)\r\n"
    b" with ESMTP id 5F3A1C for <accounts@acme-trading.example>; Fri, 01 Mar 2024 09:30:05 +0000\r\n"
)
REWRITTEN = RECEIVED_LINE + ORIGINAL.replace(
    b"Subject:", b"Cc: Beatrice Bookman <bookkeeping@acme-trading.example>\r\nSubject:", 1
)
BEA = {
    "email": "bookkeeping@acme-trading.example",
    "name": "Beatrice Bookman",
    "customer": "accounts@acme-trading.example",
    "reason": "opted in to billing",
}


def log_row(number: int = 1, **fields: Any) -> int:
    """A relay log entry as the relay writes it; returns its id."""
    values = {
        "received_at": RECEIVED + dt.timedelta(minutes=number),
        "updated_at": RECEIVED + dt.timedelta(minutes=number),
        "relay": "test-relay.localhost",
        "queue_id": f"5F3A{number:04X}",
        "message_id": f"<msg-{number}@demo-shop.example>",
        "sender": "billing@demo-shop.example",
        "recipients": json.dumps(["accounts@acme-trading.example"]),
        "subject": f"Your invoice INV-2024-{number:04d}",
        "category": "invoice.created",
        "category_key": "billing",
        "customers": json.dumps(["accounts@acme-trading.example"]),
        "added": json.dumps([BEA]),
        "decision": "rewritten",
        "reason": "1 contact person(s) of Acme Trading Ltd opted in to billing",
        "status": "delivered",
        "attempts": 1,
        "size": len(ORIGINAL),
        "delivered_at": RECEIVED + dt.timedelta(minutes=number, seconds=2),
    }
    values.update(fields)
    for name in ("recipients", "customers", "added"):
        if not isinstance(values[name], str):
            values[name] = json.dumps(values[name])
    return RelayLog.insert(**values).execute()


def captured_row(
    number: int = 1,
    *,
    original: bytes = ORIGINAL,
    rewritten: bytes = REWRITTEN,
    added: list | None = None,
    subject: str = "Your invoice INV-2024-0042",
    recipients: tuple[str, ...] = ("accounts@acme-trading.example",),
    **log_fields: Any,
) -> int:
    """A captured message with its log entry, as a capture relay stores them; returns its id."""
    added = [BEA] if added is None else added
    log_id = log_row(
        number,
        status="captured",
        attempts=0,
        delivered_at=None,
        subject=subject,
        recipients=list(recipients),
        added=added,
        **log_fields,
    )
    searchable = search_text(
        "billing@demo-shop.example",
        subject,
        "invoice.created",
        "",
        tuple(recipients),
        added_people.from_json(json.dumps(added)),
    )
    return CapturedMessage.insert(
        log=log_id,
        received_at=RECEIVED + dt.timedelta(minutes=number),
        sender="billing@demo-shop.example",
        recipients=json.dumps(list(recipients)),
        subject=subject,
        message_id=f"<msg-{number}@demo-shop.example>",
        category="invoice.created",
        added=json.dumps(added),
        search_text=searchable,
        original=original,
        message=rewritten,
        size=len(rewritten),
    ).execute()


# -- a real terminal -------------------------------------------------------

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


class Terminal:
    """A command in a tmux session at 80x24 (or ``size``), read by polling the screen against a deadline.

    Each has a tmux server of its own (-L): a session started while the last
    one's server was still going away took that server's size."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = SIZE) -> None:
        self.name = "contacts-" + uuid.uuid4().hex[:8]
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        quoted = " ".join(f"'{part}'" for part in command)
        width, height = size
        subprocess.run(
            # COLUMNS and LINES from the test run would win over the terminal's real size.
            [
                "tmux",
                "-L",
                self.name,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                f"env -u COLUMNS -u LINES {exports} {quoted}",
            ],
            check=True,
        )

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.name, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return result.stdout

    def wait_for(self, text: str) -> str:
        return poll(
            lambda: text in (screen := self.screen()) and screen,
            TERMINAL_DEADLINE,
            lambda: f"{text!r} did not appear; the terminal shows:\n{self.screen()}",
            interval=0.05,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.name, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "-L", self.name, "send-keys", "-t", self.name, "-l", text], check=True)

    def paste(self, text: str) -> None:
        """Paste as a terminal does: the text in one piece, in bracketed-paste marks."""
        buffer = "paste-" + self.name
        subprocess.run(["tmux", "-L", self.name, "set-buffer", "-b", buffer, "--", text], check=True)
        subprocess.run(["tmux", "-L", self.name, "paste-buffer", "-p", "-d", "-b", buffer, "-t", self.name], check=True)

    def quit(self) -> None:
        """Press ctrl+q and wait until the program has ended (its session is gone)."""
        self.keys("C-q")
        poll(lambda: not self.screen(), TERMINAL_DEADLINE, interval=0.05, fail=False)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-session", "-t", self.name], capture_output=True)


def program() -> list[str]:
    script = Path(sys.executable).with_name("contacts-tui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "contacts_tui.cli"]
