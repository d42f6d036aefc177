"""End to end in a real terminal: `contacts-tui --db URL` in tmux at 80x24
with TERM=xterm (16 colours), a contact person added by keys alone, then read
back from the database through the directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from contacts_tui.core.records import CustomerInput

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")

DEADLINE = 30.0


class Terminal:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.name = "contacts-" + uuid.uuid4().hex[:8]
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        quoted = " ".join(f"'{part}'" for part in command)
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", f"env {exports} {quoted}"],
            check=True,
        )

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.05)
        raise AssertionError(f"{text!r} did not appear within {DEADLINE} s; the terminal shows:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def quit(self) -> None:
        """Press ctrl+q and wait until the program has ended (its session is gone)."""
        self.keys("C-q")
        deadline = time.monotonic() + DEADLINE
        while self.screen() and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def program() -> list[str]:
    script = Path(sys.executable).with_name("contacts-tui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "contacts_tui.cli"]


def test_add_a_contact_person_by_keys_in_tmux(sqlite_directory, sqlite_url):
    acme = sqlite_directory.create_customer(CustomerInput("Acme Ltd", "billing@acme.example"))
    terminal = Terminal([*program(), "--db", sqlite_url], {"TERM": "xterm", "LANG": "C.UTF-8"})
    try:
        terminal.wait_for("Acme Ltd")
        terminal.wait_for("1 customer")
        terminal.keys("Enter")
        terminal.wait_for("0 of 10 contacts")
        terminal.keys("a")
        terminal.wait_for("New contact person at Acme Ltd")
        terminal.keys("Tab", "Tab", "Tab", "Tab", "Tab", "Space")  # past the fields, role and receive-all: billing on
        terminal.wait_for("on  Invoices")
        terminal.keys("BTab", "BTab", "BTab", "BTab", "BTab")  # back to the name
        terminal.type("Bea Books")
        terminal.keys("Tab")
        terminal.type("bea@acme.example")
        terminal.keys("Tab")
        # ctrl+s right behind the typing, as a paste or a slow link delivers it:
        # the save must see every character.
        terminal.type("+44 161 555 0123")
        terminal.keys("C-s")
        screen = terminal.wait_for("1 of 10 contacts")
        assert "Bea Books" in screen
        terminal.quit()
    finally:
        terminal.close()
    (bea,) = sqlite_directory.list_contacts(acme.id)
    assert (bea.name, bea.email, bea.phone, bea.role) == ("Bea Books", "bea@acme.example", "+44 161 555 0123", "General")
    assert bea.categories == ("billing",) and not bea.receive_all
