"""Indexes for the filters (filters.py) that keep few customers among many,
and for sorting a search's matches.

A filter that keeps many customers finds a page by walking the sort order
and testing each row; one that keeps few must gather them from an index,
or it tests every customer (a second at a million). Partial indexes hold
only the rows they are for: the deleted contact persons, the customers
whose portal sign-in is disabled, those never signed in. Both databases
take the same statements.
"""

STATEMENTS = (
    "CREATE INDEX contact_person_role ON contact_person (role, customer_id)",
    "CREATE INDEX contact_person_deleted ON contact_person (customer_id) WHERE deleted_at IS NOT NULL",
    "CREATE INDEX customer_portal_disabled ON customer (name_key) WHERE portal_disabled_at IS NOT NULL",
    "CREATE INDEX customer_never_signed_in ON customer (name_key) WHERE last_sign_in_at IS NULL",
    # The sort keys by id: a search's matches come from the text index in id
    # order, and sorting them reads these instead of each customer's row.
    "CREATE INDEX customer_sort_keys ON customer (id, name_key, email_key, contact_count, active)",
)


def up(migrator, database):
    for statement in STATEMENTS:
        database.execute_sql(statement)
