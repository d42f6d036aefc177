"""Captured messages keep the category the relay resolved the header to.

A message tagged ``invoice.created`` is in the category ``billing``: the
relay log knew that, the captured message did not, so searching the captured
messages for "billing" missed it. Messages captured before this version get
the key from their relay log entry.
"""

import peewee as pw


def up(migrator, database):
    database.execute_sql("ALTER TABLE captured_message ADD COLUMN category_key VARCHAR(64) NOT NULL DEFAULT ''")
    database.execute_sql(
        "UPDATE captured_message SET category_key = COALESCE("
        "(SELECT relay_log.category_key FROM relay_log WHERE relay_log.id = captured_message.log_id), '')"
    )
