"""Captured messages: ids that are never reused, and the resolved category.

SQLite gives a new row max(id) + 1, so after ``messages clear`` the next
message got id 1 again and a tester's note "show 1" silently meant another
message. AUTOINCREMENT never hands out an id twice; SQLite can only add it by
rebuilding the table. (PostgreSQL's sequences never reuse an id already.)

A message tagged ``invoice.created`` is in the category ``billing``: the
relay log knew that, the captured message did not, so searching the captured
messages for "billing" missed it. Messages captured before this version get
the key from their relay log entry.
"""

import peewee as pw

COLUMNS = (
    "id, log_id, received_at, sender, recipients, subject, message_id, category, "
    "added, search_text, original, message, size"
)


def up(migrator, database):
    if isinstance(database, pw.SqliteDatabase):
        _rebuild_sqlite(database)
    else:
        database.execute_sql("ALTER TABLE captured_message ADD COLUMN category_key VARCHAR(64) NOT NULL DEFAULT ''")
    database.execute_sql(
        "UPDATE captured_message SET category_key = COALESCE("
        "(SELECT relay_log.category_key FROM relay_log WHERE relay_log.id = captured_message.log_id), '')"
    )


def _rebuild_sqlite(database):
    # SQLite's procedure for a change ALTER TABLE cannot make: new table,
    # copy, drop, rename, indexes again. The migration runs with foreign keys
    # off, inside one transaction.
    database.execute_sql(
        'CREATE TABLE "captured_message_new" ('
        '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "log_id" INTEGER, "received_at" DATETIME NOT NULL, '
        '"sender" VARCHAR(254) NOT NULL, "recipients" TEXT NOT NULL, "subject" TEXT NOT NULL, '
        '"message_id" VARCHAR(998) NOT NULL, "category" VARCHAR(255) NOT NULL, '
        '"category_key" VARCHAR(64) NOT NULL DEFAULT \'\', "added" TEXT NOT NULL, '
        '"search_text" TEXT NOT NULL, "original" BLOB NOT NULL, "message" BLOB NOT NULL, "size" INTEGER NOT NULL, '
        'FOREIGN KEY ("log_id") REFERENCES "relay_log" ("id") ON DELETE SET NULL)'
    )
    database.execute_sql(f"INSERT INTO captured_message_new ({COLUMNS}) SELECT {COLUMNS} FROM captured_message")
    database.execute_sql("DROP TABLE captured_message")
    database.execute_sql("ALTER TABLE captured_message_new RENAME TO captured_message")
    database.execute_sql('CREATE INDEX "captured_message_log_id" ON "captured_message" ("log_id")')
    database.execute_sql('CREATE INDEX "captured_message_received_at" ON "captured_message" ("received_at")')
