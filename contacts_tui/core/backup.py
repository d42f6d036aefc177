"""Backups of an SQLite directory while its programs keep running, and restoring one.

``backup`` copies the database with SQLite's online backup API in one step:
one read transaction, so the copy is the database as it stood at one
instant, while the relays and the TUI go on writing (WAL lets readers and
writers pass). The copy stands alone (no WAL file beside it) and is checked
before it replaces the target, so a backup file is either whole or not there.

``restore`` writes a backup into the database through the same API, so
every program that has the file open sees the restored data at once, and
the file keeps its owner, group and mode. It refuses while a relay serves
the database: a running relay holds a shared ``flock`` on the database
file (``hold_for_relay``) and restore takes it exclusively for its
duration, so no relay can start halfway either. SQLite's own locks are
POSIX record locks, which are independent of ``flock`` on Linux.

PostgreSQL has its own tools (``pg_dump``, ``pg_restore``); ``postgres_advice``
says which command to run.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .db import redact
from .errors import DirectoryError
from .migrate import known_migrations
from .models import ChangeRecord, ContactPerson, Customer, RelayLog


class BackupError(DirectoryError):
    """A backup or restore cannot be done; the text says why and what to do."""


@dataclass(frozen=True, slots=True)
class Contents:
    """What a database or a backup holds, as counted after an integrity check."""

    customers: int
    contacts: int  # active contact persons
    changes: int  # history entries
    log_entries: int  # relay log
    schema: int
    size: int  # bytes

    def describe(self) -> str:
        return (
            f"{self.customers} customers, {self.contacts} contact persons, {self.changes} history entries, "
            f"{self.log_entries} relay log entries ({self.size / 1024 / 1024:.1f} MiB)"
        )


def hold_for_relay(path: Path) -> int:
    """A relay's shared hold on the database file, for as long as its process lives.

    The descriptor must stay open until the process ends: closing any
    descriptor of the file drops the process's SQLite (POSIX) locks on it.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackupError(f"{path} is being restored from a backup; start the relay once that is done") from None
    return fd


def backup(database: Path, target: Path) -> Contents:
    """Write a consistent copy of ``database`` to ``target`` (replaced only once the copy is checked)."""
    if not database.is_file():
        raise BackupError(f"there is no database at {database}; check --db or CONTACTS_DB")
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: the directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    # Customers' names and addresses: readable by whoever made the backup only.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        source = _connect(database, "rw")  # never creates: the file exists
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # the copy needs no WAL file beside it
            contents = _contents(copy, partial)
        finally:
            copy.close()
            source.close()
        _sync(partial)
        os.replace(partial, target)
        _sync(target.parent)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {database}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return contents


def inspect(file: Path) -> Contents:
    """What a backup holds; BackupError if it is not a whole Contact Persons database of a known version."""
    if not file.is_file():
        raise BackupError(f"there is no backup at {file}")
    try:
        connection = _connect(file, "ro")
        try:
            return _contents(connection, file)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{file} is not a database backup: {exc}") from None


def contents(database: Path) -> Contents | None:
    """What the database holds now (None: there is none yet)."""
    if not database.is_file() or database.stat().st_size == 0:
        return None
    try:
        connection = _connect(database, "rw")
        try:
            return _contents(connection, database, check=False)
        finally:
            connection.close()
    except (sqlite3.Error, BackupError):
        return None


@contextmanager
def no_relay(database: Path) -> Iterator[None]:
    """Hold the database file exclusively while restoring; BackupError while a relay serves it."""
    if not database.exists():
        yield
        return
    fd = os.open(database, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"a relay is serving {database}: stop it first (systemctl stop contacts-relay), then restore"
            ) from None
        yield
    finally:
        os.close(fd)  # only after this process's SQLite connections to it are closed


def restore(file: Path, database: Path) -> Contents:
    """Replace what ``database`` holds with the backup ``file``; returns what it holds now."""
    inspect(file)
    if not database.parent.is_dir():
        raise BackupError(f"cannot restore into {database}: the directory {database.parent} does not exist")
    with no_relay(database):
        try:
            source = _connect(file, "ro")
            target = sqlite3.connect(database, timeout=30)
            try:
                target.execute("PRAGMA journal_mode=WAL")
                source.backup(target)
                target.execute("PRAGMA journal_mode=WAL")
                restored = _contents(target, database)
            finally:
                target.close()
                source.close()
        except sqlite3.Error as exc:
            raise BackupError(f"cannot restore into {database}: {exc}") from None
    return restored


def postgres_advice(url: str, action: str, file: str) -> str:
    """What to run instead on PostgreSQL (the URL without its password)."""
    # pg_dump reads the password from ~/.pgpass or PGPASSWORD: leave it out of the command.
    safe = redact(url).replace(":***@", "@", 1)
    if action == "backup":
        return f"use pg_dump on PostgreSQL: pg_dump --format=custom --file {file} '{safe}'"
    return f"use pg_restore on PostgreSQL: pg_restore --clean --if-exists --dbname '{safe}' {file}"


def taken_at(file: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(file.stat().st_mtime))


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    connection = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30)
    # The search index's triggers call a function of ours; nothing here fires them.
    return connection


def _contents(connection: sqlite3.Connection, path: Path, *, check: bool = True) -> Contents:
    if check:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"{path} is damaged: {verdict}")
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        raise BackupError(f"{path} holds no contact directory (no schema version table)")
    schema = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    latest = max((m.version for m in known_migrations()), default=0)
    if schema > latest:
        raise BackupError(f"{path} has schema version {schema}, newer than this program knows ({latest})")

    def count(table: str, where: str = "") -> int:
        if table not in tables:
            return 0
        return connection.execute(f'SELECT COUNT(*) FROM "{table}" {where}').fetchone()[0]

    return Contents(
        customers=count(Customer._meta.table_name),
        contacts=count(ContactPerson._meta.table_name, "WHERE deleted_at IS NULL"),
        changes=count(ChangeRecord._meta.table_name),
        log_entries=count(RelayLog._meta.table_name),
        schema=schema,
        size=path.stat().st_size,
    )


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
