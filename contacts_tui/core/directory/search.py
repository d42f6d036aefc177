"""Customer search and filters that stay fast at a million customers.

Words of three or more characters go through a trigram index (SQLite FTS5, or
pg_trgm on PostgreSQL), shorter ones on SQLite through an index of
characters and pairs of characters (grams.py). Pages come from
indexed ORDER BY with LIMIT/OFFSET, so no query holds all rows in memory.

A search or filter first probes: it counts the matches among the first
customers (by id), stopping at ``COUNT_CAP`` of them. Where that many are
found before the probe ends, the matches are common: the page comes from a
walk down the sort order, and the total is an estimate from the share the
probe found ("about 333,000"), marked as such; ``count_customers`` counts
exactly, for whoever can wait. Otherwise the matches are few and an index
gathers them all: the page is sorted from those and the total is exact.
"""

from __future__ import annotations

import functools
import operator
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import peewee

from .. import grams
from ..interrupt import Stop
from ..models import Customer
from ..records import CustomerPage, CustomerRecord, customer_record
from .filters import FILTER_COLUMNS, NO_FILTER, Filter, customer_condition, filter_gather

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
    # A form opened from the list edits the record it was given: all of what it edits.
    Customer.notes,
    Customer.language,
)
_TRIGRAM = 3
# A word in more than this share of a sample of customers is counted with
# LIKE: it stops at the first hit in each row, where the trigram index
# would gather every place of the word in every row (see _everywhere).
_SAMPLE, _EVERYWHERE_SHARE = 1_000, 0.9
# From this many customers a scan is counted in two halves at once (_scan_count).
_SPLIT_ROWS = 20_000
_tables: weakref.WeakKeyDictionary[peewee.Database, frozenset[str]] = weakref.WeakKeyDictionary()


def _has_index(database: peewee.Database, table: str) -> bool:
    if database not in _tables:
        found = set()
        if isinstance(database, peewee.SqliteDatabase):
            found = {"customer_search", "customer_grams"} & set(database.get_tables())
            found |= {"customer_sort_keys"} & {i.name for i in database.get_indexes("customer")}
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


def _scan_count(database: peewee.Database, condition: peewee.Expression, stop: Stop) -> int:
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
        with stop.reading(database):
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


COUNT_CAP = 1_000
"""Matches a probe counts before it calls them common (and the total an estimate)."""
_PROBE_ROWS = 20_000
"""Customers a probe tests at most, in id order, where no text index leads it."""


@dataclass(frozen=True)
class _Probe:
    """What counting the first matches found."""

    found: int
    """Matches counted, at most COUNT_CAP + 1."""
    reached: int
    """Customers (by id) the probe went through to find them."""
    complete: bool
    """Whether ``found`` is every match."""


@dataclass(frozen=True)
class _Search:
    """One search text with one filter, as SQL."""

    plan: _Plan
    matching: peewee.Expression | None
    """Every condition, the words' through their indexes."""
    tests: list[peewee.Expression]
    """The conditions a row is tested with (LIKE words, the filter's), without the text indexes."""
    gather: peewee.Expression | None
    """An indexed superset of the filter's customers, for gathering few of them."""


def _search(database: peewee.Database, text: str, flt: Filter, max_contacts: int) -> _Search:
    if flt.domain and flt.status != "deleted":
        # The domain is in the search text of every customer it keeps (its
        # own address or an active contact person's): the text index narrows
        # to those, and the filter's exact test keeps the right ones.
        text = f"{text} @{flt.domain}"
    plan = _plan(database, text)
    tests = [_contains(database, Customer.search_text, word) for word in plan.scanned]
    kept = customer_condition(flt, max_contacts)
    if kept is not None:
        tests.append(kept)
    conditions = [c for c in (_matching(database, replace(plan, scanned=())),) if c is not None] + tests
    gather = filter_gather(flt)
    matching = functools.reduce(operator.and_, conditions) if conditions else None
    return _Search(plan, matching, tests, gather)


def customer_page(
    database: peewee.Database,
    text: str,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
    flt: Filter = NO_FILTER,
    max_contacts: int = 10,
    stop: Stop | None = None,
) -> CustomerPage:
    """One page of the customers matching ``text`` and ``flt``, sorted; see the module's docstring."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    columns = [getattr(Customer, name) for name in SORTS[sort]]
    stop = stop or Stop()
    with stop.reading(database):
        search = _search(database, text, flt, max_contacts)
        if search.matching is None:
            total = Customer.select().count()
            return CustomerPage(_sorted(None, columns, descending, offset, limit), total, offset, limit)
        probe = _probe(database, search)
        stop.check()
        customers = Customer.select(peewee.fn.MAX(Customer.id)).scalar() or 0
        # Many match when the probe found the cap, or (a probe without a text
        # index, which tests only the first customers) a share of them that
        # counting exactly would read a large part of the table for.
        many = probe.found > COUNT_CAP or (not probe.complete and probe.found >= _ESTIMATE_FROM)
        if probe.complete:
            total, exact = probe.found, True
        elif many:
            total, exact = max(probe.found, round(probe.found * customers / max(probe.reached, 1))), False
        else:
            total, exact = _count(database, search, stop), True
        stop.check()
        if exact and offset >= total:
            return CustomerPage((), total, offset, limit)
        indexed = _text_index(search.plan) is not None or search.gather is not None
        if many:
            # Many customers match: a page of them is near the start of the
            # sort order, and a walk down its index that tests each row finds
            # them in a millisecond, where gathering every match and sorting
            # takes a scan. The probe's share says how far the walk should
            # reach if the matches are spread evenly; when they are not (a
            # name's first word: "Beacon …" all at B), it gives up there and
            # the index gathers after all. Where an index can gather, the walk
            # is kept short: a miss then costs little.
            reach = (offset + limit) * probe.reached / probe.found
            window = int(2 * reach) + limit
            if window <= (_WALK_WINDOW if indexed else _WALK_LIMIT):
                ids = _walk(database, search, flt, max_contacts, columns, descending, offset, limit, window)
                if len(ids) == limit or (exact and len(ids) == min(limit, total - offset)):
                    return CustomerPage(_records(ids), total, offset, limit, exact)
            stop.check()
        index = _text_index(search.plan)
        if index is not None and _has_index(database, "customer_sort_keys"):
            rows = _records(_gather(database, index, search, columns, descending, offset, limit))
        else:
            rows = _sorted(search, columns, descending, offset, limit)
        if not exact and len(rows) < limit:
            # Past the end of an estimate: the matches end here.
            total, exact = offset + len(rows), True
        return CustomerPage(rows, total, offset, limit, exact)


_ESTIMATE_FROM = 100
"""Matches among the probe's customers (a share of 0.5%) from which the total is estimated."""
_WALK_LIMIT = 200_000
"""Rows a walk down the sort order reads at most before the matches are gathered instead."""
_WALK_WINDOW = 20_000
"""... where an index gathers them (a miss then costs a few milliseconds, not a scan)."""


def _sorted(search: _Search | None, columns, descending: bool, offset: int, limit: int) -> tuple[CustomerRecord, ...]:
    # Only what a record shows: the sorter then carries no search text.
    query = Customer.select(*_RECORD_FIELDS)
    order = [c.desc() if descending else c.asc() for c in columns]
    if search is None:
        return tuple(customer_record(r) for r in query.order_by(*order).offset(offset).limit(limit))
    query = query.where(search.matching if search.gather is None else search.matching & search.gather)
    if isinstance(query.model._meta.database, peewee.PostgresqlDatabase):
        # Gather first, then sort: told that few rows match, PostgreSQL would
        # still walk the sort index and test each row until it had a page
        # (seconds where the matches sit at the end). OFFSET 0 keeps the
        # subquery whole.
        shown = {f.column_name for f in _RECORD_FIELDS}
        keys = [c for c in columns if c.column_name not in shown]
        matches = query.select_extend(*keys).offset(0).alias("matches")
        outer = [matches.c[c.column_name] for c in columns]
        fields = [matches.c[f.column_name] for f in _RECORD_FIELDS]
        query = (
            Customer.select(*fields)
            .from_(matches)
            .order_by(*[c.desc() if descending else c.asc() for c in outer])
            .offset(offset)
            .limit(limit)
        )
        return tuple(customer_record(r) for r in query)
    if search.plan.trigrams is None and search.plan.grams is None and search.gather is None:
        # Only row tests: a unary plus keeps the sort index out of the
        # ORDER BY, so SQLite scans once and sorts the matches.
        order = [
            peewee.NodeList((peewee.SQL("+"), c), glue="").desc()
            if descending
            else peewee.NodeList((peewee.SQL("+"), c), glue="").asc()
            for c in columns
        ]
    return tuple(customer_record(r) for r in query.order_by(*order).offset(offset).limit(limit))


def _gather(
    database: peewee.Database,
    index: tuple[str, str, str],
    search: _Search,
    columns,
    descending: bool,
    offset: int,
    limit: int,
) -> list[int]:
    """The ids of a page of the text index's matches that pass the row tests, sorted.

    The matches come from the index in id order; each one's sort keys from
    an index that holds them by id (m0017), in the same order, never from
    the customer's row: 30,000 matches sort in two thirds of the time. The
    row tests (a short word, a filter) then read the rows of the first
    candidates in that order only, taking more until a page passes.
    """
    wanted = offset + limit
    if not search.tests:
        return _sorted_ids(database, index, columns, descending, offset, limit)
    take = wanted * 4
    while True:
        candidates = _sorted_ids(database, index, columns, descending, 0, take)
        test = functools.reduce(operator.and_, search.tests)
        passed = {row[0] for row in Customer.select(Customer.id).where(Customer.id.in_(candidates) & test).tuples()}
        kept = [i for i in candidates if i in passed]
        if len(kept) >= wanted or len(candidates) < take:
            return kept[offset:wanted]
        take *= 8


def _sorted_ids(
    database: peewee.Database, index: tuple[str, str, str], columns, descending: bool, offset: int, limit: int
) -> list[int]:
    table, _, expression = index
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f"c.{column.column_name} {direction}" for column in columns)
    query = (
        f"SELECT c.id FROM {table} CROSS JOIN customer AS c INDEXED BY customer_sort_keys "
        f"ON c.id = {table}.rowid WHERE {table} MATCH ? ORDER BY {order} LIMIT ? OFFSET ?"
    )
    return [row[0] for row in database.execute_sql(query, (expression, limit, offset))]


def _probe(database: peewee.Database, search: _Search) -> _Probe:
    """Count matches from the start of the table (by id) up to COUNT_CAP + 1."""
    plan = search.plan
    index = _text_index(plan)
    if index is not None:
        # The text index leads: it hands its matches over in id order, one
        # at a time, and the probe stops at the cap without gathering them all.
        table, _, expression = index
        # FTS5 takes MATCH on its table's own name, not an alias.
        condition = functools.reduce(
            operator.and_,
            [peewee.SQL(f"{table} MATCH ?", [expression]), peewee.SQL(f"{table}.rowid") == Customer.id, *search.tests],
        )
        # CROSS JOIN keeps the text index outside: SQLite would otherwise
        # start from an index of a filter's column and ask the text index
        # once per customer (seconds), and the ids would not come in order.
        query = (
            Customer.select(Customer.id)
            .from_(peewee.SQL(table))
            .join(Customer, peewee.JOIN.CROSS)
            .where(condition)
            .limit(COUNT_CAP + 1)
        )
        ids = [row[0] for row in query.tuples()]
        found = len(ids)
        return _Probe(found, max(ids, default=0), found <= COUNT_CAP)
    bound = Customer.select(Customer.id).order_by(Customer.id).offset(_PROBE_ROWS - 1).limit(1).scalar()
    query = Customer.select(Customer.id).where(search.matching)
    if bound is not None:
        query = query.where(Customer.id <= bound)
    ids = [row[0] for row in query.order_by(Customer.id).limit(COUNT_CAP + 1).tuples()]
    found = len(ids)
    complete = found <= COUNT_CAP and bound is None
    return _Probe(found, max(ids, default=0) if found > COUNT_CAP else bound or 0, complete)


def _text_index(plan: _Plan) -> tuple[str, str, str] | None:
    if plan.trigrams is not None:
        return "customer_search", "search_text", plan.trigrams
    if plan.grams is not None:
        return "customer_grams", "grams", plan.grams
    return None


def _count(database: peewee.Database, search: _Search, stop: Stop) -> int:
    """How many customers match, exactly."""
    index = _text_index(search.plan)
    if index is not None and not search.tests:
        # Each index has one row per customer: counting there skips a join
        # back to every matching customer (1 ms instead of 12 at 9k hits).
        table, _, expression = index
        return database.execute_sql(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (expression,)).fetchone()[0]
    condition = search.matching if search.gather is None else search.matching & search.gather
    if index is None and search.gather is None and search.plan.scanned:
        return _scan_count(database, condition, stop)
    # An index of the filter's (a status's column) serves this better than two scans.
    return Customer.select().where(condition).count()


def count_customers(
    database: peewee.Database, text: str, flt: Filter = NO_FILTER, max_contacts: int = 10, stop: Stop | None = None
) -> int:
    """The exact number of customers matching ``text`` and ``flt`` (a scan where many do)."""
    stop = stop or Stop()
    with stop.reading(database):
        search = _search(database, text, flt, max_contacts)
        if search.matching is None:
            return Customer.select().count()
        return _count(database, search, stop)


def shown_condition(
    database: peewee.Database, text: str, flt: Filter = NO_FILTER, max_contacts: int = 10
) -> peewee.Expression | None:
    """The WHERE condition of every customer ``text`` and ``flt`` match (None:
    all of them), for going through all that a search shows a chunk at a
    time by id (a bulk change) instead of a page in sort order."""
    search = _search(database, text, flt, max_contacts)
    if search.matching is None:
        return None
    return search.matching if search.gather is None else search.matching & search.gather


def _walk(
    database: peewee.Database,
    search: _Search,
    flt: Filter,
    max_contacts: int,
    columns: list[peewee.Field],
    descending: bool,
    offset: int,
    limit: int,
    window: int,
) -> list[int]:
    """The ids of a page of the matching customers among the first ``window``
    customers in the sort order (fewer when the window holds too few)."""
    order = [c.desc() if descending else c.asc() for c in columns]
    needed = {c.column_name for c in columns} | {"id", "search_text"}
    if flt:
        needed |= set(FILTER_COLUMNS)
    reached = (
        Customer.select(*[getattr(Customer, name) for name in sorted(needed)])
        .order_by(*order)
        .limit(window)
        .alias("reached")
    )
    conditions = [_contains(database, reached.c.search_text, w) for w in search.plan.words]
    kept = customer_condition(flt, max_contacts, reached)
    if kept is not None:
        conditions.append(kept)
    inner = [reached.c[c.column_name] for c in columns]
    query = (
        Customer.select(reached.c.id)
        .from_(reached)
        .where(functools.reduce(operator.and_, conditions))
        .order_by(*[c.desc() if descending else c.asc() for c in inner])
        .offset(offset)
        .limit(limit)
    )
    return [row[0] for row in query.tuples()]


def _records(ids: list[int]) -> tuple[CustomerRecord, ...]:
    by_id = {r.id: r for r in Customer.select(*_RECORD_FIELDS).where(Customer.id.in_(ids))}
    return tuple(customer_record(by_id[i]) for i in ids if i in by_id)
