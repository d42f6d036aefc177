"""The queue manager: takes spooled messages to the upstream until nothing is pending.

Every committed message reaches the scheduler (new commits through the spool's
listener hook, older ones from ``Spool.recover()`` at start). An attempt sends
the recipients still pending; accepted ones are recorded and never sent again,
5xx ones fail for good, 4xx and connection problems are retried with the
backoff of ``RetryPolicy`` until the message's lifetime ends and they expire.
Recipients that failed for good are reported to the sender in one RFC 3464 DSN
per attempt that produced failures (in practice one per message), committed to
the spool from the null sender so that it is as durable as any other message.
A message leaves the spool once no recipient is pending. The messages are the
spool's: the scheduler keeps only their ids in the order they are due.

The loop sleeps until the next message is due, a commit or a finished attempt
wakes it, or it is time to look for admin commands in the spool's control
directory (every ``control_interval`` seconds; a listdir is cheap).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import inspect
import itertools
import logging
import socket
import time
from collections.abc import Awaitable, Callable

from contacts_tui.core.mail.status import Status

from ..queue import Failure, QueuedMessage, Reply, Spool, SpoolError
from .backoff import RetryPolicy
from .bounce import build_dsn
from .outbound import DeliveryResult
from .pool import Deliverer

logger = logging.getLogger(__name__)

StatusCallback = Callable[[QueuedMessage, Status, str, "str | None"], Awaitable[None] | None]
"""on_status(message, status, reply, dsn_id): after every attempt (and a deletion).

``reply`` is the reply that decided the status: the upstream's acceptance, its
refusal, or the reason for the deferral. ``dsn_id`` is the queue id of the DSN
this attempt committed, if any. The message's own fields say the rest
(``delivered``, ``failed``, ``pending``, ``attempts``, ``next_attempt``).
"""


class Scheduler:
    """Delivers what the spool holds with ``deliverer``; see the module docstring.

    ``on_status`` may be sync or async; it runs on the event loop after every
    attempt, so slow work (a database write) belongs in a thread. DSNs
    committed by the scheduler come through it too (their ``dsn_for`` names
    the original).
    """

    def __init__(
        self,
        spool: Spool,
        deliverer: Deliverer,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int | None = None,
        on_status: StatusCallback | None = None,
        reporting_mta: str | None = None,
        control_interval: float = 0.5,
    ) -> None:
        self._spool = spool
        self._deliverer = deliverer
        self._policy = policy or RetryPolicy()
        self._concurrency = concurrency or deliverer.concurrency
        self._on_status = on_status
        self._reporting_mta = reporting_mta
        self._control_interval = control_interval
        # The ids of the spool's messages this scheduler delivers; a DSN it has
        # committed joins only once the original's state is recorded.
        self._scheduled: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def queued(self) -> int:
        """Messages not yet done."""
        return len(self._scheduled)

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Load what the spool holds, apply waiting admin commands, and start delivering."""
        if self._reporting_mta is None:
            self._reporting_mta = await asyncio.to_thread(socket.getfqdn)
        self._spool.open()
        recovered = self._spool.recover()
        _merge_dsn_reports(recovered)
        for message in recovered:
            self._schedule(message)
        self._spool.add_listener(self._schedule)
        await self._apply_commands()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="relay-scheduler")

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the attempts in flight (abandoning them after ``timeout`` s), then close connections.

        An abandoned attempt leaves its message in the spool as it was before
        the attempt. The spool itself stays open: its owner closes it.
        """
        self._stopping = True
        self._spool.remove_listener(self._schedule)
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._inflight:
            _, unfinished = await asyncio.wait(list(self._inflight.values()), timeout=timeout)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        await self._deliverer.close()

    # -- admin actions -------------------------------------------------------

    def retry_now(self) -> None:
        """Make every waiting message due now, and try upstreams passed over as down again (Postfix's flush)."""
        forget = getattr(self._deliverer, "forget_down", None)
        if forget is not None:
            forget()
        now = time.time()
        self._heap = []
        for queue_id in self._scheduled:
            message = self._spool.get(queue_id)
            if message is None:
                continue
            if queue_id not in self._inflight:
                message.next_attempt = now
            self._heap.append((message.next_attempt, next(self._order), queue_id))
        heapq.heapify(self._heap)
        self._wake.set()

    async def delete(self, queue_id: str) -> bool:
        """Delete a message from the queue for good; False if there is no such message."""
        message = self._spool.get(queue_id)
        if message is None:
            return False
        self._scheduled.discard(queue_id)
        message.deleted = True
        await self._spool.finish(message, deleted=True)
        await self._notify(message, Status.DELETED, "deleted by an administrator")
        return True

    async def _apply_commands(self) -> None:
        try:
            commands = self._spool.commands()
        except OSError as exc:
            logger.error("cannot read the spool's control directory: %s", exc)
            return
        for command in commands:
            try:
                if command.action == "retry-now":
                    logger.info("retry-now requested: every waiting message is due now")
                    self.retry_now()
                elif command.queue_id is not None:
                    found = await self.delete(command.queue_id)
                    logger.info("delete %s requested: %s", command.queue_id, "deleted" if found else "not in the queue")
                self._spool.remove_command(command)
            except (SpoolError, OSError) as exc:
                # Left in place, the command is tried again on the next poll.
                logger.error("could not apply the %s command: %s", command.action, exc)

    # -- the loop ------------------------------------------------------------

    def _schedule(self, message: QueuedMessage) -> None:
        if message.done:
            return
        self._scheduled.add(message.queue_id)
        heapq.heappush(self._heap, (message.next_attempt, next(self._order), message.queue_id))
        self._wake.set()

    async def _run(self) -> None:
        next_control = time.time() + self._control_interval
        while not self._stopping:
            self._wake.clear()
            if time.time() >= next_control:
                await self._apply_commands()
                next_control = time.time() + self._control_interval
            self._dispatch(time.time())
            timeout = next_control - time.time()
            if self._heap and len(self._inflight) < self._concurrency:
                timeout = min(timeout, self._heap[0][0] - time.time())
            if timeout > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass

    def _dispatch(self, now: float) -> None:
        while self._heap and len(self._inflight) < self._concurrency and self._heap[0][0] <= now:
            due, _, queue_id = heapq.heappop(self._heap)
            message = self._spool.get(queue_id) if queue_id in self._scheduled else None
            # Entries are never removed from the heap, only outdated: skip those.
            if message is None or queue_id in self._inflight or message.next_attempt != due:
                continue
            task = asyncio.get_running_loop().create_task(self._attempt(message), name=f"deliver-{queue_id}")
            self._inflight[queue_id] = task
            task.add_done_callback(functools.partial(self._attempt_done, message))

    def _attempt_done(self, message: QueuedMessage, task: asyncio.Task[None]) -> None:
        self._inflight.pop(message.queue_id, None)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("attempt for %s failed", message.queue_id, exc_info=error)
            # Counted like any failed attempt, so that the message still
            # expires and bounces in the end instead of being retried for ever.
            if message.pending and not message.deleted:
                reply = Reply.local(f"4.3.0 local error in delivery: {type(error).__name__}: {error}")
                self._record(message, DeliveryResult({rcpt: reply for rcpt in message.pending}), time.time())
            if message.next_attempt <= time.time():
                message.next_attempt = time.time() + self._policy.min_backoff
            self._schedule(message)
            saving = asyncio.get_running_loop().create_task(self._spool.save(message))
            saving.add_done_callback(_report_save_failure)
        self._wake.set()

    # -- one attempt ---------------------------------------------------------

    async def _attempt(self, message: QueuedMessage) -> None:
        try:
            data: bytes | None = await self._spool.read_data(message)
        except (SpoolError, OSError) as exc:
            logger.error("cannot read %s from the spool: %s", message.queue_id, exc)
            data = None
        result = None
        if message.pending:
            if data is None:
                reply = Reply.local("4.3.0 the spooled copy of the message could not be read")
                result = DeliveryResult({rcpt: reply for rcpt in message.pending})
            else:
                result = await self._deliver(message, data)
            if message.deleted:
                return  # deleted by an admin while we were sending
            self._record(message, result, time.time())
        try:
            dsn_id = await self._bounce(message, data or b"")
            keep = bool(message.pending)
        except SpoolError as exc:
            logger.error("cannot spool the DSN for %s: %s", message.queue_id, exc)
            dsn_id, keep = None, True
            if not message.pending:
                # Keep the message until its DSN is safely queued; the next
                # attempt has nobody to deliver to and only retries the DSN.
                message.next_attempt = time.time() + self._policy.min_backoff
        try:
            if keep:
                await self._spool.save(message)
            else:
                await self._spool.finish(message)
        except SpoolError as exc:
            # The state stays in memory; losing it on disk only means a repeat
            # attempt after a restart, never a lost message.
            logger.error("cannot record the state of %s: %s", message.queue_id, exc)
        if message.deleted:
            return  # deleted by an admin meanwhile: "deleted" was the last word
        if message.done:
            self._scheduled.discard(message.queue_id)
        else:
            self._schedule(message)
        if dsn_id is not None and (dsn := self._spool.get(dsn_id)) is not None:
            self._schedule(dsn)
        await self._report(message, result, dsn_id)

    async def _deliver(self, message: QueuedMessage, data: bytes) -> DeliveryResult:
        pending = message.pending
        try:
            return await self._deliverer.deliver(
                data, message.sender, pending, smtputf8=message.smtputf8, eightbit=message.eightbit, crlf=message.crlf
            )
        except Exception as exc:
            logger.exception("delivery of %s raised", message.queue_id)
            reply = Reply.local(f"4.3.0 delivery failed: {exc}")
            return DeliveryResult({rcpt: reply for rcpt in pending})

    def _record(self, message: QueuedMessage, result: DeliveryResult, now: float) -> None:
        message.attempts += 1
        deferrals = []
        for rcpt, reply in result.replies.items():
            if rcpt in message.delivered or rcpt in message.failed:
                continue
            if reply.outcome == "accepted":
                message.delivered[rcpt] = reply
            elif reply.outcome == "permanent":
                message.failed[rcpt] = Failure(reply)
            else:
                deferrals.append(reply)
        message.last_error = str(deferrals[0]) if deferrals else ""
        if message.pending and self._policy.expired(message.received, now):
            for rcpt in message.pending:
                last = result.replies.get(rcpt) or Reply.local(f"4.4.7 {message.last_error or 'no reply'}")
                # The last reply stays the diagnostic; the status says the time ran out.
                message.failed[rcpt] = Failure(last, expired=True)
        if message.pending:
            message.next_attempt = self._policy.next_attempt(message.received, message.attempts, now)

    async def _bounce(self, message: QueuedMessage, data: bytes) -> str | None:
        """Commit a DSN for the failures not reported yet; returns its queue id."""
        unreported = [rcpt for rcpt in message.failed if rcpt not in message.reported]
        if not unreported:
            return None
        if not message.sender:
            # Never bounce a bounce (or anything else from <>): no loops.
            message.reported.update(unreported)
            return None
        failures = {rcpt: message.failed[rcpt] for rcpt in unreported}
        try:
            dsn = build_dsn(
                data,
                message.sender,
                failures,
                self._reporting_mta or "localhost",
                message.received,
                time.time(),
                queue_id=message.queue_id,
                remote_mta=self._deliverer.remote_name,
            )
        except Exception:
            # A report that cannot be written (an address no encoding can
            # carry) must not keep the message in the queue for ever.
            logger.exception(
                "cannot write the DSN for %s to %r; the sender is not told", message.queue_id, message.sender
            )
            message.reported.update(unreported)
            return None
        report = QueuedMessage(
            queue_id="",
            sender="",
            recipients=(message.sender,),
            smtputf8=not (dsn.isascii() and message.sender.isascii()),
            eightbit=not dsn.isascii(),
            # What the DSN reports travels with it, so that a crash between
            # this commit and the original's state record cannot send it twice.
            dsn_for=message.queue_id,
            dsn_reports=failures,
            crlf=True,  # build_dsn writes CRLF line ends
        )
        # Not handed to the listener: it is scheduled only after the original's
        # state is recorded (see _attempt). A SpoolError goes to the caller.
        dsn_id = await self._spool.commit(report, dsn, notify=False)
        message.reported.update(unreported)
        return dsn_id

    # -- status reports ------------------------------------------------------

    async def _report(self, message: QueuedMessage, result: DeliveryResult | None, dsn_id: str | None) -> None:
        if not message.done:
            status, reply = Status.DEFERRED, message.last_error
        elif not message.failed:
            status = Status.DELIVERED
            reply = str(result.data_reply) if result is not None and result.data_reply else ""
        else:
            if message.delivered:
                status = Status.PARTIALLY_FAILED
            elif all(f.expired for f in message.failed.values()):
                status = Status.EXPIRED
            else:
                status = Status.FAILED
            reply = str(next(iter(message.failed.values())).reply)
        await self._notify(message, status, reply, dsn_id)

    async def _notify(self, message: QueuedMessage, status: Status, reply: str, dsn_id: str | None = None) -> None:
        if self._on_status is None:
            return
        try:
            outcome = self._on_status(message, status, reply, dsn_id)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.exception("status callback failed for %s (%s)", message.queue_id, status)


def _report_save_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("cannot record a message's state: %s", task.exception())


def _merge_dsn_reports(messages: list[QueuedMessage]) -> None:
    # A DSN that made it to disk proves its failures were final and
    # reported, even if the original's state record did not make it.
    by_id = {m.queue_id: m for m in messages}
    for dsn in messages:
        original = by_id.get(dsn.dsn_for)
        if original is None:
            continue
        for rcpt, failure in dsn.dsn_reports.items():
            original.failed.setdefault(rcpt, failure)
            original.reported.add(rcpt)
