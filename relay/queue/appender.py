"""Group commit onto an append-only file: many concurrent appends, one write and one fsync.

Whatever arrives while a batch is being synced forms the next batch. The
blocking calls run on a private single worker thread, so the event loop never
waits on the disk and the file is only ever touched by that thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .records import SpoolError


@dataclass(slots=True)
class AppendStats:
    records: int = 0
    batches: int = 0
    fsyncs: int = 0
    dir_fsyncs: int = 0


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a folder's entries (a created, renamed or removed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


OnDurable = Callable[[object, int], None]

# fdatasync is enough for appends: it still flushes the file size, which is the
# metadata needed to read the data back, and skips the mtime update.
datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


class Appender:
    """Group commit onto one append-only file at a time.

    ``open_file`` (run on the worker thread) opens the next file and returns
    ``(fd, token)``; the token names the file in the results, e.g. a segment
    number. With ``roll_bytes`` set, a file that has grown past it is replaced
    by a new one between batches. After a failed write or fsync the file is
    abandoned rather than reused: after a failed fsync Linux may have dropped
    the dirty pages and a later fsync would report success for data that is
    gone, so only a fresh file can be trusted. ``on_abandon(token, size)``
    (worker thread) hears of a file given up, with the size it keeps.
    """

    def __init__(
        self,
        open_file: Callable[[], tuple[int, object]],
        *,
        name: str,
        roll_bytes: int | None = None,
        stats: AppendStats | None = None,
        on_abandon: Callable[[object, int], None] | None = None,
    ) -> None:
        self._open_file = open_file
        self._on_abandon = on_abandon
        self._roll_bytes = roll_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"spool-{name}")
        self._fd: int | None = None
        self._token: object = None
        self._size = 0
        self._pending: list[tuple[bytes, asyncio.Future[tuple[object, int]], OnDurable | None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.stats = stats or AppendStats()

    @property
    def token(self) -> object:
        return self._token

    async def append(self, record: bytes, on_durable: OnDurable | None = None) -> tuple[object, int]:
        """Append one record; returns ``(token, offset)`` once it is on disk.

        ``on_durable(token, offset)`` runs as soon as the batch is synced, before
        any other task runs and before the next batch can start a new file: a
        caller that must account for the record (the spool's per-segment count
        of live messages) does it there, so nobody sees the file without it.
        """
        [where] = await self.append_all([(record, on_durable)])
        return where

    async def append_all(self, records: list[tuple[bytes, OnDurable | None]]) -> list[tuple[object, int]]:
        """Append several records in the same batch (one write, one fsync, one file); as ``append``."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[tuple[object, int]]] = []
        for record, on_durable in records:
            future: asyncio.Future[tuple[object, int]] = loop.create_future()
            self._pending.append((record, future, on_durable))
            futures.append(future)
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        # All of them are pending before the flusher can take a batch: they go in one.
        if len(futures) == 1:
            return [await futures[0]]
        return list(await asyncio.gather(*futures))

    async def run(self, job: Callable[[], object]) -> object:
        """Run ``job`` on the worker thread, in order with the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    def replace_file(self, fd: int, token: object, size: int) -> None:
        """Swap in another open file (worker thread only, e.g. from a ``run`` job)."""
        self._close_fd()
        self._fd, self._token, self._size = fd, token, size

    async def flush(self) -> None:
        """Wait until everything appended so far is on disk."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        await self.flush()
        await self.run(self._close_fd)
        self._executor.shutdown(wait=True)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    token, offsets = await loop.run_in_executor(
                        self._executor, self._write_batch, [record for record, _, _ in batch]
                    )
                except Exception as exc:  # anything: a commit must never wait forever
                    error = SpoolError(f"could not write the spool: {exc}")
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future, on_durable), offset in zip(batch, offsets, strict=True):
                    if on_durable is not None:
                        on_durable(token, offset)
                    if not future.done():
                        future.set_result((token, offset))
        finally:
            self._flusher = None

    def _write_batch(self, records: list[bytes]) -> tuple[object, list[int]]:
        if self._fd is None or (self._roll_bytes is not None and self._size >= self._roll_bytes):
            self._close_fd()
            self._fd, self._token = self._open_file()
            self._size = os.fstat(self._fd).st_size
        start = self._size
        offsets = []
        position = start
        for record in records:
            offsets.append(position)
            position += len(record)
        try:
            write_all(self._fd, b"".join(records))
            datasync(self._fd)
        except OSError:
            # Cut off what may have been written so a reader never meets it,
            # then give the file up (see the class docstring).
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass
            self._close_fd()
            if self._on_abandon is not None:
                try:
                    self._on_abandon(self._token, start)
                except OSError:
                    pass
            raise
        self._size = position
        self.stats.records += len(records)
        self.stats.batches += 1
        self.stats.fsyncs += 1
        return self._token, offsets

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
