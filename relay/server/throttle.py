"""Failed AUTH attempts, counted per client address and per account by every worker of a relay.

A relay runs as several worker processes (``--workers``), so a count kept in
one process's memory lets a guesser multiply the limit by the number of
workers. The count lives in a small SQLite file in the spool folder, the
folder the workers already share: the kernel drops a dead process's locks (a
worker killed with -9 leaves nothing held, where a semaphore in shared memory
would stay taken), a relay that restarts finds the count where it was, and
it costs the directory database no write and no schema change. Several
relays on several hosts each keep their own count.

Every attempt is written down as a failure *before* its password is checked
and taken off again only if the password was right, in one transaction with
the check of the limit: a burst of sessions guessing at once is admitted
only up to the limit, and a good login in between takes nothing off the
other attempts' count. A limit is per client address (an IPv6 client by its
/64, the block one host usually has) and per account (a user name, known or
not, so that guessing from many addresses stops too). An address that
signed in as the account within ``TRUSTED_FOR`` is not held back by that
account's failures from elsewhere: someone guessing at the billing app's
account from outside does not lock the billing app out.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

FILE_NAME = "auth-failures.sqlite"
FAILURES = 5  # within WINDOW seconds, per client address and per account; more are refused unchecked
WINDOW = 60.0
TRUSTED_FOR = 7 * 24 * 3600.0  # seconds an address that signed in as an account stays exempt from its limit
_KEY_LIMIT = 256  # characters of a user name kept as its key: the client chooses it
_BUSY_TIMEOUT = 5.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS failure (client TEXT NOT NULL, account TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failure_client ON failure (client, at)",
    "CREATE INDEX IF NOT EXISTS failure_account ON failure (account, at)",
    "CREATE INDEX IF NOT EXISTS failure_at ON failure (at)",
    "CREATE TABLE IF NOT EXISTS signed_in (account TEXT NOT NULL, client TEXT NOT NULL, at REAL NOT NULL, "
    "PRIMARY KEY (account, client))",
)


class Refusal(enum.Enum):
    """Why an attempt is refused unchecked."""

    CLIENT = "client"
    ACCOUNT = "account"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Ticket:
    """An attempt admitted for checking, counted as failed until ``settle`` says otherwise."""

    row: int
    client: str
    account: str


def client_key(peer_ip: str | None) -> str:
    """Whom a limit per address counts: the IPv4 address, or an IPv6 address's /64."""
    if not peer_ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return peer_ip[:_KEY_LIMIT]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AuthThrottle:
    """The shared count of failed AUTH attempts in ``path`` (see the module docstring).

    Its methods block on the file: call them from a thread, never the event loop.
    """

    def __init__(
        self,
        path: Path,
        *,
        failures: int = FAILURES,
        window: float = WINDOW,
        trusted_for: float = TRUSTED_FOR,
        clock=time.time,
    ) -> None:
        self.path = path
        self.failures, self.window, self.trusted_for = failures, window, trusted_for
        self._clock = clock  # wall time: the count outlives processes and restarts
        self._local = threading.local()

    def admit(self, peer_ip: str | None, user: str) -> Ticket | Refusal:
        """Count an attempt as failed and admit it for checking, or say why it is refused unchecked."""
        client, account = client_key(peer_ip), user[:_KEY_LIMIT]
        try:
            with self._transaction() as db:
                now = self._clock()
                since = now - self.window
                db.execute("DELETE FROM failure WHERE at < ?", (since,))
                if _count(db, "client", client, since) >= self.failures:
                    return Refusal.CLIENT
                trusted = db.execute(
                    "SELECT 1 FROM signed_in WHERE account = ? AND client = ? AND at >= ?",
                    (account, client, now - self.trusted_for),
                ).fetchone()
                if not trusted and _count(db, "account", account, since) >= self.failures:
                    return Refusal.ACCOUNT
                row = db.execute("INSERT INTO failure VALUES (?, ?, ?)", (client, account, now)).lastrowid
        except sqlite3.Error as exc:
            # Unchecked rather than unlimited: a guesser must not gain from a full disk.
            logger.error("AUTH refused: the count of failed attempts in %s cannot be used (%s)", self.path, exc)
            return Refusal.UNAVAILABLE
        return Ticket(row or 0, client, account)

    def settle(self, ticket: Ticket, ok: bool) -> None:
        """Record the checked attempt: a right password takes its failure off and trusts the address."""
        try:
            with self._transaction() as db:
                now = self._clock()
                if ok:
                    db.execute("DELETE FROM failure WHERE rowid = ?", (ticket.row,))
                    db.execute(
                        "INSERT OR REPLACE INTO signed_in VALUES (?, ?, ?)", (ticket.account, ticket.client, now)
                    )
                    db.execute("DELETE FROM signed_in WHERE at < ?", (now - self.trusted_for,))
                else:
                    # The window runs from the answer, as the client saw it.
                    db.execute("UPDATE failure SET at = ? WHERE rowid = ?", (now, ticket.row))
        except sqlite3.Error as exc:
            logger.error("AUTH: cannot record an attempt in %s (%s)", self.path, exc)

    def _transaction(self) -> _Transaction:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
        return _Transaction(connection)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        try:
            # No fsync per attempt: a count lost with the machine's power costs
            # a guesser's next minute nothing it did not have.
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                connection.execute(statement)
        except sqlite3.Error:
            connection.close()
            raise
        return connection


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the check and the count as one step for every process."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback) -> None:
        self.connection.execute("COMMIT" if kind is None else "ROLLBACK")


def _count(db: sqlite3.Connection, column: str, key: str, since: float) -> int:
    return db.execute(f"SELECT COUNT(*) FROM failure WHERE {column} = ? AND at >= ?", (key, since)).fetchone()[0]
