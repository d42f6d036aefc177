"""The settings every process of a database shares: the catalog in use and
the contact person limit.

They were options of each process (--catalog, --max-contacts and their
environment variables): an import run with --max-contacts 11 left customers
the next plain start showed as "11 of 10". The table starts empty; the first
program of this version that opens the database stores what it was given
(or the defaults), so a deployment whose programs all had the same options
goes on as before (stored_settings.py).
"""

import peewee as pw

from contacts_tui.core.models import utcnow


def up(migrator, database):
    class Setting(pw.Model):
        name = pw.CharField(max_length=64, primary_key=True)
        value = pw.TextField()
        updated_at = pw.DateTimeField(default=utcnow)

        class Meta:
            table_name = "setting"

    with database.bind_ctx([Setting]):
        database.create_tables([Setting])
