"""An index for searches of one or two characters on SQLite (see grams.py).

Built from every customer's search text; triggers keep it in step, as they
do the trigram index. PostgreSQL's pg_trgm index serves such words already.
"""

import peewee as pw

from contacts_tui.core.grams import FUNCTION


def up(migrator, database):
    if not isinstance(database, pw.SqliteDatabase) or "customer_search" not in database.get_tables():
        return  # No FTS5 (SQLite older than 3.34): search uses LIKE.
    # Contentless, without positions: only which customers hold a gram.
    database.execute_sql(
        "CREATE VIRTUAL TABLE customer_grams USING fts5("
        "grams, content='', detail=none, tokenize='trigram case_sensitive 1')"
    )
    database.execute_sql(f"INSERT INTO customer_grams(rowid, grams) SELECT id, {FUNCTION}(search_text) FROM customer")
    database.execute_sql(
        "CREATE TRIGGER customer_grams_ai AFTER INSERT ON customer BEGIN "
        f"INSERT INTO customer_grams(rowid, grams) VALUES (new.id, {FUNCTION}(new.search_text)); END"
    )
    database.execute_sql(
        "CREATE TRIGGER customer_grams_ad AFTER DELETE ON customer BEGIN "
        "INSERT INTO customer_grams(customer_grams, rowid, grams) "
        f"VALUES ('delete', old.id, {FUNCTION}(old.search_text)); END"
    )
    database.execute_sql(
        "CREATE TRIGGER customer_grams_au AFTER UPDATE OF search_text ON customer BEGIN "
        "INSERT INTO customer_grams(customer_grams, rowid, grams) "
        f"VALUES ('delete', old.id, {FUNCTION}(old.search_text)); "
        f"INSERT INTO customer_grams(rowid, grams) VALUES (new.id, {FUNCTION}(new.search_text)); END"
    )
