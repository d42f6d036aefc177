"""Notes, the customer's portal language, code requests by address, and
guards that keep other SQLite tools from making search go stale.

- ``notes`` on customers and contact persons: free text an admin (or, for
  its contact persons, the customer) keeps; never sent in mail.
- ``language`` on customers: the portal's language for them (``en``, ``nl``).
- ``portal_code_requests``: when each address asked for a sign-in code, by
  a hash of the address, for every address typed (a customer's or not), so
  the limit of codes an hour can be told to whoever asks without telling
  who is a customer.
- On SQLite, the search text (customer.search_text) is made by this program
  from the customer's name, email and note and its active contact persons'
  names, emails and notes. Another SQLite tool that changes any of those
  would leave search finding the old text; these triggers call a function
  only this program registers (``grams.GUARD_FUNCTION``), so such a change
  stops with "no such function" and changes nothing, as an insert already
  did (m0003's triggers).

Columns are added in place on both databases (a constant default, no table
copy); the models here are frozen copies of what version 16 created.
"""

import peewee as pw

from contacts_tui.core.grams import GUARD_FUNCTION

COLUMNS = (
    "ALTER TABLE customer ADD COLUMN notes TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE customer ADD COLUMN language VARCHAR(8) NOT NULL DEFAULT 'en'",
    "ALTER TABLE contact_person ADD COLUMN notes TEXT NOT NULL DEFAULT ''",
)

# What the search text is made of, table by table (rules.search_text).
GUARDED = (
    ("customer_guard_ai", "BEFORE INSERT ON customer"),
    ("customer_guard_au", "BEFORE UPDATE OF name, email, notes, search_text ON customer"),
    ("customer_guard_ad", "BEFORE DELETE ON customer"),
    ("contact_person_guard_ai", "BEFORE INSERT ON contact_person"),
    ("contact_person_guard_au", "BEFORE UPDATE OF customer_id, name, email, notes, deleted_at ON contact_person"),
    ("contact_person_guard_ad", "BEFORE DELETE ON contact_person"),
)


def up(migrator, database):
    class CodeRequest(pw.Model):
        address = pw.CharField(max_length=64)
        requested_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "portal_code_requests"
            indexes = ((("address", "requested_at"), False),)

    for statement in COLUMNS:
        database.execute_sql(statement)
    with database.bind_ctx([CodeRequest]):
        database.create_tables([CodeRequest])
    if isinstance(database, pw.SqliteDatabase):
        for name, when in GUARDED:
            database.execute_sql(f"CREATE TRIGGER {name} {when} BEGIN SELECT {GUARD_FUNCTION}(); END")
