"""Fixtures shared by every test: real databases, no mocks, an environment of their own.

SQLite runs always, in a file under tmp_path. PostgreSQL runs when
CONTACTS_TEST_PG names a server URL with rights to create a database (the CI
script starts one); each test then gets its own schema, dropped afterwards.
No test sees the CONTACTS_* and RELAY_* settings of the machine it runs on,
or its user's home and data folders (``isolated_environment``).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory

PG_URL = os.environ.get("CONTACTS_TEST_PG", "").strip()
# One database per test session, so parallel runs on one server never drop
# each other's database.
PG_TEST_DB = f"contacts_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_admin():
    import psycopg2

    connection = psycopg2.connect(PG_URL)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh database on the test server, with pg_trgm in its public schema."""
    if not PG_URL:
        pytest.skip("CONTACTS_TEST_PG is not set (bash .ci/run starts a PostgreSQL server)")
    admin = _pg_admin()
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {PG_TEST_DB}")
    admin.close()
    url = urlsplit(PG_URL)._replace(path="/" + PG_TEST_DB).geturl()
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    connection.close()
    yield url
    admin = _pg_admin()
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)")
    admin.close()


def pg_url_via(url: str, host: str, port: int) -> str:
    """``url`` to another host and port (a proxy in front of the server), with its user and password."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}").geturl()


def pg_url_as(url: str, user: str, password: str) -> str:
    """``url`` signing in as another role, with its password (servers that ask for one do)."""
    parts = urlsplit(url)
    where = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{where}").geturl()


def _schema_url(base: str, schema: str) -> str:
    parts = urlsplit(base)
    option = quote(f"-c search_path={schema},public")
    query = f"{parts.query}&options={option}" if parts.query else f"options={option}"
    return parts._replace(query=query).geturl()


@contextmanager
def _new_schema(base: str) -> Iterator[str]:
    """A URL for a schema of its own on the test database, dropped afterwards."""
    import psycopg2

    schema = "t_" + uuid.uuid4().hex[:12]
    connection = psycopg2.connect(base)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _schema_url(base, schema)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        connection.close()


XDG_FOLDERS = {
    "XDG_DATA_HOME": "data",
    "XDG_CONFIG_HOME": "config",
    "XDG_CACHE_HOME": "cache",
    "XDG_STATE_HOME": "state",
}


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path: Path) -> None:
    """Every test, and every program it starts, runs as on a machine with no
    CONTACTS_* or RELAY_* variables set (the PostgreSQL test server aside)
    and a home and data folders of its own under ``tmp_path`` (the data
    folders created only if something writes there): a test that forgets an option never reads or
    writes a developer's real directory, spool or settings."""
    for name in list(os.environ):
        if name.startswith(("CONTACTS_", "RELAY_")) and name != "CONTACTS_TEST_PG":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # programs a test starts (a browser, ssh, tmux) expect their home to exist
    monkeypatch.setenv("HOME", str(home))
    for name, folder in XDG_FOLDERS.items():
        monkeypatch.setenv(name, str(tmp_path / folder))


@pytest.fixture
def rng() -> random.Random:
    """A random generator whose seed is printed, so a failure shows it with the
    test's output: ``TEST_SEED=<seed> pytest <test>`` runs the same again."""
    seed = int(os.environ.get("TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"random seed: {seed} (TEST_SEED={seed} repeats it)")
    return random.Random(seed)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path: Path) -> str:
    """A database URL for an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'contacts.db'}"
        return
    with _new_schema(request.getfixturevalue("pg_database_url")) as url:
        yield url


@pytest.fixture
def second_db_url(db_url: str, request, tmp_path: Path) -> str:
    """Another empty database on the same backend as ``db_url``."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second.db'}"
        return
    with _new_schema(request.getfixturevalue("pg_database_url")) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'contacts.db'}"


@pytest.fixture
def directory(db_url: str) -> Directory:
    """The directory service on an empty database, SQLite and PostgreSQL, with
    the catalog and limit the database stores (the defaults), as programs open it."""
    database = open_database(db_url)
    yield Directory(database)
    database.close_all() if hasattr(database, "close_all") else database.close()


@pytest.fixture
def sqlite_directory(sqlite_url: str) -> Directory:
    """The directory service on an empty SQLite file (UI tests use this one)."""
    database = open_database(sqlite_url)
    yield Directory(database)
    database.close()


@pytest.fixture
def local_zone(monkeypatch):
    """Set the process's local time zone (TZ) for one test; restored after it."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def pg_url(request) -> str:
    """A URL for an empty schema of its own on the PostgreSQL test server (skipped without one)."""
    with _new_schema(request.getfixturevalue("pg_database_url")) as url:
        yield url
