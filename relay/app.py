"""The running relay, wired together: config -> listener -> spool -> scheduler, and the relay log.

``Relay`` runs inside an asyncio loop (``contacts-relay serve``);
``RelayThread`` runs one in a thread of its own, for ``contacts-tui demo``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import socket
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from contacts_tui.core.db import describe
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.mail import chaos
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.mail.status import Decision, Status
from contacts_tui.core.mail.verdict import Verdict
from contacts_tui.core.tagging.store import LiveRules

from .config import RelayConfig
from .delivery.backoff import RetryPolicy
from .delivery.fallback import DOWN_FOR, Upstreams
from .delivery.pool import UpstreamPool
from .delivery.scheduler import Scheduler
from .inbox.server import InboxOptions, InboxServer
from .ops import metrics
from .ops.health import directory_problem, spool_problem
from .ops.queue_health import INTERVAL as QUEUE_STATE_INTERVAL
from .ops.queue_health import QueueState, degraded
from .queue import QueuedMessage, Spool, adopt_legacy_spool
from .queue.layout import spools_to_drain, worker_spool
from .server.access import parse_networks
from .server.decision import Limits
from .server.handler import Outgoing, RelayHandler
from .server.listener import Listener
from .server.throttle import FILE_NAME as AUTH_FAILURES_FILE
from .store.capture import CaptureStore
from .store.writer import LogWriter

logger = logging.getLogger(__name__)
T = TypeVar("T")

LOG_PRUNE_INTERVAL = 3600.0
CHAOS_REFRESH = 0.5  # seconds between reads of the chaos rules


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the relay's event loop: uvloop's where it is installed (about a tenth
    less CPU per message than asyncio's own), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


class Relay:
    """One relay process: worker ``worker`` of ``workers`` (see supervisor.py), or the only one.

    Its spool is ``worker-N`` under the spool directory; it also delivers what
    waits in the spools of workers no longer started. ``sock`` is a listening
    socket shared with the other workers; without one it listens itself.
    """

    def __init__(
        self,
        config: RelayConfig,
        directory: Directory,
        *,
        worker: int = 1,
        workers: int = 1,
        sock: socket.socket | None = None,
        http_sock: socket.socket | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.config = config
        # Where a worker tells the supervisor how its delivery goes (see ops/queue_health.py).
        self.state_file = state_file
        self.queue_state = QueueState(worker)
        self.directory = directory
        self.worker, self.workers = worker, workers
        # Where the directory is, for health checks that open it afresh.
        self.directory_url: str | None = None
        self.catalog_path: str | None = None
        self._sock = sock
        self._http_sock = http_sock
        self.inbox: InboxServer | None = None
        self.log_writer = LogWriter(config.hostname)
        self._pruner: asyncio.Task | None = None
        self._gauges: asyncio.Task | None = None
        self._chaos: asyncio.Task | None = None
        self.spool: Spool | None = None
        self.scheduler: Scheduler | None = None
        self.upstreams: Upstreams | None = None
        self._drains: list[tuple[Spool, Scheduler]] = []
        self.capture: CaptureStore | None = None
        self._sighup = False
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="relay-db")
        self.handler = RelayHandler(
            directory,
            self._sink,
            self.log_writer,
            networks=parse_networks(config.allow),
            hostname=config.hostname,
            category_header=config.category_header,
            limits=Limits(config.max_received, config.max_recipients),
            executor=self._executor,
            lookup_timeout=config.lookup_timeout,
            tagging=LiveRules(directory.database),
        )
        self.listener = Listener(
            self.handler,
            host=config.listen_host,
            port=config.listen_port,
            hostname=config.hostname,
            max_connections=config.max_connections,
            max_client_connections=config.max_client_connections,
            max_size=config.max_size,
            tls_cert=config.tls_cert,
            tls_key=config.tls_key,
            auth_file=config.auth_file,
            auth_failures=config.spool_dir / AUTH_FAILURES_FILE,
        )

    @property
    def port(self) -> int:
        return self.listener.port

    async def start(self) -> None:
        self.log_writer.start()
        if self.config.capture:
            self.capture = CaptureStore(self.log_writer, self.config.capture_retention)
            if self.config.chaos is not None and self.worker == 1:
                await asyncio.to_thread(chaos.replace_rules, chaos.rules_from_file(self.config.chaos))
            self.handler.chaos = await asyncio.to_thread(chaos.current_rules)
        else:
            root = self.config.spool_dir
            # The relay's alone, the root too (mkdir's parents get the umask's mode, 0770
            # under the unit's UMask=0007 in the folder shared with the group).
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            primary = worker_spool(root, self.worker)
            if self.worker == 1:
                adopt_legacy_spool(root, primary)
            # Postfix's dead-host mark, but never longer than the first retry waits.
            down_for = min(DOWN_FOR, self.config.min_backoff)
            pool = Upstreams([UpstreamPool(upstream) for upstream in self.config.upstream_configs()], down_for=down_for)
            self.upstreams = pool
            self.spool, self.scheduler = await self._deliver_from(primary, pool)
            for path in spools_to_drain(root, self.worker, self.workers):
                self._drains.append(await self._deliver_from(path, pool))
        await self.handler.read_rules()
        await self.listener.start(self._sock)
        if self.config.capture and self.config.http_host is not None:
            options = InboxOptions(
                self.config.http_host,
                self.config.http_port,
                self.config.http_auth,
                self.config.http_names,
                describe(self.directory.database),
            )
            self.inbox = await asyncio.to_thread(InboxServer(options, self._http_sock).start)
        loop = asyncio.get_running_loop()
        if self.config.log_retention_days > 0:
            self._pruner = loop.create_task(self._prune_log(), name="relay-log-retention")
        if self.config.capture:
            self._chaos = loop.create_task(self._follow_chaos(), name="relay-chaos-rules")
        if self.scheduler is not None:
            self._gauges = loop.create_task(self._watch_queue(), name="relay-queue-state")
        # SIGHUP is the usual "reload": without a handler it would kill the
        # relay. Signal handlers exist only in the main thread (not in the demo's).
        if threading.current_thread() is threading.main_thread():
            try:
                loop.add_signal_handler(signal.SIGHUP, self.reload)
                self._sighup = True
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    @property
    def queued(self) -> int:
        """Messages waiting in this process's spools."""
        schedulers = [self.scheduler] if self.scheduler else []
        return sum(scheduler.queued for scheduler in schedulers + [s for _, s in self._drains])

    async def _deliver_from(self, path: Path, pool: Upstreams) -> tuple[Spool, Scheduler]:
        spool = Spool(path)
        spool.open()
        scheduler = Scheduler(
            spool,
            pool,
            policy=RetryPolicy(self.config.min_backoff, self.config.max_backoff, self.config.max_lifetime),
            on_status=self._on_status,
            reporting_mta=self.config.hostname,
        )
        await scheduler.start()
        return spool, scheduler

    def reload(self) -> None:
        """SIGHUP: read the auth file again, and say so in the log."""
        logger.warning("SIGHUP: %s", self.listener.reload())

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop accepting, let transactions in flight finish, keep the rest in the spool.

        Sessions between transactions get 421 at once. A session after MAIL
        (sending RCPTs, or its DATA) may finish that transaction within
        ``timeout`` and gets the usual 250 once the message is in the spool;
        then 421. Whatever is still unfinished at the deadline gets 421 too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.listener.stop_accepting()
        if self.inbox is not None:
            await asyncio.to_thread(self.inbox.stop)
        for task in (self._pruner, self._gauges, self._chaos):
            if task is not None:
                task.cancel()
        if self._sighup:
            loop.remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        while loop.time() < deadline and self.listener.busy:
            await asyncio.sleep(0.05)
        self.listener.close_all()
        running = (
            [(self.spool, self.scheduler)] if self.spool is not None and self.scheduler is not None else []
        ) + self._drains
        await asyncio.gather(*(scheduler.stop(max(1.0, deadline - loop.time())) for _, scheduler in running))
        await self.log_writer.stop()
        for spool, _ in running:
            await spool.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _follow_chaos(self) -> None:
        # 'contacts-relay chaos' changes the rules in the database while this runs.
        while True:
            await asyncio.sleep(CHAOS_REFRESH)
            try:
                self.handler.chaos = await asyncio.to_thread(chaos.current_rules)
            except DirectoryError as exc:
                logger.warning("chaos rules: cannot read them (%s); keeping the ones read before", exc)

    async def _watch_queue(self) -> None:
        spools = [self.spool, *(spool for spool, _ in self._drains)]
        worker = str(self.worker)
        while True:
            waiting = [m for spool in spools if spool is not None for m in spool.waiting()]
            deferred = sum(1 for m in waiting if m.attempts)
            oldest = min(waiting, key=lambda m: m.received, default=None)
            upstreams = self.upstreams
            self.queue_state = state = QueueState(
                self.worker,
                queued=len(waiting),
                deferred=deferred,
                oldest_received=oldest.received if oldest else None,
                oldest_id=oldest.queue_id if oldest else "",
                oldest_error=oldest.last_error if oldest else "",
                failing=upstreams is not None and upstreams.failing(self.config.failure_alert),
                last_failure=upstreams.last_failure if upstreams is not None else "",
                time=time.time(),
            )
            metrics.current.queue.labels("deferred", worker).set(deferred)
            metrics.current.queue.labels("new", worker).set(len(waiting) - deferred)
            metrics.current.oldest.set(time.time() - oldest.received if oldest else 0.0)
            if self.state_file is not None:
                try:
                    await asyncio.to_thread(state.save, self.state_file)
                except OSError as exc:
                    logger.warning("cannot write the queue state for the health check: %s", exc)
            await asyncio.sleep(QUEUE_STATE_INTERVAL)

    def health(self) -> list[str]:
        """What keeps this relay from taking mail, then why delivery lags ("degraded: ..."); from any thread."""
        problems = ["not accepting mail: stopping"] if self.listener.stopping else []
        problems += health_problems(self.config, self.directory_url, self.catalog_path)
        states = [self.queue_state] if self.scheduler is not None else []
        return problems + degraded(states, self.config.queue_age_alert, self.config.failure_alert)

    async def _prune_log(self) -> None:
        # The log would otherwise grow by a row per message for ever. Several
        # relays on one database may all prune: the deletes are idempotent.
        keep = dt.timedelta(days=self.config.log_retention_days)
        while True:
            self.log_writer.prune(keep)
            await asyncio.sleep(LOG_PRUNE_INTERVAL)

    async def _sink(self, copies: Sequence[Outgoing], original: bytes) -> str:
        """Make every copy of a message durable together; the words after "250 2.0.0 Ok: "."""
        first = copies[0].message.queue_id
        more = f" and {len(copies) - 1} more {'copy' if len(copies) == 2 else 'copies'} (each customer gets its own)"
        more = more if len(copies) > 1 else ""
        if self.capture is not None:
            for copy in copies:
                copy.entry.status = Status.CAPTURED
            captured = await self.capture.store([(copy.entry, copy.data) for copy in copies], original)
            return f"captured as {captured[0]} (queue id {first}){more}"
        assert self.spool is not None
        started = time.perf_counter()
        await self.spool.commit_all([(copy.message, copy.data) for copy in copies])
        metrics.current.commit.observe(time.perf_counter() - started)
        for copy in copies:
            copy.entry.status = Status.QUEUED
            self.log_writer.received(copy.entry)
        return f"queued as {first}{more}"

    def _on_status(self, message: QueuedMessage, status: Status, reply: str, dsn_id: str | None) -> None:
        error = "" if status == Status.DELIVERED else reply
        metrics.current.attempts.labels(str(status).replace(" ", "_")).inc()
        if status == Status.DELIVERED:
            metrics.current.delivery.observe(max(0.0, time.time() - message.received))
        self.log_writer.status(message.queue_id, status, attempts=message.attempts, last_error=error)
        _log_status(message, status, reply, dsn_id)
        if dsn_id:
            failed = ", ".join(message.failed) or "recipients"
            self.log_writer.received(
                LogEntry(
                    queue_id=dsn_id,
                    sender="",
                    recipients=(message.sender,) if message.sender else (),
                    subject=f"Delivery status notification for {message.queue_id}",
                    verdict=Verdict(Decision.BOUNCE, f"delivery to {failed} failed: {reply}"),
                )
            )


def health_problems(config: RelayConfig, db_url: str | None, catalog: str | None) -> list[str]:
    """The spool can be written and has room, and the directory answers; else why not."""
    problems = []
    if not config.capture:
        problems.append(spool_problem(config.spool_dir, config.max_size))
    problems.append(directory_problem(db_url, catalog))
    return [problem for problem in problems if problem]


def _log_status(message: QueuedMessage, status: Status, reply: str, dsn_id: str | None) -> None:
    """One line per delivery attempt, as an operator tailing the log expects (Postfix's status=)."""
    queue_id = message.queue_id
    extra = {
        "mail": {
            "queue_id": queue_id,
            "sender": message.sender,
            "recipients": list(message.recipients),
            "category": message.category,
            "status": str(status),
            "reply": reply,
            "attempts": message.attempts,
        }
    }
    if status == Status.DELIVERED:
        logger.info("%s delivered to %s: %s", queue_id, ", ".join(message.delivered), reply, extra=extra)
    elif status == Status.DEFERRED:
        when = time.strftime("%H:%M:%S", time.localtime(message.next_attempt)) if message.next_attempt else "soon"
        logger.warning(
            "%s deferred after attempt %d, next at %s: %s (waiting for %s)",
            queue_id,
            message.attempts,
            when,
            reply,
            ", ".join(message.pending),
            extra=extra,
        )
    elif status == Status.DELETED:
        logger.info("%s deleted from the queue: %s", queue_id, reply, extra=extra)
    else:
        failed = "; ".join(f"{rcpt}: {failure.reply}" for rcpt, failure in message.failed.items())
        bounce = f"; bounce {dsn_id} to the sender" if dsn_id else ""
        logger.warning("%s %s: %s%s", queue_id, status, failed or reply, bounce, extra=extra)


class RelayThread:
    """A relay with its own event loop in a background thread (the demo's relay)."""

    def __init__(self, config: RelayConfig, directory: Directory) -> None:
        self.relay = Relay(config, directory)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    @property
    def port(self) -> int:
        return self.relay.port

    def start(self, timeout: float = 10.0) -> RelayThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the relay did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self.relay.stop(timeout), self._loop)
        try:
            future.result(timeout + 5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.relay.start())
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()
