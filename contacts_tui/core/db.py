"""Opening the database: URL parsing, SQLite pragmas, reachability and schema.

``open_database`` is the one way in. It returns a connected peewee database
with the models bound and the schema migrated to this version.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

import peewee
from platformdirs import user_data_dir
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledDatabase

from . import grams
from .errors import DatabaseUnavailable, ValidationError
from .migrate import migrate_database, schema_version
from .models import ALL_MODELS

T = TypeVar("T")
APP_NAME = "contact-persons"

# WAL lets the TUI read while relays write; the busy timeout makes a second
# writer wait instead of failing at once; NORMAL is durable in WAL mode across
# application crashes, and the relay's own spool carries the mail durability.
SQLITE_PRAGMAS = {
    "busy_timeout": 10_000,
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -32_000,
}


CONNECT_TIMEOUT = 10  # seconds, for PostgreSQL


def default_database_url() -> str:
    return "sqlite:///" + str(Path(user_data_dir(APP_NAME)) / "contacts.db")


def resolve_url(url: str | None) -> str:
    """The URL to use: the argument, else CONTACTS_DB, else the default file.

    A bare path is taken as an SQLite file, which is what people type.
    """
    url = url or os.environ.get("CONTACTS_DB") or default_database_url()
    if "://" not in url:
        url = "sqlite:///" + str(Path(url).expanduser().resolve())
    return url


def sqlite_file(url: str | None) -> Path | None:
    """The file an SQLite URL (or a bare path) names, or None for another database."""
    url = resolve_url(url)
    parts = urlsplit(url)
    if not parts.scheme.lower().startswith("sqlite"):
        return None
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return Path(path).expanduser() if path and path != ":memory:" else None


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a malformed host part too
    except ValueError:
        # Malformed: hide whatever stands between "user:" and "@".
        return re.sub(r"(://[^/:@]*:)[^@]*@", r"\1***@", url, count=1)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_database(url: str | None = None, *, migrate: bool = True, must_exist: bool = False) -> peewee.Database:
    """Connect, bind the models and bring the schema up to date.

    ``must_exist`` is for commands that only read: a mistyped SQLite path
    then is an error, not a new empty database that reads as "nothing here".
    Raises DatabaseUnavailable with a sentence a user can act on.
    """
    url = resolve_url(url)
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise DatabaseUnavailable(f"invalid database URL {redact(url)}: {exc}") from None
    if scheme.startswith("sqlite"):
        database = _open_sqlite(url, must_exist)
    elif scheme.split("+")[0] in ("postgres", "postgresql"):
        database = _open_postgres(url)
    else:
        raise DatabaseUnavailable(
            f"unsupported database URL {redact(url)!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    database.bind(ALL_MODELS, bind_refs=False, bind_backrefs=False)
    # Switching a new SQLite file to WAL answers "locked" at once, without
    # waiting, while another program opens it too; such a race clears quickly.
    deadline = time.monotonic() + 15
    while True:
        try:
            database.connect(reuse_if_open=True)
            if must_exist and schema_version(database) == 0:
                # Only 'init' (and the TUI) make a directory: a program that
                # reads one must not start with nothing.
                raise DatabaseUnavailable(
                    f"{redact(url)} holds no contact directory; check --db or CONTACTS_DB "
                    "('contacts-tui init' creates one)"
                )
            if migrate:
                migrate_database(database)
            break
        except peewee.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise DatabaseUnavailable(f"cannot use the database {redact(url)}: {_first_line(exc)}") from None
            time.sleep(0.05)
        except peewee.DatabaseError as exc:
            raise DatabaseUnavailable(f"cannot use the database {redact(url)}: {_first_line(exc)}") from None
        finally:
            # Every thread connects on first use; the pool takes this one back.
            database.close()
    return database


def _open_sqlite(url: str, must_exist: bool = False) -> peewee.Database:
    path = urlsplit(url).path
    # sqlite:///relative.db and sqlite:////absolute.db, as playhouse reads them.
    path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:":
        raise DatabaseUnavailable("an in-memory database cannot be shared; give a file path")
    file = Path(path).expanduser()
    if must_exist and not file.exists():
        raise DatabaseUnavailable(
            f"there is no database at {file}; check --db or CONTACTS_DB ('contacts-tui init' creates one)"
        )
    if url == default_database_url():
        file.parent.mkdir(parents=True, exist_ok=True)
    elif not file.parent.is_dir():
        raise DatabaseUnavailable(f"cannot create the database {file}: the directory {file.parent} does not exist")
    if file.exists() and not file.is_file():
        raise DatabaseUnavailable(f"{file} is not a file")
    returning = sqlite3.sqlite_version_info >= (3, 35, 0)
    kind = _ExistingSqliteDatabase if must_exist else peewee.SqliteDatabase
    database = kind(str(file), pragmas=SQLITE_PRAGMAS, timeout=10, returning_clause=returning)
    # The search index's triggers call it (see grams.py); every connection has it.
    database.register_function(grams.grams, grams.FUNCTION, 1, deterministic=True)
    database.register_function(grams.guard, grams.GUARD_FUNCTION, 0, deterministic=True)
    return database


class _ExistingSqliteDatabase(peewee.SqliteDatabase):
    """An SQLite file that must be there already: it is never created, and a
    file moved away or replaced under a running program is noticed.

    SQLite creates a missing file on connect, and every thread connects on
    first use: a relay whose database was moved would start writing a new,
    empty one, and pass every notification on without its contacts. Here
    each connection opens the file read-write only if it exists, remembers
    which file it opened, and every statement, asking for a cursor, first
    checks that the path still names that file (one stat). When it names another, the connection
    is opened again on the new file, which must hold a contact directory.
    """

    def __init__(self, path: str, *args, **kwargs) -> None:
        super().__init__(path, *args, **kwargs)
        self._opened = threading.local()

    def _connect(self):
        path = self.database
        identity = _file_identity(path)
        if identity is None:
            raise peewee.OperationalError(f"the database file {path} is gone (moved or deleted)")
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode=rw", uri=True, timeout=self._timeout, isolation_level=None, **self.connect_params
        )
        try:
            tables = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
            if tables.fetchone() is None:
                raise peewee.OperationalError(f"{path} holds no contact directory (no schema version table)")
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        self._opened.identity = identity
        return conn

    def cursor(self, named_cursor=None):
        # Every statement, the ORM's and the raw ones (executemany), asks for a cursor.
        if not self.is_closed():
            current = _file_identity(self.database)
            if current != getattr(self._opened, "identity", None):
                if self.in_transaction():
                    raise peewee.OperationalError(f"the database file {self.database} was moved or replaced")
                self.close()  # reopened below, on whatever the path names now (or an error)
                if current is None:
                    raise peewee.OperationalError(f"the database file {self.database} is gone (moved or deleted)")
        return super().cursor(named_cursor)


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _open_postgres(url: str) -> peewee.Database:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        raise DatabaseUnavailable("PostgreSQL needs the psycopg2 package: pip install psycopg2-binary") from None
    # A pool: the TUI's workers and the relay's threads each borrow a
    # connection per directory call instead of holding one per thread.
    parts = urlsplit(url)
    if not parts.path.strip("/"):
        raise DatabaseUnavailable(f"the database URL {redact(url)} names no database (…/DBNAME)")
    pooled = parts._replace(scheme="postgresql+pool").geturl()
    # libpq waits for ever on a host that takes the connection and never
    # answers; a URL's own ?connect_timeout= wins.
    limits = {} if "connect_timeout" in parts.query else {"connect_timeout": CONNECT_TIMEOUT}
    try:
        database = connect_url(
            pooled,
            unquote_password=True,
            unquote_user=True,
            max_connections=32,
            stale_timeout=300,
            timeout=30,
            **limits,
        )
    except Exception as exc:  # a malformed URL fails in many ways
        # Parser messages quote the whole URL, password included.
        raise DatabaseUnavailable(f"invalid database URL {redact(url)}: {_hide(str(exc), url)}") from None
    try:
        database.connect()
    except peewee.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {redact(url)}: {_hide(_first_line(exc), url)}") from None
    database.close()
    return database


def database_call(get_database: Callable[..., peewee.Database]):
    """Decorate a public database function: driver failures become
    DatabaseUnavailable, and a pooled connection goes back after the call."""

    def decorator(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            # The pool pings a connection before handing it out, so one that
            # died with a server restart is replaced, not reported.
            database = get_database(*args)
            outermost = database.transaction_depth() == 0
            # A thread that opened its connection itself keeps it (the relay's
            # lookup threads); otherwise a pooled connection goes back after the call.
            borrowed = database.is_closed()
            try:
                return function(*args, **kwargs)
            except peewee.IntegrityError as exc:
                # The rules are checked under a lock, so this is a writer
                # racing outside of it (an older program, or a manual edit);
                # the unique indexes on addresses are what such a race hits.
                text = str(exc).lower()
                field = "email" if "email" in text else None
                raise ValidationError.single(
                    field, "another change conflicted with this one at the same moment; reload and try again"
                ) from None
            except (peewee.OperationalError, peewee.InterfaceError) as exc:
                if outermost:
                    try:
                        database.close()
                    except peewee.PeeweeException:
                        pass
                raise DatabaseUnavailable(f"the database cannot be used right now: {_first_line(exc)}") from exc
            except peewee.DatabaseError as exc:
                # Permission denied, a damaged file: not the user's input.
                raise DatabaseUnavailable(f"the database refused the request: {_first_line(exc)}") from exc
            finally:
                if outermost and borrowed and is_pooled(database) and not database.is_closed():
                    database.close()

        return wrapper

    return decorator


def describe(database: peewee.Database) -> str:
    """Which database this is, in a few words for a header: the file name of an
    SQLite database, host and database name of a PostgreSQL one (never a password)."""
    if isinstance(database, peewee.SqliteDatabase):
        return Path(database.database).name
    params = getattr(database, "connect_params", {}) or {}
    host = params.get("host") or "localhost"
    port = params.get("port")
    where = f"{host}:{port}" if port and int(port) != 5432 else host
    return f"{where}/{database.database}"


def is_postgres(database: peewee.Database) -> bool:
    return isinstance(database, peewee.PostgresqlDatabase)


def is_pooled(database: peewee.Database) -> bool:
    return isinstance(database, PooledDatabase)


def _hide(text: str, url: str) -> str:
    """``text`` without the URL's password, as written or percent-decoded."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    for form in {password or "", unquote(password or "")}:
        if form:
            text = text.replace(form, "***")
    return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
