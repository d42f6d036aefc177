"""Customers sort as people count: "Person 2" before "Person 10".

``name_key`` was the case-folded name, so the customers list read "Person 1,
Person 10, Person 2". It now writes each run of digits with its length
first (rules.name_sort_key); this fills it in for the customers already
there. The function is copied here as it was when this migration was
written: a later change of it needs a migration of its own.
"""

import re

_NUMBER = re.compile(r"[0-9]+")
BATCH = 500


def _key(name):
    def number(match):
        digits = match.group().lstrip("0") or "0"
        return f"{min(len(digits), 9)}{digits}"

    return _NUMBER.sub(number, name.casefold())[:200]


def up(migrator, database):
    rows = database.execute_sql("SELECT id, name, name_key FROM customer").fetchall()
    changed = [(customer_id, _key(name)) for customer_id, name, old in rows if _key(name) != old]
    mark = database.param
    for start in range(0, len(changed), BATCH):
        batch = changed[start : start + BATCH]
        values = ", ".join(f"({mark}, {mark})" for _ in batch)
        # One statement per batch, in a form SQLite and PostgreSQL both take:
        # a statement per customer is 100k round trips to a database server.
        database.execute_sql(
            f"WITH v(id, name_key) AS (VALUES {values}) "
            "UPDATE customer SET name_key = (SELECT v.name_key FROM v WHERE v.id = customer.id) "
            "WHERE id IN (SELECT id FROM v)",
            [value for pair in batch for value in pair],
        )
