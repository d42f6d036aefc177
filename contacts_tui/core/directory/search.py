"""Customer search and paging that stay fast at 100k customers.

Words of three or more characters go through a trigram index (SQLite FTS5, or
pg_trgm on PostgreSQL), shorter ones on SQLite through an index of
characters and pairs of characters (grams.py). Pages come from
indexed ORDER BY with LIMIT/OFFSET, so no query holds all rows in memory.
"""

from __future__ import annotations

import functools
import operator
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import peewee

from .. import grams
from ..models import Customer
from ..records import CustomerPage, CustomerRecord, customer_record

SORTS = {
    "name": ("name_key", "id"),
    "email": ("email_key",),
    "contacts": ("contact_count", "name_key", "id"),
    "status": ("active", "name_key", "id"),
}
MAX_LIMIT = 500
_RECORD_FIELDS = (
    Customer.id,
    Customer.name,
    Customer.email,
    Customer.phone,
    Customer.active,
    Customer.contact_count,
    Customer.created_at,
    Customer.updated_at,
)
_TRIGRAM = 3
# Rows a walk down the sort order may test before gathering the matches from
# an index and sorting them is cheaper (measured at 100k).
_WALK_ROWS = 5_000
# ... and only when at least this share of the customers match, if an index can gather them.
_WALK_SHARE = 0.05
# A word in more than this share of a sample of customers is counted with
# LIKE: it stops at the first hit in each row, where the trigram index
# would gather every place of the word in every row (see _everywhere).
_SAMPLE, _EVERYWHERE_SHARE = 1_000, 0.9
# From this many customers a scan is counted in two halves at once (_scan_count).
_SPLIT_ROWS = 20_000
_tables: weakref.WeakKeyDictionary[peewee.Database, frozenset[str]] = weakref.WeakKeyDictionary()


def _has_index(database: peewee.Database, table: str) -> bool:
    if database not in _tables:
        indexes = {"customer_search", "customer_grams"}
        found = indexes & set(database.get_tables()) if isinstance(database, peewee.SqliteDatabase) else set()
        _tables[database] = frozenset(found)
    return table in _tables[database]


@dataclass(frozen=True)
class _Plan:
    """How a search text is matched: the index queries and the words left for LIKE."""

    words: tuple[str, ...] = ()
    """Every word, case-folded: what a walk down the sort order tests."""
    trigrams: str | None = None
    """FTS5 MATCH expression over customer_search (words of three or more characters)."""
    grams: str | None = None
    """FTS5 MATCH expression over customer_grams (shorter words, see grams.py), only without ``trigrams``."""
    scanned: tuple[str, ...] = ()
    """Words no index serves: LIKE tests them row by row."""


def _plan(database: peewee.Database, text: str) -> _Plan:
    words = tuple(text.casefold().split())
    if not _has_index(database, "customer_search"):
        return _Plan(words, scanned=words)
    long_words = [w for w in words if len(w) >= _TRIGRAM]
    short = [w for w in words if len(w) < _TRIGRAM]
    scanned: list[str] = []
    if long_words and _everywhere(database, long_words):
        scanned, long_words = long_words, []
    if short and (long_words or not _has_index(database, "customer_grams")):
        # Beside a word of the trigram index, LIKE tests the short ones on
        # its matches only; the two indexes are never joined (SQLite would
        # run one full-text query per row of the other: 35 s at 100k).
        scanned, short = scanned + short, []
    trigrams = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words) or None
    expression = " AND ".join(grams.match_expression(w) for w in short) or None
    return _Plan(words, trigrams, expression, tuple(scanned))


def _everywhere(database: peewee.Database, words: list[str]) -> bool:
    """Whether the words are in nearly every customer ("example" is in every
    address). Counting those through the trigram index gathers every place
    they occur (70 ms at 100k), where LIKE stops at the first in each row.
    A sample of the table tells."""
    condition = " AND ".join("search_text LIKE ? ESCAPE '\\'" for _ in words)
    sampled, hits = database.execute_sql(
        f"SELECT count(*), coalesce(sum({condition}), 0) FROM (SELECT search_text FROM customer LIMIT {_SAMPLE})",
        [f"%{_escape_like(w)}%" for w in words],
    ).fetchone()
    return sampled > 0 and hits > sampled * _EVERYWHERE_SHARE


def _in_index(table: str, expression: str) -> peewee.Expression:
    return Customer.id.in_(peewee.SQL(f"(SELECT rowid FROM {table} WHERE {table} MATCH ?)", [expression]))


def _matching(database: peewee.Database, plan: _Plan) -> peewee.Expression | None:
    """The WHERE condition of ``plan``, or None to match everything."""
    conditions = []
    if plan.trigrams is not None:
        conditions.append(_in_index("customer_search", plan.trigrams))
    if plan.grams is not None:
        conditions.append(_in_index("customer_grams", plan.grams))
    conditions += [_contains(database, Customer.search_text, word) for word in plan.scanned]
    return functools.reduce(operator.and_, conditions) if conditions else None


def _count(database: peewee.Database, plan: _Plan) -> int:
    if plan.trigrams is None and plan.grams is None and not plan.scanned:
        return Customer.select().count()
    if plan.scanned:
        return _scan_count(database, _matching(database, plan))
    # Each index has one row per customer: counting there skips a join
    # back to every matching customer (1 ms instead of 12 at 9k hits).
    table, expression = ("customer_search", plan.trigrams) if plan.grams is None else ("customer_grams", plan.grams)
    return database.execute_sql(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (expression,)).fetchone()[0]


def _scan_count(database: peewee.Database, condition: peewee.Expression) -> int:
    """How many customers meet a condition that LIKE tests on every row.

    At 100k customers that scan is 40-70 ms of reading and testing rows. On
    SQLite with more than one core, the two halves of the table are counted
    at once, in two connections: in about half the time.
    """
    if not isinstance(database, peewee.SqliteDatabase) or (os.cpu_count() or 1) < 2:
        return Customer.select().where(condition).count()
    top = Customer.select(peewee.fn.MAX(Customer.id)).scalar() or 0
    if top < _SPLIT_ROWS:
        return Customer.select().where(condition).count()

    def half(low: int, high: int) -> int:
        return Customer.select().where(condition & (Customer.id > low) & (Customer.id <= high)).count()

    # The helper thread keeps its connection, and with it a warm page cache.
    later = _helper().submit(half, top // 2, top)
    return half(0, top // 2) + later.result()


@functools.cache
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="customer-count")


def _contains(database: peewee.Database, text: peewee.ColumnBase, word: str) -> peewee.Expression:
    if not isinstance(database, peewee.PostgresqlDatabase):
        return text.contains(word)  # LIKE on SQLite
    # The search text and the words are case-folded already, so PostgreSQL
    # can use LIKE: ILIKE folds every row again, 3 to 5 times slower at 100k
    # (a scan for "de": 254 ms against 53 ms). pg_trgm serves both.
    return peewee.Expression(text, peewee.OP.LIKE, f"%{_escape_like(word)}%")


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def customer_page(
    database: peewee.Database, text: str, sort: str, descending: bool, offset: int, limit: int
) -> CustomerPage:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    columns = [getattr(Customer, name) for name in SORTS[sort]]
    plan = _plan(database, text)
    total = _count(database, plan)
    if offset >= total:
        return CustomerPage((), total, offset, limit)
    wanted = min(limit, total - offset)
    if plan.words and isinstance(database, peewee.SqliteDatabase):
        # Where many customers match, a page of them is near the start of the
        # sort order: a walk down its index that tests each row finds them in
        # a millisecond, where gathering every match from an index and sorting
        # them takes 20–50 ms. The count says how far the walk should reach,
        # if the matches are spread evenly; when they are not, it gives up there.
        customers = Customer.select(peewee.fn.MAX(Customer.id)).scalar() or total
        reach = (offset + limit) * customers / total
        indexed = plan.trigrams is not None or plan.grams is not None
        # An index gathers a few matches faster than a walk that misses them:
        # words of a name sit together in the name order ("Pioneer …" at P).
        if reach <= _WALK_ROWS and (not indexed or total >= customers * _WALK_SHARE):
            ids = _walk(database, plan.words, columns, descending, offset, limit, window=int(2 * reach) + limit)
            if len(ids) == wanted:
                return CustomerPage(_records(ids), total, offset, limit)
        if plan.trigrams is None and plan.grams is None:
            # Only LIKE: a unary plus keeps the sort index out of the ORDER
            # BY, so SQLite scans once and sorts the matches.
            columns = [peewee.NodeList((peewee.SQL("+"), c), glue="") for c in columns]
    # Only what a record shows: the sorter then carries no search text.
    query = Customer.select(*_RECORD_FIELDS)
    condition = _matching(database, plan)
    if condition is not None:
        query = query.where(condition)
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = tuple(customer_record(r) for r in query.order_by(*order).offset(offset).limit(limit))
    return CustomerPage(rows, total, offset, limit)


def _walk(
    database: peewee.Database,
    words: tuple[str, ...],
    columns: list[peewee.Field],
    descending: bool,
    offset: int,
    limit: int,
    window: int,
) -> list[int]:
    """The ids of a page of the customers holding every word, among the first
    ``window`` customers in the sort order (fewer when the window holds too few)."""
    order = [c.desc() if descending else c.asc() for c in columns]
    keys = [c for c in columns if c is not Customer.id]
    reached = Customer.select(Customer.id, Customer.search_text, *keys).order_by(*order).limit(window).alias("reached")
    inner = [reached.c[c.column_name] for c in columns]
    query = (
        Customer.select(reached.c.id)
        .from_(reached)
        .where(functools.reduce(operator.and_, [_contains(database, reached.c.search_text, w) for w in words]))
        .order_by(*[c.desc() if descending else c.asc() for c in inner])
        .offset(offset)
        .limit(limit)
    )
    return [row[0] for row in query.tuples()]


def _records(ids: list[int]) -> tuple[CustomerRecord, ...]:
    by_id = {r.id: r for r in Customer.select(*_RECORD_FIELDS).where(Customer.id.in_(ids))}
    return tuple(customer_record(by_id[i]) for i in ids if i in by_id)
