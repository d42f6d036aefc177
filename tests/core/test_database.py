"""Opening the database: where it lives, how SQLite is set up, and the errors
a user sees when the URL is wrong or the server cannot be reached."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import peewee
import pytest

from contacts_tui.core import db
from contacts_tui.core.db import open_database, redact
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DatabaseUnavailable
from contacts_tui.core.migrate import known_migrations, schema_version
from contacts_tui.core.records import CustomerInput


def pragma(database, name):
    return database.execute_sql(f"PRAGMA {name}").fetchone()[0]


def test_bare_relative_path_is_an_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    database = open_database("contacts.db")
    try:
        assert Path(database.database) == tmp_path / "contacts.db"
        assert schema_version(database) == known_migrations()[-1].version
    finally:
        database.close()
    assert (tmp_path / "contacts.db").is_file()


def test_bare_path_with_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    database = open_database("~/mine.db")
    database.close()
    assert (tmp_path / "mine.db").is_file()


def test_sqlite_url_with_absolute_path(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'abs.db'}")
    database.close()
    assert (tmp_path / "abs.db").is_file()


def test_contacts_db_environment_variable_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACTS_DB", f"sqlite:///{tmp_path / 'env.db'}")
    database = open_database()
    database.close()
    assert (tmp_path / "env.db").is_file()


def test_default_is_a_file_in_the_user_data_directory_created_on_first_use(tmp_path, monkeypatch):
    database = open_database()
    try:
        Directory(database).create_customer(CustomerInput("Acme", "owner@acme.example"))
    finally:
        database.close()
    expected = tmp_path / "data" / "contact-persons" / "contacts.db"
    assert expected.is_file()
    again = open_database()
    try:
        assert Directory(again).counts() == (1, 0)
    finally:
        again.close()


def test_sqlite_pragmas_are_on_in_every_thread(sqlite_url):
    database = open_database(sqlite_url)
    seen = {}

    def read():
        seen.update({name: pragma(database, name) for name in ("journal_mode", "foreign_keys", "busy_timeout")})
        database.close()

    try:
        read()
        assert seen == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}
        seen.clear()
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        assert seen == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}
    finally:
        database.close()


def test_foreign_keys_are_enforced_in_sqlite(sqlite_url):
    database = open_database(sqlite_url)
    try:
        with pytest.raises(peewee.IntegrityError):
            database.execute_sql(
                "INSERT INTO contact_person (customer_id, name, email, email_key, phone, role, receive_all,"
                " created_at, updated_at) VALUES (42, 'x', 'x@y.example', 'x@y.example', '', 'General', 0, '', '')"
            )
    finally:
        database.close()


def test_a_directory_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "contacts.db"
    with pytest.raises(DatabaseUnavailable, match=r"the directory .*/no/such/dir does not exist"):
        open_database(f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_a_directory_given_as_the_database_file_is_refused(tmp_path):
    with pytest.raises(DatabaseUnavailable, match="is not a file"):
        open_database(str(tmp_path))


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.txt"
    content = b"These are my notes, not a database.\n" * 200
    path.write_bytes(content)
    with pytest.raises(DatabaseUnavailable, match=r"cannot use the database .*notes\.txt: file is not a database"):
        open_database(str(path))
    assert path.read_bytes() == content


def test_in_memory_sqlite_is_refused():
    with pytest.raises(DatabaseUnavailable, match="in-memory database cannot be shared"):
        open_database("sqlite:///:memory:")


@pytest.mark.parametrize(
    "url", ["mysql://admin:hunter2@db.example/contacts", "redis://:hunter2@localhost/0", "ftp://x"]
)
def test_unsupported_scheme_is_refused_without_the_password(url):
    with pytest.raises(DatabaseUnavailable, match="unsupported database URL") as caught:
        open_database(url)
    assert "hunter2" not in str(caught.value)
    assert "sqlite:///PATH or postgresql://USER@HOST/DB" in str(caught.value)


def test_unreachable_postgres_names_the_url_without_its_password():
    url = "postgresql://admin:s3cr%40t-pw@127.0.0.1:1/contacts"
    with pytest.raises(DatabaseUnavailable) as caught:
        open_database(url)
    message = str(caught.value)
    assert message.startswith("cannot reach PostgreSQL at postgresql://admin:***@127.0.0.1:1/contacts: ")
    assert "s3cr" not in message


def test_a_postgres_server_that_never_answers_is_given_up_on(monkeypatch):
    # The kernel completes the handshake for a listening socket nobody accepts
    # on: to libpq a server that hangs before its first word.
    monkeypatch.setattr(db, "CONNECT_TIMEOUT", 1)
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:
        port = silent.getsockname()[1]
        with pytest.raises(DatabaseUnavailable) as caught:
            open_database(f"postgresql://admin@127.0.0.1:{port}/contacts")
    assert str(caught.value).startswith(f"cannot reach PostgreSQL at postgresql://admin@127.0.0.1:{port}/contacts: ")
    assert "timeout" in str(caught.value)


@pytest.mark.parametrize("url", ["postgresql://admin:pa55word@127.0.0.1:1", "postgresql://admin:pa55word@127.0.0.1:1/"])
def test_postgres_url_without_a_database_name_is_refused_without_the_password(url):
    with pytest.raises(DatabaseUnavailable, match="names no database") as caught:
        open_database(url)
    assert "pa55word" not in str(caught.value)


@pytest.mark.parametrize("url", ["postgresql://admin:pa55word@host:port/db", "postgresql://admin:pa55word@[::1/db"])
def test_malformed_postgres_url_is_refused_without_the_password(url):
    with pytest.raises(DatabaseUnavailable) as caught:
        open_database(url)
    assert "pa55word" not in str(caught.value)


@pytest.mark.postgres
def test_postgres_database_that_does_not_exist_is_named(pg_database_url):
    from urllib.parse import urlsplit

    url = urlsplit(pg_database_url)._replace(path="/no_such_database_here").geturl()
    with pytest.raises(DatabaseUnavailable, match='database "no_such_database_here" does not exist'):
        open_database(url)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p%3Aw%40d@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"),
    ],
)
def test_redact_hides_the_password(url, shown):
    assert redact(url) == shown


def test_two_programs_share_one_sqlite_file(sqlite_url):
    """What the TUI writes, a relay in another connection reads at once (WAL)."""
    database = open_database(sqlite_url)
    directory = Directory(database)
    customer = directory.create_customer(CustomerInput("Acme", "owner@acme.example"))
    result = {}

    def other_connection():
        result["found"] = directory.find_customer("OWNER@acme.example")
        database.close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join()
    database.close()
    assert result["found"].id == customer.id
