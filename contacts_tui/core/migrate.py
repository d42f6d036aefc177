"""Schema migrations with a recorded version.

Each module ``migrations/mNNNN_name.py`` defines ``up(migrator, database)``
and is applied once, in order, inside a write transaction; the version table
records it. A database migrated by a newer program is refused, not guessed at.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType

import peewee
from playhouse.migrate import SchemaMigrator

from . import migrations as migrations_package
from .errors import ForeignSchema, SchemaTooNew
from .models import ALL_MODELS, utcnow

_NAME = re.compile(r"^m(\d{4})_\w+$")
# Any constant works; it only has to be the same in every process.
_PG_LOCK_ID = 0x636F6E74


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    module: ModuleType


def known_migrations() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(migrations_package.__path__):
        match = _NAME.match(info.name)
        if match:
            module = importlib.import_module(f"{migrations_package.__name__}.{info.name}")
            found.append(Migration(int(match.group(1)), info.name, module))
    return sorted(found, key=lambda m: m.version)


def _version_model(database: peewee.Database) -> type[peewee.Model]:
    class SchemaVersion(peewee.Model):
        version = peewee.IntegerField(primary_key=True)
        name = peewee.CharField(max_length=100)
        applied_at = peewee.DateTimeField(default=utcnow)

        class Meta:
            table_name = "schema_version"

    SchemaVersion.bind(database)
    return SchemaVersion


def write_transaction(database: peewee.Database):
    """A transaction that takes the write lock at once.

    On SQLite a deferred transaction that reads then writes can fail with
    "database is locked" regardless of the busy timeout; IMMEDIATE waits.
    """
    if isinstance(database, peewee.SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def schema_version(database: peewee.Database) -> int:
    model = _version_model(database)
    if not model.table_exists():
        return 0
    return model.select(peewee.fn.MAX(model.version)).scalar() or 0


def migrate_database(database: peewee.Database) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    known = known_migrations()
    latest = known[-1].version if known else 0
    model = _version_model(database)
    # Cheap read first: most opens find the schema current and take no lock.
    # Every known version must be there, not only the newest: a migration
    # numbered below one that another branch shipped first would be skipped.
    if model.table_exists():
        present = {row.version for row in model.select(model.version)}
        if {m.version for m in known} <= present and max(present, default=0) <= latest:
            return []
    applied_now = []
    sqlite = isinstance(database, peewee.SqliteDatabase)
    if sqlite:
        # SQLite changes a column by copying the table and dropping the old
        # one; with foreign keys on, that drop cascades into every table that
        # refers to it (a contact's category opt-ins vanish). SQLite's own
        # procedure: keys off outside the transaction, checked before commit.
        database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        with write_transaction(database):
            if isinstance(database, peewee.PostgresqlDatabase):
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_ID,))
            model.create_table(safe=True)
            applied = {row.version for row in model.select(model.version)}
            newest = max(applied, default=0)
            if newest > latest:
                raise SchemaTooNew(
                    f"this database has schema version {newest}, newer than this program knows ({latest}); "
                    "upgrade contact-persons"
                )
            if not applied:
                _refuse_foreign_tables(database)
            migrator = SchemaMigrator.from_database(database)
            for migration in known:
                if migration.version in applied:
                    continue
                migration.module.up(migrator, database)
                model.create(version=migration.version, name=migration.name)
                applied_now.append(migration.name)
            if sqlite:
                broken = database.execute_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise peewee.IntegrityError(f"the migration broke {len(broken)} foreign key(s), e.g. {broken[0]}")
    finally:
        if sqlite:
            database.execute_sql("PRAGMA foreign_keys = ON")
    return applied_now


def _refuse_foreign_tables(database: peewee.Database) -> None:
    """A database with no schema version yet must not hold our table names:
    they belong to another program, and building on them would fail later in
    puzzling ways (or write our tables into its file)."""
    ours = {model._meta.table_name for model in ALL_MODELS}
    taken = sorted(ours & set(database.get_tables()))
    if taken:
        raise ForeignSchema(
            f"this database already has tables named {', '.join(taken)} that contact-persons did not make; "
            "give a new database file or an empty database"
        )
