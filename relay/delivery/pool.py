"""Delivery to the upstream SMTP server over a small pool of reused connections.

``UpstreamPool.deliver`` runs an SMTP transaction (``outbound``: pipelined
when the upstream offers it) and reports what happened to every recipient; it
never raises for anything the upstream or the network does. What to do about
it (retry, bounce) is the scheduler's business.

Connections are opened lazily, up to ``UpstreamConfig.connections`` at a time,
and kept between messages (no per-message handshake, TLS and AUTH). A pooled
connection the upstream has dropped meanwhile shows up as a disconnect or a 421
at MAIL FROM, before anything was accepted, so the transaction is simply run
once more on a fresh connection instead of probing with NOOP before each use.

Recipients refused with "452 too many recipients" (RFC 5321 4.5.3.1.10) when
others were accepted get another transaction at once, on the same connection:
the upstream limits recipients per message, so waiting for the backoff would
only delay them.

With a rate (``--upstream-rate``) each transaction waits for its turn before
it takes a connection, so no connection sits idle (and goes stale) meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..ops import metrics
from ..queue.reply import Reply
from .outbound import DeliveryResult, Stale, send
from .rate import RateLimiter
from .session import DEFAULT_CONNECTIONS, Opener, SessionFailure, TlsMode, UpstreamConfig
from .smtp_client import ProtocolError, SmtpClient

__all__ = ["DEFAULT_CONNECTIONS", "Deliverer", "TlsMode", "UpstreamConfig", "UpstreamPool"]


class Deliverer(Protocol):
    """What the scheduler delivers with: the upstream pool, or anything else that sends mail.

    ``concurrency`` is how many messages it can take at once; ``remote_name``
    names the server for a DSN's Remote-MTA (None: no single server).
    """

    @property
    def concurrency(self) -> int: ...

    @property
    def remote_name(self) -> str | None: ...

    async def deliver(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        smtputf8: bool = False,
        eightbit: bool = False,
        crlf: bool = False,
    ) -> DeliveryResult: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class PoolStats:
    connections_opened: int = 0
    transactions: int = 0


@dataclass(slots=True, eq=False)
class _Connection:
    client: SmtpClient
    last_used: float = field(default_factory=time.monotonic)


def _too_many_recipients(reply: Reply) -> bool:
    return reply.code == 452 and (reply.status == "4.5.3" or "too many recipients" in reply.text.lower())


class UpstreamPool:
    """Delivers messages to one upstream server over up to ``config.connections`` reused connections."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.stats = PoolStats()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(config.connections)
        self._opener = Opener(config)
        self.limiter = RateLimiter(config.rate) if config.rate else None
        self._reaper: asyncio.TimerHandle | None = None
        self._quitting: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def remote_name(self) -> str:
        return self.config.host

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def concurrency(self) -> int:
        return self.config.connections

    async def deliver(
        self,
        message: bytes,
        sender: str,
        recipients: Sequence[str],
        *,
        smtputf8: bool = False,
        eightbit: bool = False,
        crlf: bool = False,
    ) -> DeliveryResult:
        """Send ``message`` from ``sender`` to ``recipients``; see ``DeliveryResult``.

        ``crlf``: every line of the message ends in CRLF already, so it needs no look for bare ones.
        """
        recipients = list(dict.fromkeys(recipients))
        replies: dict[str, Reply] = {}
        data_reply = None
        unreachable = False
        todo = recipients
        async with self._slots:
            while todo:
                result = await self._deliver_once(message, sender, todo, smtputf8, eightbit, crlf)
                unreachable = unreachable or (result.unreachable and not replies)
                replies.update(result.replies)
                data_reply = result.data_reply or data_reply
                more = [rcpt for rcpt in todo if _too_many_recipients(result.replies[rcpt])]
                # Only when this transaction delivered to someone: a 452 for
                # every recipient is an ordinary deferral, retried after the backoff.
                todo = more if more and result.accepted else []
        return DeliveryResult({rcpt: replies[rcpt] for rcpt in recipients}, data_reply, unreachable)

    async def _deliver_once(
        self, message: bytes, sender: str, recipients: list[str], smtputf8: bool, eightbit: bool, crlf: bool
    ) -> DeliveryResult:
        if self.limiter is not None:
            waited = await self.limiter.take(len(recipients))
            metrics.current.rate_wait.labels(self.name).inc(waited)
        connection = self._take_idle()
        fresh = connection is None
        while True:
            if connection is None:
                try:
                    connection = _Connection(await self._opener.open())
                except SessionFailure as failure:
                    return DeliveryResult({rcpt: failure.reply for rcpt in recipients}, unreachable=True)
                self.stats.connections_opened += 1
            try:
                result = await send(
                    connection.client,
                    message,
                    sender,
                    recipients,
                    smtputf8=smtputf8,
                    eightbit=eightbit,
                    fresh=fresh,
                    data_timeout=self.config.data_timeout,
                    crlf=crlf,
                )
            except Stale:
                connection.client.close()
                connection, fresh = None, True
                continue
            except BaseException:
                # Cancelled mid-transaction (a stop that timed out): the
                # session is in an unknown state and cannot be reused.
                connection.client.close()
                raise
            break
        self.stats.transactions += 1
        if connection.client.is_connected and not self._closed:
            connection.last_used = time.monotonic()
            self._idle.append(connection)
            self._schedule_reaper()
        else:
            connection.client.close()
        return result

    async def close(self) -> None:
        """Say goodbye to the pooled connections."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(c) for c in idle), *self._quitting)

    # -- connections ---------------------------------------------------------

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # most recently used first: least likely to be stale
            if connection.client.is_connected and now - connection.last_used < self.config.idle_timeout:
                return connection
            self._quit_later(connection)
        return None

    def _schedule_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(self.config.idle_timeout, self._reap)

    def _reap(self) -> None:
        # Idle connections are closed from our side, politely, instead of
        # waiting for the upstream to time them out.
        self._reaper = None
        now = time.monotonic()
        keep = []
        for connection in self._idle:
            if now - connection.last_used >= self.config.idle_timeout:
                self._quit_later(connection)
            else:
                keep.append(connection)
        self._idle = keep
        if keep:
            self._schedule_reaper()

    def _quit_later(self, connection: _Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._quit(connection))
        self._quitting.add(task)  # a task nobody references may be collected mid-way
        task.add_done_callback(self._quitting.discard)

    async def _quit(self, connection: _Connection) -> None:
        try:
            await connection.client.quit()
        except (ProtocolError, OSError):
            pass
