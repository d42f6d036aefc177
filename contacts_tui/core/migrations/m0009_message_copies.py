"""One copy of a message per customer: which copy a relay log entry or captured message is.

A message for several customers goes out as one copy per customer, so no
customer sees another's contact persons. Each copy has a relay log entry
(and in capture mode a captured message) of its own; these columns say
which copy of how many it is, and name the message by the queue id of its
first copy. Rows from before are each a message of one copy: ``copy_of``
empty, copy 1 of 1. Columns with a constant default are added in place on
both databases, without a table copy.

A database that took m0013 (the inbox's columns) before this one has its
captured messages' blobs last on SQLite, for lists that do not read them;
columns added after them would undo that, so there the table is laid out
again as m0013 lays it out.
"""

import peewee as pw

COLUMNS = (
    "copy_of VARCHAR(64) NOT NULL DEFAULT ''",
    "copy_number INTEGER NOT NULL DEFAULT 1",
    "copy_count INTEGER NOT NULL DEFAULT 1",
)


def up(migrator, database):
    for table in ("relay_log", "captured_message"):
        for column in COLUMNS:
            database.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column}")
    if isinstance(database, pw.SqliteDatabase) and _applied(database, 13):
        from .m0013_inbox_columns import _messages_last

        _messages_last(database)


def _applied(database, version: int) -> bool:
    return database.execute_sql("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone() is not None
