"""The web inbox's columns on captured messages: a read flag and a summary.

Mailpit's API marks a message read when it is opened and lists unread
counts, so the flag is shared by every client of one database. The summary
(From, To, Cc, Bcc, Reply-To, snippet, attachment counts) and the address
fields as text are made once from the message, so a list of ten thousand
messages or a ``to:`` search parses none. Messages captured before this
version get them here, from the message as stored.
"""

BATCH = 200
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
            return
        for row_id, message in rows:
            columns = summary_columns(bytes(message))
            assignments = ", ".join(f'"{name}" = {mark}' for name in columns)
            database.execute_sql(
                f"UPDATE captured_message SET {assignments} WHERE id = {mark}", (*columns.values(), row_id)
            )
            last = row_id
