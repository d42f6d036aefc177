"""The web inbox's columns on captured messages: a read flag and a summary.

Mailpit's API marks a message read when it is opened and lists unread
counts, so the flag is shared by every client of one database. The summary
(From, To, Cc, Bcc, Reply-To, snippet, attachment counts) and the address
fields as text are made once from the message, so a list of ten thousand
messages or a ``to:`` search parses none. Messages captured before this
version get them here, from the message as stored.

On SQLite a row keeps the start of its messages on its own page, and a
column after them is reached only through the rest of them: reading the
size or the read flag of a list read every byte of the messages (300 ms
for a search at 10,000). So the table is rebuilt with the messages last,
and an index of the columns the inbox's words look at, a narrow copy
SQLite keeps itself, is what searches scan. (PostgreSQL keeps large values
apart already.)
"""

import peewee as pw

BATCH = 200
# What the inbox's query words read (mail/query.py), id first: its order is the list's.
SEARCHED = (
    "id, read, size, attachments, inline_parts, received_at, category_key, category, subject, message_id, "
    "recipients, added, search_text, from_text, to_text, cc_text, reply_to_text"
)
# NOT NULL with the default in the schema: one ALTER on both databases (on
# SQLite no copy of the table and its messages), and rows written by code
# that does not name these columns still insert.
COLUMNS = (
    ("read", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("summary", "TEXT NOT NULL DEFAULT ''"),
    ("from_text", "TEXT NOT NULL DEFAULT ''"),
    ("to_text", "TEXT NOT NULL DEFAULT ''"),
    ("cc_text", "TEXT NOT NULL DEFAULT ''"),
    ("reply_to_text", "TEXT NOT NULL DEFAULT ''"),
    ("attachments", "INTEGER NOT NULL DEFAULT 0"),
    ("inline_parts", "INTEGER NOT NULL DEFAULT 0"),
)


def up(migrator, database):
    from contacts_tui.core.mail.summary import summary_columns

    for name, kind in COLUMNS:
        database.execute_sql(f'ALTER TABLE captured_message ADD COLUMN "{name}" {kind}')
    mark = database.param  # ? on SQLite, %s on PostgreSQL
    last = 0
    while True:
        rows = database.execute_sql(
            f"SELECT id, message FROM captured_message WHERE id > {mark} ORDER BY id LIMIT {BATCH}", (last,)
        ).fetchall()
        if not rows:
            break
        for row_id, message in rows:
            columns = summary_columns(bytes(message))
            assignments = ", ".join(f'"{name}" = {mark}' for name in columns)
            database.execute_sql(
                f"UPDATE captured_message SET {assignments} WHERE id = {mark}", (*columns.values(), row_id)
            )
            last = row_id
    if isinstance(database, pw.SqliteDatabase):
        _messages_last(database)
        database.execute_sql(f"CREATE INDEX captured_message_inbox ON captured_message ({SEARCHED})")


def _messages_last(database):
    # SQLite's procedure for a change ALTER TABLE cannot make, as in m0002:
    # new table, copy, drop, rename, indexes again (foreign keys are off
    # while migrations run). Read from the table as it is, so columns other
    # versions added survive; the AUTOINCREMENT mark too, so an id cleared
    # away is never given out again.
    columns = database.execute_sql('PRAGMA table_info("captured_message")').fetchall()
    keys = database.execute_sql('PRAGMA foreign_key_list("captured_message")').fetchall()
    indexes = database.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'captured_message' AND sql IS NOT NULL"
    ).fetchall()
    mark = database.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = 'captured_message'").fetchone()
    last = ("original", "message")
    ordered = [c for c in columns if c[1] not in last] + [c for c in columns if c[1] in last]

    def definition(name, kind, not_null, default, primary):
        if primary:
            return f'"{name}" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT'
        return (
            f'"{name}" {kind}'
            + (" NOT NULL" if not_null else "")
            + (f" DEFAULT {default}" if default is not None else "")
        )

    parts = [
        definition(name, kind, not_null, default, primary) for _, name, kind, not_null, default, primary in ordered
    ]
    parts += [f'FOREIGN KEY ("{k[3]}") REFERENCES "{k[2]}" ("{k[4]}") ON DELETE {k[6]}' for k in keys]
    names = ", ".join(f'"{c[1]}"' for c in ordered)
    database.execute_sql(f'CREATE TABLE "captured_message_new" ({", ".join(parts)})')
    database.execute_sql(f'INSERT INTO "captured_message_new" ({names}) SELECT {names} FROM "captured_message"')
    database.execute_sql('DROP TABLE "captured_message"')
    database.execute_sql('ALTER TABLE "captured_message_new" RENAME TO "captured_message"')
    for (sql,) in indexes:
        database.execute_sql(sql)
    if mark is not None:
        database.execute_sql("DELETE FROM sqlite_sequence WHERE name = 'captured_message'")
        database.execute_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('captured_message', "
            "MAX(?, COALESCE((SELECT MAX(id) FROM captured_message), 0)))",
            (mark[0],),
        )
