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
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..queue.reply import Reply
from .outbound import DeliveryResult, Stale, send
from .smtp_client import ProtocolError, ReplyError, SmtpClient

TlsMode = Literal["opportunistic", "starttls", "tls", "none"]
DEFAULT_CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Where and how to deliver.

    ``tls``: "opportunistic" (STARTTLS when the upstream offers it, the
    default), "starttls" (required: defer rather than send in clear), "tls"
    (implicit TLS, e.g. port 465) or "none".

    "starttls" and "tls" verify the certificate against the system store, or
    ``ca_file``, unless ``verify`` is false. "opportunistic" encrypts without
    verifying, like Postfix's "may" level: it guards against eavesdroppers,
    not against an active attacker, who could strip the STARTTLS offer anyway,
    and an unverified TLS session is still better than plain text, which is
    what refusing a self-signed certificate would have meant. With a
    ``username`` it verifies after all (unless ``verify`` is false), because
    the password must only go to the real server.

    A password is only ever sent over TLS, unless ``tls`` is "none" (an
    explicit choice, e.g. for a server on loopback). The caller reads the
    password from a file or the environment; it is never logged or shown in
    ``repr``.
    """

    host: str
    port: int = 25
    tls: TlsMode = "opportunistic"
    verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    # The wait for the reply to the final "." covers the upload of the whole
    # message too; RFC 5321 4.5.3.2.6 suggests 10 minutes.
    data_timeout: float = 600.0
    helo_name: str | None = None
    connections: int = DEFAULT_CONNECTIONS
    idle_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.tls not in ("opportunistic", "starttls", "tls", "none"):
            raise ValueError(f"tls must be opportunistic, starttls, tls or none, not {self.tls!r}")
        if self.connections < 1:
            raise ValueError("connections must be at least 1")


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


class _SessionFailure(Exception):
    """No transaction was possible (connect, TLS, AUTH): the same reply for every recipient."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


@dataclass(slots=True, eq=False)
class _Connection:
    client: SmtpClient
    last_used: float = field(default_factory=time.monotonic)


def _explain(exc: BaseException) -> str:
    """A short reason for a failed connection: "Connection refused" rather than a wrapped error."""
    for candidate in (exc.__cause__, exc):
        if isinstance(candidate, OSError) and not isinstance(candidate, ssl.SSLError) and candidate.errno:
            return os.strerror(candidate.errno)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _too_many_recipients(reply: Reply) -> bool:
    return reply.code == 452 and (reply.status == "4.5.3" or "too many recipients" in reply.text.lower())


class UpstreamPool:
    """Delivers messages to one upstream server over up to ``config.connections`` reused connections."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.stats = PoolStats()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(config.connections)
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._helo_name = config.helo_name
        self._reaper: asyncio.TimerHandle | None = None
        self._quitting: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def remote_name(self) -> str:
        return self.config.host

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
        todo = recipients
        async with self._slots:
            while todo:
                result = await self._deliver_once(message, sender, todo, smtputf8, eightbit, crlf)
                replies.update(result.replies)
                data_reply = result.data_reply or data_reply
                more = [rcpt for rcpt in todo if _too_many_recipients(result.replies[rcpt])]
                # Only when this transaction delivered to someone: a 452 for
                # every recipient is an ordinary deferral, retried after the backoff.
                todo = more if more and result.accepted else []
        return DeliveryResult({rcpt: replies[rcpt] for rcpt in recipients}, data_reply)

    async def _deliver_once(
        self, message: bytes, sender: str, recipients: list[str], smtputf8: bool, eightbit: bool, crlf: bool
    ) -> DeliveryResult:
        connection = self._take_idle()
        fresh = connection is None
        while True:
            if connection is None:
                try:
                    connection = await self._open()
                except _SessionFailure as failure:
                    return DeliveryResult({rcpt: failure.reply for rcpt in recipients})
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

    def _context(self, verify: bool) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            context = ssl.create_default_context(cafile=self.config.ca_file)
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[verify] = context
        return context

    def _verify(self) -> bool:
        """Whether to check the upstream's certificate (see ``UpstreamConfig``)."""
        if self.config.tls == "opportunistic" and self.config.username is None:
            return False
        return self.config.verify

    async def _open(self) -> _Connection:
        config = self.config
        where = f"{config.host}:{config.port}"
        if self._helo_name is None:
            self._helo_name = await asyncio.to_thread(socket.getfqdn)
        client = SmtpClient(config.host, config.port, timeout=config.timeout)
        stage = "connect to"
        try:
            await client.connect(self._context(self._verify()) if config.tls == "tls" else None)
            stage = "greeting from"
            await client.ehlo(self._helo_name)
            if config.tls in ("opportunistic", "starttls"):
                if client.supports("starttls"):
                    stage = "STARTTLS with"
                    await client.starttls(self._context(self._verify()))
                    await client.ehlo(self._helo_name)
                elif config.tls == "starttls":
                    raise _SessionFailure(Reply.local(f"4.7.0 {where} does not offer STARTTLS, which is required"))
            if config.username is not None:
                if not client.encrypted and config.tls != "none":
                    raise _SessionFailure(
                        Reply.local(f"4.7.0 not sending the password to {where} without TLS (it offers no STARTTLS)")
                    )
                stage = "AUTH with"
                await client.login(config.username, config.password or "")
        except _SessionFailure:
            client.close()
            raise
        except ReplyError as exc:
            client.close()
            # Even a 5xx here is about our session (greeting, TLS, credentials),
            # not about the message: defer, so a fixed configuration delivers it.
            raise _SessionFailure(Reply.local(f"4.4.0 {stage} {where} failed: {exc}")) from None
        except (ProtocolError, OSError) as exc:  # OSError covers ssl.SSLError and TimeoutError
            client.close()
            status = "4.7.5" if isinstance(exc, ssl.SSLError) else "4.4.1"
            raise _SessionFailure(Reply.local(f"{status} {stage} {where} failed: {_explain(exc)}")) from None
        self.stats.connections_opened += 1
        return _Connection(client)
