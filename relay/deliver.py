"""Delivery to the upstream SMTP server over a small pool of reused connections.

``UpstreamPool.deliver`` runs one SMTP transaction and reports what happened
to every recipient; it never raises for anything the upstream or the network
does. What to do about it (retry, bounce) is the scheduler's business.

Connections are opened lazily, up to ``UpstreamConfig.connections`` at a time,
and kept between messages (no per-message handshake, TLS and AUTH). A pooled
connection the upstream has dropped meanwhile shows up as a disconnect or a 421
at MAIL FROM, before anything was accepted, so the transaction is simply run
once more on a fresh connection instead of probing with NOOP before each use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aiosmtplib

log = logging.getLogger(__name__)

TlsMode = Literal["opportunistic", "starttls", "tls", "none"]
Outcome = Literal["accepted", "temporary", "permanent"]
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Where and how to deliver.

    ``tls``: "opportunistic" (STARTTLS when the upstream offers it, the
    default), "starttls" (required: defer rather than send in clear), "tls"
    (implicit TLS, e.g. port 465) or "none". Certificates are verified against
    the system store, or ``ca_file``, unless ``verify`` is false. A password is
    only ever sent over TLS, unless ``tls`` is "none" (an explicit choice, e.g.
    for a server on loopback). The caller reads the password from a file or
    the environment; it is never logged or shown in ``repr``.
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
    connections: int = 4
    idle_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.tls not in ("opportunistic", "starttls", "tls", "none"):
            raise ValueError(f"tls must be opportunistic, starttls, tls or none, not {self.tls!r}")
        if self.connections < 1:
            raise ValueError("connections must be at least 1")


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply, or a local stand-in for one (``code`` None, e.g. connection refused).

    Local texts start with an enhanced status code like real ones, so that
    ``status`` and the DSN can treat both alike.
    """

    code: int | None
    text: str
    outcome: Outcome

    @classmethod
    def from_code(cls, code: int, text: str) -> Reply:
        # Multi-line replies arrive joined with newlines; keep them on one line
        # for logs, the queue listing and the DSN's Diagnostic-Code.
        text = " ".join(text.split())
        outcome: Outcome = "accepted" if 200 <= code < 300 else ("permanent" if 500 <= code < 600 else "temporary")
        return cls(code, text, outcome)

    @classmethod
    def local(cls, text: str, outcome: Outcome = "temporary") -> Reply:
        return cls(None, text, outcome)

    @property
    def status(self) -> str:
        """The RFC 3463 status code, from the text or else from the reply class."""
        match = _STATUS.match(self.text)
        if match:
            return ".".join(match.groups())
        if self.code is not None and 200 <= self.code < 600:
            return f"{self.code // 100}.0.0"
        return "5.0.0" if self.outcome == "permanent" else "4.0.0"

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code is not None else self.text


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Per-recipient outcomes of one transaction; ``data_reply`` is the reply to DATA, if it got that far."""

    replies: dict[str, Reply]
    data_reply: Reply | None = None

    def with_outcome(self, outcome: Outcome) -> list[str]:
        return [rcpt for rcpt, reply in self.replies.items() if reply.outcome == outcome]

    @property
    def accepted(self) -> list[str]:
        return self.with_outcome("accepted")

    @property
    def temporary(self) -> list[str]:
        return self.with_outcome("temporary")

    @property
    def permanent(self) -> list[str]:
        return self.with_outcome("permanent")


class Deliverer(Protocol):
    """What the scheduler delivers with: the upstream pool, or anything else that sends mail."""

    async def deliver(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False, eightbit: bool = False
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


class _Stale(Exception):
    """A reused connection turned out to be dead before anything was sent."""


@dataclass(slots=True, eq=False)
class _Connection:
    client: aiosmtplib.SMTP
    last_used: float = field(default_factory=time.monotonic)


def header_section(message: bytes) -> bytes:
    """The bytes before the first empty line (the whole message if there is none)."""
    ends = [i for i in (message.find(b"\r\n\r\n"), message.find(b"\n\n")) if i >= 0]
    return message[: min(ends)] if ends else message


def _explain(exc: BaseException) -> str:
    """A short reason for a failed connection: "Connection refused" rather than aiosmtplib's wrapping."""
    for candidate in (exc.__cause__, exc):
        if isinstance(candidate, OSError) and not isinstance(candidate, ssl.SSLError) and candidate.errno:
            return os.strerror(candidate.errno)
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


class UpstreamPool:
    """Delivers messages to one upstream server over up to ``config.connections`` reused connections."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.stats = PoolStats()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(config.connections)
        self._tls_context: ssl.SSLContext | None = None
        self._reaper: asyncio.TimerHandle | None = None
        self._quitting: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def remote_name(self) -> str:
        return self.config.host

    async def deliver(
        self, message: bytes, sender: str, recipients: Sequence[str], *, smtputf8: bool = False, eightbit: bool = False
    ) -> DeliveryResult:
        """Send ``message`` from ``sender`` to ``recipients``; see ``DeliveryResult``."""
        recipients = list(dict.fromkeys(recipients))
        async with self._slots:
            connection = self._take_idle()
            fresh = connection is None
            while True:
                if connection is None:
                    try:
                        connection = await self._open()
                    except _SessionFailure as failure:
                        return DeliveryResult({rcpt: failure.reply for rcpt in recipients})
                try:
                    result = await self._transaction(connection, message, sender, recipients, smtputf8, eightbit, fresh)
                except _Stale:
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
            if connection.client.is_connected:
                await asyncio.wait_for(connection.client.quit(), timeout=5)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            pass
        finally:
            connection.client.close()

    def _context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            context = ssl.create_default_context(cafile=self.config.ca_file)
            if not self.config.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls_context = context
        return self._tls_context

    async def _open(self) -> _Connection:
        config = self.config
        where = f"{config.host}:{config.port}"
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.tls == "tls",
            start_tls=False,  # decided below, so that "required" and AUTH rules are ours
            tls_context=self._context() if config.tls != "none" else None,
            timeout=config.timeout,
            local_hostname=config.helo_name,
        )
        stage = "connect to"
        try:
            await client.connect()
            stage = "greeting from"
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()  # an old server without ESMTP: no extensions, but mail still goes
            encrypted = config.tls == "tls"
            if config.tls in ("opportunistic", "starttls"):
                if client.supports_extension("starttls"):
                    stage = "STARTTLS with"
                    await client.starttls()
                    await client.ehlo()
                    encrypted = True
                elif config.tls == "starttls":
                    raise _SessionFailure(Reply.local(f"4.7.0 {where} does not offer STARTTLS, which is required"))
            if config.username is not None:
                if not encrypted and config.tls != "none":
                    raise _SessionFailure(
                        Reply.local(f"4.7.0 not sending the password to {where} without TLS (it offers no STARTTLS)")
                    )
                stage = "AUTH with"
                await client.login(config.username, config.password or "")
        except _SessionFailure:
            client.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            # Even a 5xx here is about our session (greeting, TLS, credentials),
            # not about the message: defer, so a fixed configuration delivers it.
            raise _SessionFailure(Reply.local(f"4.4.0 {stage} {where} failed: {exc.code} {exc.message}")) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            client.close()
            status = "4.7.5" if isinstance(exc, ssl.SSLError) else "4.4.1"
            detail = _explain(exc)
            raise _SessionFailure(Reply.local(f"{status} {stage} {where} failed: {detail}")) from None
        self.stats.connections_opened += 1
        return _Connection(client)

    # -- one transaction -----------------------------------------------------

    async def _transaction(
        self,
        connection: _Connection,
        message: bytes,
        sender: str,
        recipients: list[str],
        smtputf8: bool,
        eightbit: bool,
        fresh: bool,
    ) -> DeliveryResult:
        client = connection.client
        where = f"{self.config.host}:{self.config.port}"
        utf8_addresses = not all(a.isascii() for a in (sender, *recipients))
        utf8_headers = smtputf8 and not header_section(message).isascii()
        needs_utf8 = utf8_addresses or utf8_headers
        if needs_utf8 and not client.supports_extension("smtputf8"):
            # RFC 6531 3.2: such a message must not be downgraded silently.
            if utf8_addresses:
                reply = Reply.local(f"5.6.7 {where} does not support SMTPUTF8, needed for a non-ASCII address", "permanent")
            else:
                reply = Reply.local(f"5.6.9 {where} does not support SMTPUTF8, needed for the UTF-8 headers", "permanent")
            return DeliveryResult({rcpt: reply for rcpt in recipients})
        options = ["SMTPUTF8"] if needs_utf8 else []
        if (eightbit or not message.isascii()) and client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        if client.supports_extension("size"):
            limit = client.esmtp_extensions.get("size", "").strip()
            if limit.isdigit() and 0 < int(limit) < len(message):
                reply = Reply.local(f"5.3.4 message of {len(message)} bytes exceeds the {limit} bytes {where} accepts",
                                    "permanent")
                return DeliveryResult({rcpt: reply for rcpt in recipients})
            options.append(f"SIZE={len(message)}")
        encoding = "utf-8" if needs_utf8 else "ascii"
        replies: dict[str, Reply] = {}
        accepted: list[str] = []
        stage = "MAIL FROM"
        try:
            try:
                await client.mail(sender, options=options, encoding=encoding)
            except aiosmtplib.SMTPSenderRefused as exc:
                if exc.code == 421 and not fresh:
                    raise _Stale from None
                reply = Reply.from_code(exc.code, exc.message)
                await self._reset(client)
                return DeliveryResult({rcpt: reply for rcpt in recipients})
            except ValueError:
                reply = Reply.local(f"5.1.7 the sender address {sender!r} cannot be used in SMTP", "permanent")
                return DeliveryResult({rcpt: reply for rcpt in recipients})
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not fresh:
                    raise _Stale from None
                raise
            stage = "RCPT TO"
            for rcpt in recipients:
                try:
                    response = await client.rcpt(rcpt, encoding=encoding)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    replies[rcpt] = Reply.from_code(exc.code, exc.message)
                    continue
                except ValueError:
                    replies[rcpt] = Reply.local(f"5.1.3 the address {rcpt!r} cannot be used in SMTP", "permanent")
                    continue
                accepted.append(rcpt)
                replies[rcpt] = Reply.from_code(response.code, response.message)
            if not accepted:
                await self._reset(client)
                return DeliveryResult(replies)
            stage = "DATA"
            try:
                response = await client.data(message, timeout=self.config.data_timeout)
            except aiosmtplib.SMTPDataError as exc:
                # A refusal of DATA or of the content applies to every recipient
                # that RCPT had accepted.
                data_reply = Reply.from_code(exc.code, exc.message)
                await self._reset(client)
            else:
                data_reply = Reply.from_code(response.code, response.message)
            for rcpt in accepted:
                replies[rcpt] = data_reply
            return DeliveryResult(replies, data_reply)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            client.close()
            detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            lost = Reply.local(f"4.4.2 lost connection with {where} during {stage}: {detail}")
            # An RCPT acceptance means nothing without a reply to DATA; RCPT
            # refusals (e.g. the 421 that preceded the hang-up) stand.
            kept = {r: reply for r, reply in replies.items() if reply.outcome != "accepted"}
            return DeliveryResult({rcpt: kept.get(rcpt, lost) for rcpt in recipients})

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            client.close()
