"""The relay log: one database row per message, written in batches.

The spool, not the log, carries the mail; so log writes never hold up an SMTP
reply. They queue here and a background task writes them in one transaction
per batch; when nobody waits for a commit the writer lets entries gather for
a moment first, so that under load a transaction carries dozens of rows
rather than two or three. New rows and status updates are plain tuples fed to
one prepared INSERT or UPDATE with ``executemany``: building the SQL of each
row through the ORM cost more than the database's own work. If the database
is unreachable the entries wait (bounded) and are written when it is back.
Captured messages, which *are* the product in capture mode, go through the
same writer but their callers wait for the commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee

from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Status
from contacts_tui.core.migrate import write_transaction
from contacts_tui.core.models import RelayLog, utcnow

logger = logging.getLogger(__name__)

MAX_WAITING = 100_000
_BATCH = 500
# How long entries may gather before a write when no caller waits for it.
_GATHER = 0.025


Job = Callable[[], Any]

_COLUMNS = tuple(LogEntry(queue_id="").row())
_STATUS_COLUMNS = ("status", "updated_at", "attempts", "last_error", "delivered_at")


@dataclass(frozen=True, slots=True)
class _Insert:
    """A new relay log row (values in ``_COLUMNS`` order); consecutive ones go in one executemany."""

    values: tuple


@dataclass(frozen=True, slots=True)
class _Status:
    """What delivery did with a message: ``_STATUS_COLUMNS`` values, then the queue id."""

    values: tuple


Work = Job | _Insert | _Status
"""What a batch is made of: jobs of callers, and the rows the relay log's own writes add (one executemany for a run)."""


class LogWriter:
    """Batches database writes of the relay off the event loop."""

    def __init__(self, relay_name: str = "") -> None:
        self.relay_name = relay_name
        self._jobs: deque[tuple[Work, asyncio.Future | None]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False
        self._waiting = 0  # jobs in the queue whose caller awaits the commit
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="relay-log-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is waiting (up to ``timeout``), then stop."""
        self._closing = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                self._task.cancel()
                logger.warning("relay log: %d entries not written at shutdown (database unreachable)", len(self._jobs))

    def received(self, entry: LogEntry) -> None:
        """Record a message the relay accepted, refused or captured."""
        entry.relay = entry.relay or self.relay_name
        self._submit(_Insert(tuple(entry.row().values())))

    def status(self, queue_id: str, status: Status, *, attempts: int, last_error: str) -> None:
        """Record what delivery did with a message, by its queue id."""
        now = utcnow()
        delivered = now if status == Status.DELIVERED else None
        self._submit(_Status((str(status), now, attempts, last_error, delivered, queue_id)))

    def prune(self, older_than: dt.timedelta, batch: int = 10_000) -> None:
        """Delete log entries received before now - ``older_than``, a batch at a time."""
        cutoff = utcnow() - older_than

        def job() -> int:
            old = RelayLog.select(RelayLog.id).where(RelayLog.received_at < cutoff).limit(batch)
            return RelayLog.delete().where(RelayLog.id.in_(old)).execute()

        self._submit(job)

    async def write(self, job: Job) -> Any:
        """Run ``job`` in the next batch and wait until it is committed."""
        future = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._waiting += 1
        self._wake.set()
        return await future

    def _submit(self, job: Work) -> None:
        if len(self._jobs) >= MAX_WAITING:
            self._jobs.popleft()
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("relay log: database unreachable for long; %d oldest entries dropped", self.dropped)
        self._jobs.append((job, None))
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.5
        while True:
            if not self._jobs:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._jobs) < _BATCH and not self._waiting and not self._closing:
                await asyncio.sleep(_GATHER)
            batch = [self._jobs.popleft() for _ in range(min(_BATCH, len(self._jobs)))]
            self._waiting -= sum(1 for _, future in batch if future is not None)
            try:
                results = await asyncio.to_thread(_write_batch, [job for job, _ in batch])
            except (peewee.OperationalError, peewee.InterfaceError) as exc:  # unreachable or locked: retry
                self._jobs.extendleft(reversed(batch))
                self._waiting += sum(1 for _, future in batch if future is not None)
                logger.warning(
                    "relay log: cannot write to the database (%s); retrying in %g s", _first_line(exc), delay
                )
                if self._closing:
                    for _, future in batch:
                        if future and not future.done():
                            future.set_exception(exc)
                    self._jobs.clear()
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except Exception:
                # One bad entry must not hold up the rest forever: write them
                # one by one and give up only on those that fail alone.
                await self._one_by_one(batch)
                continue
            delay = 0.5
            for (_, future), result in zip(batch, results, strict=True):
                if future and not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch) -> None:
        for job, future in batch:
            try:
                (result,) = await asyncio.to_thread(_write_batch, [job])
            except Exception as exc:
                logger.error("relay log: an entry could not be written and was dropped: %s", _first_line(exc))
                if future and not future.done():
                    future.set_exception(exc)
            else:
                if future and not future.done():
                    future.set_result(result)


def _write_batch(jobs: list[Work]) -> list[Any]:
    database = RelayLog._meta.database
    try:
        with write_transaction(database):
            statements = _statements(database)
            results: list[Any] = []
            run: list[tuple] = []
            kind: type | None = None

            def flush() -> None:
                if run and kind is not None:
                    rows = [_values(database, row) for row in run]
                    with peewee.__exception_wrapper__:  # driver errors as peewee's, as for any query
                        cursor = database.cursor()
                        if isinstance(database, peewee.PostgresqlDatabase):
                            # psycopg2's executemany is a round trip per row; this sends pages of them.
                            from psycopg2.extras import execute_batch

                            execute_batch(cursor, statements[kind], rows, page_size=250)
                        else:
                            cursor.executemany(statements[kind], rows)
                    run.clear()

            for job in jobs:
                if isinstance(job, (_Insert, _Status)):
                    if type(job) is not kind:
                        flush()
                        kind = type(job)
                    run.append(job.values)
                    results.append(None)
                    continue
                flush()
                kind = None
                results.append(job())
            flush()
            return results
    finally:
        # Pooled PostgreSQL connections go back; SQLite keeps its per-thread one.
        if isinstance(database, peewee.PostgresqlDatabase) and not database.is_closed():
            database.close()


_prepared: dict[tuple[str, str], dict[type, str]] = {}


def _statements(database: peewee.Database) -> dict[type, str]:
    """The INSERT and the status UPDATE, built once for the database's parameter style."""
    key = (type(database).__name__, database.param)
    if key not in _prepared:
        mark = database.param
        table = RelayLog._meta.table_name
        _prepared[key] = {
            _Insert: f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in _COLUMNS)}) '
            f"VALUES ({', '.join([mark] * len(_COLUMNS))})",
            _Status: f'UPDATE "{table}" SET '
            + ", ".join(f'"{c}" = {mark}' for c in _STATUS_COLUMNS)
            + f' WHERE "queue_id" = {mark}',
        }
    return _prepared[key]


def _values(database: peewee.Database, row: tuple) -> tuple:
    # SQLite stores peewee's DateTimeField as this text; PostgreSQL takes datetimes as they are.
    if isinstance(database, peewee.SqliteDatabase):
        return tuple(str(value) if isinstance(value, dt.datetime) else value for value in row)
    return row


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
