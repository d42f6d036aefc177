"""`contacts-tui demo`: demo data, a capture relay in this process and the TUI, in one command."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

from contacts_tui.core.options import Options, open_directory

DEMO_PORTS = range(2525, 2535)
"""Where the demo's relay listens: 2525, the relay's own default, so a mail
sender can be pointed at the address the README names; the next ones when
another program holds it, and any free port as the last resort."""
INBOX_PORTS = range(8025, 8035)
"""Where the demo's web inbox listens: 8025, Mailpit's port, so test helpers
made for Mailpit find it where they look first; then the next ones."""


def run_demo(options: Options, explicit_db: bool, need_a_terminal=lambda: None) -> int:
    """Demo data, a capture relay in this process, and the TUI wired to both.

    ``need_a_terminal`` raises when there is none to show the TUI on: asked
    once a second demo has been refused, before any data is touched."""
    from contextlib import ExitStack
    from dataclasses import replace

    from platformdirs import user_data_dir

    from contacts_tui.core.db import APP_NAME, redact, resolve_url
    from contacts_tui.core.directory.demo_data import DemoRunning, demo_lock, seed_demo

    with ExitStack() as held:
        if not explicit_db:
            # The demo never touches the real default database; it starts afresh.
            folder = Path(user_data_dir(APP_NAME))
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "demo.db"
            try:
                # Starting afresh deletes the file: never under a demo that is still using it.
                held.enter_context(demo_lock(path))
            except DemoRunning as exc:
                print(f"contacts-tui: {exc}; its data is in {path}", file=sys.stderr)
                return 1
            need_a_terminal()
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            options = replace(options, db_url=f"sqlite:///{path}")
            print(f"Starting the demo with fresh demo data in {path}")
        else:
            need_a_terminal()
        where = str(path) if not explicit_db else redact(resolve_url(options.db_url))
        directory = open_directory(options)
        if directory.counts()[0] == 0:
            seed_demo(directory)
        relay = _start_relay(directory)
        later = f"{relay_command()} --db {where} messages list"
        # The TUI covers the terminal; these lines stay readable once it closes.
        print(f"Its relay captures what mail senders send to 127.0.0.1:{relay.port}.")
        if relay.relay.inbox is not None:
            print(f"Its web inbox and Mailpit-compatible API: http://127.0.0.1:{relay.relay.inbox.port}/")
        print(f"(read what it captured later with: {later})")
        try:
            from contacts_tui.ui.app import make_app

            make_app(directory, relay_address=("127.0.0.1", relay.port), demo=True, read_later=later).run()
        finally:
            relay.stop()
        print(f"The demo has ended; what its relay captured stays in {where}: {later}")
    return 0


def _start_relay(directory):
    from relay.app import RelayThread
    from relay.config import RelayConfig

    inbox_port = next((port for port in INBOX_PORTS if _free(port)), 0)

    def start(port: int):
        config = RelayConfig(
            listen_host="127.0.0.1",
            listen_port=port,
            capture=True,
            hostname="demo-relay.localhost",
            http_host="127.0.0.1",
            http_port=inbox_port,
        )
        return RelayThread(config, directory).start()

    for port in DEMO_PORTS:
        if _free(port):
            try:
                return start(port)
            except OSError:
                continue  # taken between the look and the start
    return start(0)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def relay_command() -> str:
    """How to run contacts-relay from the shell the demo was started in: its
    name when the shell finds this one, else its path (the quick start's
    virtualenv is not activated)."""
    beside = Path(sys.executable).with_name("contacts-relay")
    found = shutil.which("contacts-relay")
    if found and beside.exists() and Path(found).resolve() == beside.resolve():
        return "contacts-relay"
    if beside.exists():
        return str(beside)
    return f"{sys.executable} -m relay.cli"
