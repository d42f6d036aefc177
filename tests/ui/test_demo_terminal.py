"""The README's first command in a real terminal: `contacts-tui demo` in tmux at
80x24 with TERM=xterm, a billing sample sent by keys alone, and the captured
message read off the screen with the bookkeeper in its Cc."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from contacts_tui.commands.demo import DEMO_PORTS, INBOX_PORTS

from .helpers import Terminal, needs_tmux, program

pytestmark = [pytest.mark.slow, needs_tmux]


def test_demo_sends_a_sample_and_shows_the_bookkeeper_in_cc(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # the test's own home (isolated_environment)
    env = {"TERM": "xterm", "LANG": "C.UTF-8", "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    terminal = Terminal([*program(), "demo"], env)
    try:
        screen = terminal.wait_for("52 customers")
        assert "Demo: open a customer, press s to send a sample, then m to see who was added." in screen
        # The relay's address is on screen, so a mail sender outside can be pointed at it.
        port = int(re.search(r"Its relay listens on 127\.0\.0\.1:(\d+) \(capture only\)", screen).group(1))
        assert port in DEMO_PORTS
        terminal.keys("Enter")  # Acme Trading Ltd is the first row
        terminal.wait_for("3 of 10 contacts")
        terminal.keys("s")
        terminal.wait_for("Which category?")
        terminal.keys("1")
        screen = terminal.wait_for("Press m")
        assert re.search(r"Sent: 250 2\.0\.0 Ok: captured as \d+", " ".join(screen.split()))
        terminal.keys("m")
        terminal.wait_for("Your invoice INV-")
        terminal.keys("Enter")
        screen = terminal.wait_for("Decision")
        cc = next(line for line in screen.splitlines() if line.startswith(" Cc "))
        assert "Beatrice Bookman <bookkeeping@acme-trading.example>" in cc
        assert "bookkeeping@acme-trading.example>: opted in to billing" in " ".join(screen.split())
        terminal.quit()
    finally:
        terminal.close()
    # The demo keeps its database in the user data directory it was given, not the real one.
    assert (home / "data" / "contact-persons" / "demo.db").exists()


def test_a_second_demo_refuses_while_the_first_runs_and_leaves_its_data(tmp_path):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # the test's own home (isolated_environment)
    env = {"TERM": "xterm", "LANG": "C.UTF-8", "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    database = home / "data" / "contact-persons" / "demo.db"
    # The shell keeps the terminal open after the demo, to read what it printed before the TUI.
    terminal = Terminal(["sh", "-c", " ".join([*program(), "demo"]) + "; echo demo ended; sleep 60"], env)
    try:
        terminal.wait_for("52 customers")
        before = database.stat().st_ino
        second = subprocess.run(
            [*program(), "demo"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert second.returncode == 1
        assert re.search(r"a demo is already running \(pid \d+\); quit it first", second.stderr)
        assert str(database) in second.stderr
        assert database.stat().st_ino == before
        # The first demo still works on its own data.
        terminal.keys("s")
        terminal.wait_for("Which category?")
        terminal.keys("1")
        terminal.wait_for("Sent: 250")
        terminal.keys("C-q")
        # tmux wraps the long path at 80 columns anywhere, spaces included: compare without them.
        screen = "".join(terminal.wait_for("demo ended").split())
        for said in (
            f"Starting the demo with fresh demo data in {database}",
            f"contacts-relay --db {database} messages list",
        ):
            assert "".join(said.split()) in screen, said
    finally:
        terminal.close()


def test_the_demo_relay_takes_the_next_port_when_2525_is_taken_and_says_which(tmp_path):
    import smtplib
    import socket

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # the test's own home (isolated_environment)
    env = {"TERM": "xterm", "LANG": "C.UTF-8", "HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for held in DEMO_PORTS:
            try:
                taken.bind(("127.0.0.1", held))
                break
            except OSError:
                continue
        taken.listen()
        terminal = Terminal(["sh", "-c", " ".join([*program(), "demo"]) + "; echo demo ended; sleep 60"], env)
        try:
            screen = terminal.wait_for("52 customers")
            port = int(re.search(r"Its relay listens on 127\.0\.0\.1:(\d+)", screen).group(1))
            assert port != held and port in DEMO_PORTS
            # An outside sender reaches it there.
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail(
                    "shop@outside.example",
                    ["accounts@acme-trading.example"],
                    b"Subject: From outside\r\nX-Notification-Category: billing\r\n\r\nhi\r\n",
                )
            terminal.keys("m")
            terminal.wait_for("From outside")

            terminal.keys("C-q")
            said = "".join(terminal.wait_for("demo ended").split())
            assert f"listens on 127.0.0.1:{port}" in " ".join(screen.split()) and f"127.0.0.1:{port}." in said
            # It said where its web inbox was.
            inbox = re.search(r"Mailpit-compatibleAPI:http://127\.0\.0\.1:(\d+)/", said)
            assert inbox and int(inbox.group(1)) in INBOX_PORTS, said
        finally:
            terminal.close()


def test_the_demo_relay_serves_the_web_inbox_with_what_it_captured(sqlite_directory):
    import json
    import smtplib
    import urllib.request

    from contacts_tui.commands.demo import _start_relay

    relay = _start_relay(sqlite_directory)
    try:
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as client:
            client.sendmail("shop@outside.example", ["owner@acme.example"], b"Subject: Seen in the inbox\r\n\r\nhi\r\n")
        url = f"http://127.0.0.1:{relay.relay.inbox.port}/api/v1/messages"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert [m["Subject"] for m in json.load(answer)["messages"]] == ["Seen in the inbox"]
    finally:
        relay.stop()
