"""A relay in capture mode inside the test process, as ``contacts-tui demo`` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contacts_tui.core.directory.service import Directory
from relay.app import RelayThread
from relay.config import RelayConfig


@contextmanager
def capture_relay(directory: Directory, folder: Path) -> Iterator[RelayThread]:
    """A capturing relay on an ephemeral loopback port, its spool under ``folder``."""
    config = RelayConfig(
        listen_host="127.0.0.1", listen_port=0, capture=True, hostname="test-relay.localhost", spool=folder / "spool"
    )
    relay = RelayThread(config, directory).start()
    try:
        yield relay
    finally:
        relay.stop()
