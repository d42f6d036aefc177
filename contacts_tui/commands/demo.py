"""`contacts-tui demo`: demo data, a capture relay in this process and the TUI, in one command."""

from __future__ import annotations

import sys
from pathlib import Path

from contacts_tui.core.settings import Settings, open_directory


def run_demo(settings: Settings, explicit_db: bool) -> int:
    """Demo data, a capture relay in this process, and the TUI wired to both."""
    from contextlib import ExitStack
    from dataclasses import replace

    from contacts_tui.core.db import APP_NAME
    from contacts_tui.core.demo_data import DemoRunning, demo_lock, seed_demo
    from platformdirs import user_data_dir
    from relay.config import RelayConfig
    from relay.app import RelayThread

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
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            settings = replace(settings, db_url=f"sqlite:///{path}")
            # The TUI covers the terminal; this stays readable once it closes.
            print(f"Starting the demo with fresh demo data in {path}")
            print(f"(read what it captured later with: contacts-relay --db {path} messages list)")
        directory = open_directory(settings)
        if directory.counts()[0] == 0:
            seed_demo(directory)
        relay = RelayThread(
            RelayConfig(listen_host="127.0.0.1", listen_port=0, capture=True, hostname="demo-relay.localhost"),
            directory,
        ).start()
        try:
            from contacts_tui.ui.app import make_app

            make_app(directory, relay_address=("127.0.0.1", relay.port), demo=True).run()
        finally:
            relay.stop()
    return 0
