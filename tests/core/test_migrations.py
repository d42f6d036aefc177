"""Schema versions: a database made by this version opens after later schema
changes, a database from a newer program is refused, a failed migration
leaves nothing behind. On SQLite and PostgreSQL.

A later version is simulated with a real extra migration module added to the
list ``known_migrations`` returns; the database itself is real throughout.
"""

from __future__ import annotations

import threading
import types

import peewee as pw
import pytest
from playhouse.migrate import migrate

from contacts_tui.core import grams
from contacts_tui.core import migrate as migrations
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.rules import clean_customer, search_text
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DatabaseUnavailable, SchemaTooNew
from contacts_tui.core.mail import relay_log
from contacts_tui.core.migrate import Migration, migrate_database, schema_version
from contacts_tui.core.models import CapturedMessage, utcnow
from contacts_tui.core.records import ContactInput, CustomerInput

from .helpers import person

REAL_MIGRATIONS = migrations.known_migrations()
LATEST = REAL_MIGRATIONS[-1].version
# The version the simulated later program adds, after every real one.
NEXT = LATEST + 1
NEXT_NAME = f"m{NEXT:04d}_nickname"


def close(database):
    database.close_all() if hasattr(database, "close_all") else database.close()


def columns(database, table):
    return {c.name for c in database.get_columns(table)}


def with_migration(monkeypatch, up, version=NEXT, name=NEXT_NAME):
    module = types.ModuleType(f"contacts_tui.core.migrations.{name}")
    module.up = up
    monkeypatch.setattr(migrations, "known_migrations", lambda: [*REAL_MIGRATIONS, Migration(version, name, module)])


def add_nickname(migrator, database):
    # NOT NULL with a default, as a later version would add a field. On
    # SQLite this rebuilds the table (copy, drop, rename). The default is in
    # the schema too, so this version's models can still insert.
    field = pw.CharField(max_length=40, default="", constraints=[pw.SQL("DEFAULT ''")])
    migrate(migrator.add_column("contact_person", "nickname", field))


def test_a_new_database_has_the_latest_schema_version(db_url):
    database = open_database(db_url)
    try:
        assert schema_version(database) == LATEST >= 4
        assert {"customer", "contact_person", "contact_category", "relay_log", "captured_message", "setting"} <= set(
            database.get_tables()
        )
    finally:
        close(database)


def test_a_migration_numbered_below_one_applied_already_is_applied_too(db_url, monkeypatch):
    # Two branches each added a migration; the one with the higher number
    # shipped first. The missing one is one no later migration builds on
    # (m0017 indexes columns of m0008, which every database had before it).
    missing = next(m for m in REAL_MIGRATIONS if m.name == "m0005_chaos_rules")
    monkeypatch.setattr(migrations, "known_migrations", lambda: [m for m in REAL_MIGRATIONS if m is not missing])
    database = open_database(db_url)
    close(database)
    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS)
    database = open_database(db_url)
    try:
        versions = {row[0] for row in database.execute_sql("SELECT version FROM schema_version").fetchall()}
        assert versions == {m.version for m in REAL_MIGRATIONS}
    finally:
        close(database)


def test_reopening_applies_nothing_and_keeps_the_data(db_url):
    database = open_database(db_url)
    Directory(database).create_customer(CustomerInput("Acme", "owner@acme.example"))
    close(database)
    again = open_database(db_url)
    try:
        assert migrate_database(again) == []
        assert again.execute_sql("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(REAL_MIGRATIONS)
        assert Directory(again).counts() == (1, 0)
    finally:
        close(again)


def test_a_database_from_a_newer_program_is_refused(db_url):
    database = open_database(db_url)
    database.execute_sql(
        f"INSERT INTO schema_version (version, name, applied_at) VALUES ({NEXT}, '{NEXT_NAME}', '2030-01-01')"
    )
    close(database)
    with pytest.raises(SchemaTooNew) as caught:
        open_database(db_url)
    assert str(caught.value) == (
        f"this database has schema version {NEXT}, newer than this program knows ({LATEST}); upgrade contact-persons"
    )
    assert isinstance(caught.value, DatabaseUnavailable)


def test_an_older_database_opens_in_a_newer_version_with_its_data(db_url, monkeypatch):
    database = open_database(db_url)
    directory = Directory(database)
    customer = directory.create_customer(CustomerInput("Bäckerei Müller", "kontakt@mueller.example", "030 1234"))
    eve = directory.add_contact(
        customer.id, ContactInput("Eve", "eve@mueller.example", "", "Billing", False, ("billing",))
    )
    deleted = directory.add_contact(customer.id, person("Old", "old@mueller.example"))
    directory.delete_contact(deleted.id)
    close(database)

    with_migration(monkeypatch, add_nickname)
    newer = open_database(db_url)
    try:
        assert schema_version(newer) == NEXT
        assert "nickname" in columns(newer, "contact_person")
        # The rebuilt table keeps the partial index that backs uniqueness.
        assert "contact_person_active_email" in {i.name for i in newer.get_indexes("contact_person")}
        again = Directory(newer)
        assert again.get_customer(customer.id).name == "Bäckerei Müller"
        assert again.get_contact(eve.id).as_input() == ContactInput(
            "Eve", "eve@mueller.example", "", "Billing", False, frozenset({"billing"}), notes=""
        )
        assert again.get_contact(deleted.id).active is False
        assert [c.id for c in again.search_customers("müller").rows] == [customer.id]
        # The program keeps working on the migrated schema.
        again.add_contact(customer.id, person("Bob", "bob@mueller.example"))
        assert again.get_customer(customer.id).contact_count == 2
        versions = newer.execute_sql("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        assert [tuple(v) for v in versions] == [*((m.version, m.name) for m in REAL_MIGRATIONS), (NEXT, NEXT_NAME)]
    finally:
        close(newer)


def test_init_without_changes_after_the_newer_version_is_a_no_op(db_url, monkeypatch):
    close(open_database(db_url))
    with_migration(monkeypatch, add_nickname)
    close(open_database(db_url))
    database = open_database(db_url)
    try:
        assert migrate_database(database) == []
        assert schema_version(database) == NEXT
    finally:
        close(database)


def test_a_failing_migration_leaves_the_old_schema_and_data(db_url, monkeypatch):
    database = open_database(db_url)
    Directory(database).create_customer(CustomerInput("Acme", "owner@acme.example"))
    close(database)

    def half_done(migrator, database):
        add_nickname(migrator, database)
        database.execute_sql("ALTER TABLE no_such_table ADD COLUMN x INTEGER")

    with_migration(monkeypatch, half_done)
    with pytest.raises(DatabaseUnavailable, match="cannot use the database"):
        open_database(db_url)

    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS)
    database = open_database(db_url)
    try:
        assert schema_version(database) == LATEST
        assert "nickname" not in columns(database, "contact_person")
        assert Directory(database).counts() == (1, 0)
    finally:
        close(database)


def test_without_migrate_an_old_database_is_left_as_it_is(db_url, monkeypatch):
    close(open_database(db_url))
    with_migration(monkeypatch, add_nickname)
    database = open_database(db_url, migrate=False)
    try:
        assert schema_version(database) == LATEST
    finally:
        close(database)


def test_two_programs_migrating_at_once_apply_each_migration_once(db_url):
    results, errors = [], []
    barrier = threading.Barrier(4)

    def opener():
        try:
            barrier.wait(timeout=30)
            database = open_database(db_url)
            results.append(schema_version(database))
            close(database)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and results == [LATEST] * 4
    database = open_database(db_url)
    try:
        assert database.execute_sql("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(REAL_MIGRATIONS)
    finally:
        close(database)


def test_a_database_of_another_program_with_our_table_names_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "theirs.db"
    theirs = pw.SqliteDatabase(str(path))
    theirs.execute_sql("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT)")
    theirs.execute_sql("INSERT INTO customer (name) VALUES ('kept')")
    theirs.close()
    with pytest.raises(
        DatabaseUnavailable, match="already has tables named customer that contact-persons did not make"
    ):
        open_database(f"sqlite:///{path}")
    theirs.connect()
    assert theirs.get_tables() == ["customer"]
    assert theirs.execute_sql("SELECT name FROM customer").fetchall() == [("kept",)]


def test_captured_messages_of_a_version_1_database_keep_their_ids_and_find_their_category(db_url, monkeypatch):
    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS[:1])
    old = open_database(db_url)
    param = old.param
    for number in (1, 2):
        old.execute_sql(
            "INSERT INTO relay_log (id, received_at, updated_at, relay, queue_id, message_id, sender, recipients, "
            "subject, category, category_key, customers, added, decision, reason, status, attempts, last_error, size) "
            f"VALUES ({', '.join([param] * 19)})",
            (
                number,
                "2026-01-05 10:00:00",
                "2026-01-05 10:00:00",
                "relay",
                "",
                f"<{number}@shop.example>",
                "shop@shop.example",
                "[]",
                f"Invoice {number}",
                "invoice.created",
                "billing",
                "[]",
                "[]",
                "unchanged",
                "",
                "captured",
                0,
                "",
                10,
            ),
        )
        old.execute_sql(
            "INSERT INTO captured_message (log_id, received_at, sender, recipients, subject, message_id, category, "
            f"added, search_text, original, message, size) VALUES ({', '.join([param] * 12)})",
            (
                number,
                "2026-01-05 10:00:00",
                "shop@shop.example",
                "[]",
                f"Invoice {number}",
                f"<{number}@shop.example>",
                "invoice.created",
                "[]",
                f"shop@shop.example invoice {number} invoice.created",
                b"original",
                b"rewritten",
                9,
            ),
        )
    close(old)

    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS)
    database = open_database(db_url)
    try:
        assert schema_version(database) == LATEST
        # The header said invoice.created; searching its category finds both.
        found = relay_log.captured_messages(10, search="billing")
        assert [(r.subject, r.category_key) for r in found] == [("Invoice 2", "billing"), ("Invoice 1", "billing")]
        newest = found[0].id
        record, original, rewritten = relay_log.captured_message(newest)
        assert (record.subject, original, rewritten) == ("Invoice 2", b"original", b"rewritten")
        assert relay_log.clear_captured() == 2
        new_id = CapturedMessage.insert(original=b"x", message=b"x", log=1).execute()
        # "show 2" written down before the clear never means this one.
        assert new_id > newest
    finally:
        close(database)


def test_customers_of_a_version_2_database_are_found_by_one_or_two_characters(db_url, monkeypatch):
    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS[:2])
    old = open_database(db_url)
    # Written as version 2 had the customer table: today's Directory reads
    # and writes columns later migrations add (m0008's portal columns, m0016's notes).
    clean = clean_customer(CustomerInput("Hoya Oy", "owner@shop.example"))
    stamp = utcnow().isoformat(sep=" ")
    with old.atomic():
        old.execute_sql(
            "INSERT INTO customer (name, name_key, email, email_key, phone, active, contact_count, search_text, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, 0, ?, ?, ?)".replace("?", old.param),
            (
                clean.name,
                clean.name.casefold(),
                clean.email,
                clean.key,
                True,
                search_text(clean.name, clean.email, ()),
                stamp,
                stamp,
            ),
        )
    close(old)

    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS)
    database = open_database(db_url)
    try:
        directory = Directory(database)
        directory.create_customer(CustomerInput("Joy Ltd", "joy@other.example"))
        assert sorted(c.name for c in directory.search_customers("oy").rows) == ["Hoya Oy", "Joy Ltd"]
        assert [c.name for c in directory.search_customers("w").rows] == ["Hoya Oy"]
        if isinstance(database, pw.SqliteDatabase):
            # Found through the new index, which holds the customer from before the migration too.
            expression = grams.match_expression("oy")
            (held,) = database.execute_sql(
                "SELECT count(*) FROM customer_grams WHERE customer_grams MATCH ?", (expression,)
            ).fetchone()
            assert held == 2
    finally:
        close(database)


def test_the_copy_columns_reach_a_database_that_took_the_inbox_columns_first(db_url, monkeypatch):
    # A database made by a version with m0013 but not yet m0009 (they came
    # from two branches): m0009 is applied when it opens, and on SQLite the
    # captured messages' blobs stay last, as m0013 laid them out.
    copies = next(m for m in REAL_MIGRATIONS if m.name == "m0009_message_copies")
    monkeypatch.setattr(migrations, "known_migrations", lambda: [m for m in REAL_MIGRATIONS if m is not copies])
    database = open_database(db_url)
    close(database)
    monkeypatch.setattr(migrations, "known_migrations", lambda: REAL_MIGRATIONS)
    database = open_database(db_url)
    try:
        for table in ("relay_log", "captured_message"):
            assert {"copy_of", "copy_number", "copy_count"} <= columns(database, table)
        if isinstance(database, pw.SqliteDatabase):
            order = [row[1] for row in database.execute_sql('PRAGMA table_info("captured_message")').fetchall()]
            assert order[-2:] == ["original", "message"], order
    finally:
        close(database)
