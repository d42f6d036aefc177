"""Customer search and paging that stay fast at 100k customers.

Words of three or more characters go through a trigram index (SQLite FTS5, or
pg_trgm on PostgreSQL); shorter words filter what that leaves. Pages come from
indexed ORDER BY with LIMIT/OFFSET, so no query holds all rows in memory.
"""

from __future__ import annotations

import weakref

import peewee

from .models import Customer
from .records import CustomerPage, customer_record

SORTS = {
    "name": ("name_key", "id"),
    "email": ("email_key",),
    "contacts": ("contact_count", "name_key", "id"),
    "status": ("active", "name_key", "id"),
}
MAX_LIMIT = 500
_TRIGRAM = 3
_fts_available: "weakref.WeakKeyDictionary[peewee.Database, bool]" = weakref.WeakKeyDictionary()


def _has_fts(database: peewee.Database) -> bool:
    if database not in _fts_available:
        _fts_available[database] = isinstance(database, peewee.SqliteDatabase) and database.table_exists(
            "customer_search"
        )
    return _fts_available[database]


def matching(database: peewee.Database, text: str) -> peewee.Expression | None:
    """The WHERE condition for a search text, or None to match everything."""
    words = text.casefold().split()
    condition = None
    if _has_fts(database):
        long_words = [w for w in words if len(w) >= _TRIGRAM]
        if long_words:
            expression = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
            condition = Customer.id.in_(
                peewee.SQL("(SELECT rowid FROM customer_search WHERE customer_search MATCH ?)", [expression])
            )
            words = [w for w in words if len(w) < _TRIGRAM]
    for word in words:
        term = Customer.search_text.contains(word)
        condition = term if condition is None else condition & term
    return condition


def customer_page(
    database: peewee.Database, text: str, sort: str, descending: bool, offset: int, limit: int
) -> CustomerPage:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    columns = [getattr(Customer, name) for name in SORTS[sort]]
    order = [c.desc() if descending else c.asc() for c in columns]
    query = Customer.select()
    condition = matching(database, text)
    if condition is not None:
        query = query.where(condition)
    total = query.count()
    rows = tuple(customer_record(r) for r in query.order_by(*order).offset(offset).limit(limit))
    return CustomerPage(rows, total, offset, limit)
