"""Multi-row INSERT for the CSV import, without per-value query building.

Peewee's insert_many builds its SQL value by value, which costs more than the
database's own work at 100k rows; the statement here is built once per batch
size and fed plain tuples.
"""

from __future__ import annotations

from functools import lru_cache

import peewee


@lru_cache(maxsize=64)
def _statement(table: str, columns: tuple[str, ...], rows: int, returning: tuple[str, ...], param: str) -> str:
    group = "(" + ", ".join([param] * len(columns)) + ")"
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([group] * rows)
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    return sql


def insert_rows(
    model: type[peewee.Model], columns: tuple[str, ...], rows: list[tuple], returning: tuple[str, ...] = ()
) -> list[tuple]:
    """Insert ``rows`` (tuples in ``columns`` order); the RETURNING rows, in no promised order."""
    if not rows:
        return []
    database = model._meta.database
    sql = _statement(model._meta.table_name, columns, len(rows), returning, database.param)
    params = [value for row in rows for value in row]
    cursor = database.execute_sql(sql, params)
    return cursor.fetchall() if returning else []
