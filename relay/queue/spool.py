"""The durable spool: nothing the relay answered 250 for is ever lost.

A spool folder (created mode 0700 on first use; see ``layout`` for its
files) holds append-only message segments and a state file.

A commit appends one record to the current segment; concurrent commits share
one write and one fsync (group commit, see ``appender.Appender``). Message
records are never rewritten: what happens to a message later is a small full
snapshot of its state appended to the state file, and the last snapshot wins
on recovery. A segment is deleted once every message in it is done, and only
after the "done" records are on disk. The state file is rewritten from memory
when it has grown, and at every start, which also drops a torn tail before
anything is appended after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from contacts_tui.core.process import take_lock

from .appender import Appender, AppendStats, fsync_dir, write_all
from .control import QUEUE_ID, Command, list_commands, read_segments, remove_command
from .layout import OLD_STATE_FILE, STATE_FILE, legacy_files, lock_path, segment_dir, segment_path
from .message import QueuedMessage, SpoolStats, new_queue_id
from .records import KIND_MESSAGE, KIND_STATE, SpoolError, encode, read_body

logger = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
DEFAULT_STATE_COMPACT_BYTES = 4 * 1024 * 1024
# Bytes of just-committed messages kept in memory for their first delivery
# attempt, which then needs no disk read (nor a thread to do it in).
FRESH_BYTES = 32 * 1024 * 1024


class SpoolBusy(SpoolError):
    """Another relay process owns the spool folder."""


class Spool:
    """A spool folder owned by this process. See the module docstring.

    ``open()`` (or the first ``commit``/``recover``) creates the folder,
    takes the lock and reads what a previous run left. Call it at startup, so
    that a second relay fails there with ``SpoolBusy``.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        state_compact_bytes: int = DEFAULT_STATE_COMPACT_BYTES,
    ) -> None:
        self.folder = Path(folder)
        self._segment_bytes = segment_bytes
        self._state_compact_bytes = state_compact_bytes
        self._lock_fd: int | None = None
        self._closed = False
        self._index: dict[str, QueuedMessage] = {}
        self._committing: set[str] = set()  # ids on their way to disk, not yet indexed
        self._segment_ids: dict[int, list[str]] = {}
        # Messages not yet done, per segment: a segment at 0 can be deleted.
        self._live: dict[int, int] = {}
        self._listeners: list[Callable[[QueuedMessage], None]] = []
        self._segments: Appender | None = None
        self._states: Appender | None = None
        self._next_segment = 1
        self._state_bytes = 0
        self._state_limit = state_compact_bytes
        self._commits = 0
        self._fresh: dict[str, bytes] = {}
        self._fresh_bytes = 0
        self._segment_stats = AppendStats()
        self._state_stats = AppendStats()

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        """Create the spool if needed, lock it, and load what is queued."""
        if self._closed:
            raise SpoolError(f"the spool {self.folder} was closed")
        if self._lock_fd is not None:
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for sub in ("seg", "control"):
                (self.folder / sub).mkdir(mode=0o700, exist_ok=True)
            self._take_lock()
        except OSError as exc:
            raise SpoolError(f"cannot open the spool {self.folder}: {exc.strerror or exc}") from None
        try:
            self._load()
        except OSError as exc:
            self._release_lock()
            raise SpoolError(f"cannot open the spool {self.folder}: {exc.strerror or exc}") from None
        except BaseException:
            self._release_lock()
            raise
        self._segments = Appender(
            self._open_segment,
            name="seg",
            roll_bytes=self._segment_bytes,
            stats=self._segment_stats,
            on_abandon=self._abandon_segment,
        )
        self._states = Appender(self._open_state, name="state", stats=self._state_stats)

    async def close(self) -> None:
        """Flush what is pending and give the spool up for another process."""
        for appender in (self._segments, self._states):
            if appender is not None:
                await appender.close()
        self._segments = self._states = None
        self._closed = True
        self._release_lock()

    async def __aenter__(self) -> Spool:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _take_lock(self) -> None:
        fd, owner = take_lock(lock_path(self.folder))
        if fd is None:
            raise SpoolBusy(f"spool {self.folder} is in use by another relay (pid {owner})")
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _load(self) -> None:
        segments = read_segments(self.folder, owner=True)
        for number, messages in segments.items():
            self._index.update((message.queue_id, message) for message in messages)
            self._segment_ids[number] = [message.queue_id for message in messages]
            self._live[number] = 0
        self._next_segment = max(segments, default=0) + 1
        for message in self._index.values():
            if not message.done:
                self._live[message.segment] += 1
        for number, live in list(self._live.items()):
            if live == 0:
                self._drop_segment(number)
                segment_path(self.folder, number).unlink(missing_ok=True)
        self._write_state_snapshot(self._state_snapshot())

    # -- worker-thread file openers -----------------------------------------

    def _open_segment(self) -> tuple[int, object]:
        number = self._next_segment
        self._next_segment += 1
        path = segment_path(self.folder, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            # The new name must be durable before any record in it is acknowledged.
            fsync_dir(segment_dir(self.folder))
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._segment_stats.dir_fsyncs += 1
        return fd, number

    def _abandon_segment(self, number: object, size: int) -> None:
        # A failed commit (a full disk) gives its segment up. One that holds
        # no acknowledged record would otherwise stay as an empty file, one
        # more with every failed commit, until the next start.
        if size == 0 and isinstance(number, int):
            segment_path(self.folder, number).unlink(missing_ok=True)

    def _open_state(self) -> tuple[int, object]:
        return os.open(self.folder / STATE_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "state"

    # -- committing ----------------------------------------------------------

    def add_listener(self, callback: Callable[[QueuedMessage], None]) -> None:
        """Call ``callback(message)`` after every durable commit (the scheduler's hand-off)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[QueuedMessage], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    async def commit(self, message: QueuedMessage, data: bytes, *, notify: bool = True) -> str:
        """Write the message and its bytes durably and return its queue id.

        When this returns, the message is on disk and fsync'd: answer 250 only
        now. If it raises, nothing was acknowledged: answer 451. The message is
        handed to the listeners (the scheduler) unless ``notify`` is false.
        Its ``queue_id`` may be set by a receiver that named the message before
        committing it (e.g. in its Received header; from ``new_queue_id``), or
        left empty for the spool to choose.
        """
        [queue_id] = await self.commit_all([(message, data)], notify=notify)
        return queue_id

    async def commit_all(self, messages: Sequence[tuple[QueuedMessage, bytes]], *, notify: bool = True) -> list[str]:
        """Commit several messages (the copies of one message) in one write and one fsync; their queue ids.

        As ``commit``: when this returns every one of them is on disk, and if
        it raises none was acknowledged.
        """
        self.open()
        records = []
        for message, data in messages:
            if not message.recipients:
                raise ValueError("a message needs at least one recipient")
            if not message.queue_id:
                message.queue_id = new_queue_id()
                while message.queue_id in self._index or message.queue_id in self._committing:
                    message.queue_id = new_queue_id()
            elif (
                not QUEUE_ID.match(message.queue_id)
                or message.queue_id in self._index
                or message.queue_id in self._committing
            ):
                raise ValueError(f"{message.queue_id!r} is not a new queue id")
            message.holds(data)
            head = json.dumps(message.envelope_head()).encode()
            records.append(encode(KIND_MESSAGE, head, data))
            self._committing.add(message.queue_id)
        # Shielded: once the bytes are on their way to disk, the messages must be
        # indexed and scheduled even if the client that sent them hung up.
        return await asyncio.shield(self._commit(messages, records, notify))

    async def _commit(
        self, messages: Sequence[tuple[QueuedMessage, bytes]], records: list[bytes], notify: bool
    ) -> list[str]:
        assert self._segments is not None

        def indexer(message: QueuedMessage, data: bytes, head_len: int):
            def index(number: object, offset: int) -> None:
                # Runs right when the batch is synced (see Appender.append): had it
                # waited for this task to resume, a finish elsewhere could have seen
                # the segment with no live message and deleted it under this one.
                assert isinstance(number, int)
                message.segment = number
                message.body_offset = offset + head_len
                self._index[message.queue_id] = message
                self._segment_ids.setdefault(number, []).append(message.queue_id)
                self._live[number] = self._live.get(number, 0) + 1
                self._commits += 1
                if self._fresh_bytes + len(data) <= FRESH_BYTES:
                    self._fresh[message.queue_id] = data
                    self._fresh_bytes += len(data)

            return index

        appending = [
            (record, indexer(message, data, len(record) - len(data)))
            for (message, data), record in zip(messages, records, strict=True)
        ]
        try:
            await self._segments.append_all(appending)
        finally:
            for message, _ in messages:
                self._committing.discard(message.queue_id)
        if notify:
            for message, _ in messages:
                for callback in self._listeners:
                    try:
                        callback(message)
                    except Exception:
                        logger.exception("spool listener failed for %s", message.queue_id)
        self._delete_finished_segments()
        return [message.queue_id for message, _ in messages]

    # -- reading and updating ------------------------------------------------

    def get(self, queue_id: str) -> QueuedMessage | None:
        message = self._index.get(queue_id)
        return None if message is None or message.done else message

    def recover(self) -> list[QueuedMessage]:
        """Every message that is not done, oldest first, with its delivery state."""
        self.open()
        return sorted(self.waiting(), key=lambda m: (m.received, m.queue_id))

    def waiting(self) -> Iterator[QueuedMessage]:
        """The messages not done yet, in no order (the scheduler's queue)."""
        return (m for m in self._index.values() if not m.done)

    @property
    def waiting_count(self) -> int:
        return sum(self._live.values())

    async def read_data(self, message: QueuedMessage) -> bytes:
        """The message bytes as committed (checked against their CRC when read from disk)."""
        data = self._forget_fresh(message.queue_id)
        if data is not None:
            return data
        path = segment_path(self.folder, message.segment)
        return await asyncio.to_thread(read_body, path, message.body_offset, message.size, message.body_crc)

    async def save(self, message: QueuedMessage) -> None:
        """Record the message's delivery state (attempts, per-recipient results) durably."""
        await self._append_state(message)

    async def finish(self, message: QueuedMessage, *, deleted: bool = False) -> None:
        """Mark the message done (or deleted by an admin); its space is reclaimed."""
        if message.done:
            return
        message.done = True
        message.deleted = message.deleted or deleted
        self._forget_fresh(message.queue_id)
        await self._append_state(message)
        # Counted out only once "done" is on disk: a segment is never deleted
        # before the records that say its messages are finished.
        self._live[message.segment] -= 1
        self._delete_finished_segments()

    def _forget_fresh(self, queue_id: str) -> bytes | None:
        data = self._fresh.pop(queue_id, None)
        if data is not None:
            self._fresh_bytes -= len(data)
        return data

    async def _append_state(self, message: QueuedMessage) -> None:
        self.open()
        assert self._states is not None
        record = encode(KIND_STATE, json.dumps(message.state_head()).encode())
        self._state_bytes += len(record)
        await self._states.append(record)
        if self._state_bytes > self._state_limit:
            await self._compact_state()

    async def _compact_state(self) -> None:
        assert self._states is not None
        snapshot = self._state_snapshot()
        self._state_bytes = 0
        # Leave room to grow: with a large live queue, a fixed limit would mean
        # rewriting the whole snapshot after every few updates.
        self._state_limit = max(self._state_compact_bytes, 2 * len(snapshot))
        states = self._states

        def job() -> None:
            self._write_state_snapshot(snapshot)
            fd, token = self._open_state()
            states.replace_file(fd, token, os.fstat(fd).st_size)

        await states.run(job)

    def _state_snapshot(self) -> bytes:
        return b"".join(
            encode(KIND_STATE, json.dumps(m.state_head()).encode()) for m in self._index.values() if m.has_state()
        )

    def _write_state_snapshot(self, snapshot: bytes) -> None:
        # Segment deletions must be durable before the "done" records that made
        # them safe disappear from the state file, or a crash could bring back a
        # segment whose messages no longer look done.
        fsync_dir(segment_dir(self.folder))
        tmp = self.folder / (STATE_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                write_all(fd, snapshot)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk must not also be left a half-written copy
            raise
        os.replace(tmp, self.folder / STATE_FILE)
        # A spool from before the state file had its name: read, now rewritten.
        (self.folder / OLD_STATE_FILE).unlink(missing_ok=True)
        fsync_dir(self.folder)
        self._state_stats.fsyncs += 1
        self._state_stats.dir_fsyncs += 2

    def _delete_finished_segments(self) -> None:
        current = self._segments.token if self._segments is not None else None
        for number in [number for number, live in self._live.items() if live == 0 and number != current]:
            self._drop_segment(number)
            # Unlinked at once, not in a thread later: a state file compaction
            # drops the done records of dropped segments, and it must find the
            # unlink already made (it fsyncs the folder before replacing).
            segment_path(self.folder, number).unlink(missing_ok=True)

    def _drop_segment(self, number: int) -> None:
        del self._live[number]
        for queue_id in self._segment_ids.pop(number):
            self._index.pop(queue_id, None)

    # -- admin commands ------------------------------------------------------

    def commands(self) -> list[Command]:
        """Admin commands waiting in the control folder, oldest first."""
        return list_commands(self.folder)

    def remove_command(self, command: Command) -> None:
        remove_command(self.folder, command)

    @property
    def stats(self) -> SpoolStats:
        """Counters for tests and the benchmark: how many fsyncs the commits cost."""
        return SpoolStats(
            commits=self._commits,
            commit_batches=self._segment_stats.batches,
            commit_fsyncs=self._segment_stats.fsyncs,
            dir_fsyncs=self._segment_stats.dir_fsyncs + self._state_stats.dir_fsyncs,
            state_fsyncs=self._state_stats.fsyncs,
        )


def adopt_legacy_spool(root: Path, target: Path) -> bool:
    """Move a spool that an earlier relay wrote right into ``root`` to ``target`` (worker 1's).

    Under the root's own lock, so never from under an earlier relay still
    running there; renames only, so nothing is copied or can be half-moved
    (a crash in between leaves files in both places, and the next start
    moves the rest). Returns whether anything was moved.
    """
    files = legacy_files(root)
    if not files:
        return False
    fd, owner = take_lock(lock_path(root))
    if fd is None:
        raise SpoolBusy(f"spool {root} is in use by another relay (pid {owner})")
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in legacy_files(root):
            destination = target / path.name
            if destination.exists() and path.is_dir():
                for entry in path.iterdir():  # the rest of an interrupted move
                    entry.rename(destination / entry.name)
                path.rmdir()
            elif not destination.exists():
                path.rename(destination)
        fsync_dir(target)
        fsync_dir(root)
    except OSError as exc:
        raise SpoolError(f"cannot move the spool in {root} to {target}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    logger.warning("moved the spool of an earlier relay in %s to %s", root, target)
    return True
