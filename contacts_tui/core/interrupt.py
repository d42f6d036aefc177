"""Stopping a read that a newer one has made pointless.

A search typed fast asks for a page per keystroke; only the newest matters.
The UI hands each read a ``Stop`` and calls ``stop()`` when a newer one
starts: the statement running in the database ends at once (SQLite through
a progress handler on the reading connection, PostgreSQL through libpq's
cancel request), and the call raises ``Interrupted`` instead of finishing
work nobody will see.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import peewee

from .errors import DirectoryError

# SQLite calls the handler every this many virtual machine steps: well under
# a millisecond apart, yet rare enough to cost nothing measurable.
_STEPS = 20_000


class Interrupted(DirectoryError):
    """The read was stopped because a newer one took its place."""


class Stop:
    """Lets one thread stop the database reads another thread runs under it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped = False
        self._connections: list[object] = []

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the statement running under this Stop, and every later one."""
        with self._lock:
            self._stopped = True
            connections = list(self._connections)
        for connection in connections:
            cancel = getattr(connection, "cancel", None)  # psycopg2
            if cancel is not None:
                try:
                    cancel()
                except Exception:  # noqa: BLE001 - the connection may be gone already; nothing to stop then
                    pass

    def check(self) -> None:
        """Raise Interrupted if stopped: between statements, where no driver notices."""
        if self._stopped:
            raise Interrupted("a newer request took this one's place")

    @contextmanager
    def reading(self, database: peewee.Database) -> Iterator[None]:
        """Run the reads of the body on this thread's connection so that ``stop`` ends them."""
        self.check()
        connection = database.connection()
        if any(connection is known for known in self._connections):
            yield  # a read inside another on the same connection: that one watches
            return
        sqlite = isinstance(connection, sqlite3.Connection)
        if sqlite:
            connection.set_progress_handler(lambda: 1 if self._stopped else 0, _STEPS)
        with self._lock:
            self._connections.append(connection)
        try:
            yield
        except peewee.DatabaseError:
            if self._stopped:
                raise Interrupted("a newer request took this one's place") from None
            raise
        finally:
            with self._lock:
                self._connections.remove(connection)
            if sqlite:
                connection.set_progress_handler(None, _STEPS)
        self.check()
