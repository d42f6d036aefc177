"""Is the relay fit to take mail? The checks behind /healthz and ``contacts-relay check``
(which checks the upstream itself: relay/cli/check.py).

Each check returns None when all is well, else a sentence saying what is
wrong. They run outside the event loop (an HTTP thread, or the command
line), each with a deadline, since what they look at may hang.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ..queue.appender import write_all

DEADLINE = 3.0  # seconds a check may take before it counts as failed
# A spool with less room than this takes no more mail for long.
LOW_SPACE = 64 * 1024 * 1024


def within(seconds: float, check: Callable[[], str | None], what: str) -> str | None:
    """Run ``check`` in a thread of its own; a check that hangs is a failed one."""
    result: list[str | None] = []

    def run() -> None:
        try:
            result.append(check())
        except Exception as exc:  # any failure of the check is its answer
            result.append(f"{what}: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=run, name=f"health-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if not result:
        return f"{what}: no answer within {seconds:g} s"
    return result[0]


def directory_problem(db_url: str | None, catalog: str | None = None) -> str | None:
    """Whether the directory database is there and answers (opened afresh, never created)."""

    def check() -> str | None:
        from contacts_tui.core.errors import DirectoryError
        from contacts_tui.core.options import Options, open_directory

        try:
            directory = open_directory(Options.from_env(db_url, catalog), must_exist=True)
        except DirectoryError as exc:
            return f"directory: {exc}"
        try:
            directory.resolve([], "")
            directory.counts()
        finally:
            close = getattr(directory.database, "close_all", None) or directory.database.close
            close()
        return None

    return within(DEADLINE, check, "directory")


def spool_problem(root: Path, room_for: int) -> str | None:
    """Whether a file can be written, synced and removed in the spool, with room for a message of ``room_for``."""

    def check() -> str | None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = root / f".health-{secrets.token_hex(4)}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                write_all(fd, b"\0" * 65536)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return f"spool {root} cannot be written: {exc.strerror or exc}"
        finally:
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(root).free
        if free < max(LOW_SPACE, 2 * room_for):
            return f"spool {root} has {free // 1024 // 1024} MiB left, too little for more mail"
        return None

    return within(DEADLINE, check, "spool")
