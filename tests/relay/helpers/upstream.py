"""A real upstream SMTP server that records what it gets, for the relay tests.

``upstream`` is an aiosmtpd server on 127.0.0.1 at an ephemeral port, running
in its own thread and event loop (so a test's loop, where the relay runs, never
waits on it). It accepts everything unless told otherwise::

    async def test_something(upstream):
        upstream.reply_rcpt("bad@example.com", "550 5.1.1 no such user")
        upstream.reply_data("451 4.3.0 try again later", times=2)   # then 250
        ... deliver to ("127.0.0.1", upstream.port) ...
        [message] = await upstream.wait_for(1)
        assert message.recipients == ("good@example.com",)
        upstream.stop()    # connection refused from now on, open sessions cut
        upstream.start()   # back, on the same port

``make_upstream(...)`` builds more, or differently configured, servers:
STARTTLS or implicit TLS with the ``tls_files`` certificate, AUTH users, no
SMTPUTF8, PIPELINING advertised (``pipelining=True``; ``pipelined`` on a
received message then says whether DATA was already waiting when MAIL FROM
was read, i.e. the client sent the group in one go). Every accepted message
is recorded as a ``ReceivedMessage`` with its envelope, bytes, TLS and AUTH
state, and the number of the connection it came on (``upstream.connections``
counts connections, to check reuse). Refused
commands are recorded in ``upstream.refusals``. Nothing here sleeps for a
fixed time: ``wait_for`` polls with a deadline.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ...waiting import wait_until

Stage = Literal["mail", "rcpt", "data"]


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    sender: str  # "" for the null sender <>
    recipients: tuple[str, ...]
    data: bytes  # as received: CRLF line ends, dot-stuffing removed
    mail_options: tuple[str, ...]
    connection: int  # 1 for the first connection the server accepted, 2 for the next...
    tls: bool
    auth_login: str | None
    auth_mechanism: str | None
    pipelined: bool = False
    mail_at: float = 0.0  # time.monotonic() when MAIL FROM arrived


@dataclass(slots=True)
class _Rule:
    stage: Stage
    reply: str | None  # None: answer as usual, after the delay
    address: str | None
    contains: bytes | None
    times: int | None
    delay: float

    def take(self, stage: Stage, address: str | None, data: bytes | None) -> bool:
        if stage != self.stage or self.times == 0:
            return False
        if self.address is not None and (address or "").lower() != self.address:
            return False
        if self.contains is not None and (data is None or self.contains not in data):
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


class _RecordingSMTP(SMTP):
    def __init__(self, upstream: Upstream, serial: int, **kwargs: Any) -> None:
        super().__init__(upstream._handler, **kwargs)
        self.upstream = upstream
        self.serial = serial
        self.auth_mechanism: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.upstream._live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.upstream._live.discard(self)
        super().connection_lost(error)


class _Handler:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def handle_MAIL(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # aiosmtpd reads commands from its stream buffer; what is still in it
        # arrived together with MAIL FROM.
        waiting = bytes(getattr(server._reader, "_buffer", b"")).upper()
        session.pipelined = b"\r\nDATA\r\n" in b"\r\n" + waiting  # type: ignore[attr-defined]
        session.mail_at = time.monotonic()  # type: ignore[attr-defined]
        refusal = await self.upstream._refusal("mail", address, None)
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = await self.upstream._refusal("rcpt", address, None)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _RecordingSMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        refusal = await self.upstream._refusal("data", None, data)
        if refusal:
            return refusal
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        message = ReceivedMessage(
            sender="" if envelope.mail_from == "<>" else str(envelope.mail_from),
            recipients=tuple(envelope.rcpt_tos),
            data=data,
            mail_options=tuple(envelope.mail_options),
            connection=server.serial,
            tls=server.transport is not None and server.transport.get_extra_info("sslcontext") is not None,
            auth_login=login,
            auth_mechanism=server.auth_mechanism,
            pipelined=getattr(session, "pipelined", False),
            mail_at=getattr(session, "mail_at", 0.0),
        )
        with self.upstream._lock:
            self.upstream._messages.append(message)
            number = len(self.upstream._messages)
        return f"250 2.0.0 OK queued as {number}"

    async def handle_EHLO(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.upstream._pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses


class Upstream:
    """A recording aiosmtpd server; see the module docstring."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
        users: Mapping[str, str] | None = None,
        smtputf8: bool = True,
        pipelining: bool = False,
        hostname: str = "upstream.test",
    ) -> None:
        self.port = 0
        self._tls_context = tls.server_context() if tls else None
        self._implicit_tls = implicit_tls
        self._users = dict(users or {})
        self._smtputf8 = smtputf8
        self._pipelining = pipelining
        self._hostname = hostname
        self._handler = _Handler(self)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._rules: list[_Rule] = []
        self._live: set[_RecordingSMTP] = set()
        self._server: asyncio.Server | None = None
        self.connections = 0
        self.refusals: list[tuple[Stage, str, str]] = []
        # Replies currently held back by a rule's ``delay``: a test can wait
        # for the upstream to be stuck mid-transaction before acting.
        self.stalled = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="upstream-smtp", daemon=True)
        self._thread.start()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Upstream:
        """Listen (again): the first time on a fresh ephemeral port, later on the same one."""
        self._call(self._start())
        return self

    def stop(self) -> None:
        """Stop listening and cut every open session, like a crashed or rebooting server."""
        self._call(self._stop())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _start(self) -> None:
        if self._server is not None:
            return
        self._server = await self._loop.create_server(
            self._protocol, host=self.host, port=self.port, ssl=self._tls_context if self._implicit_tls else None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for smtp in list(self._live):
            if smtp.transport is not None:
                smtp.transport.close()

    def _protocol(self) -> _RecordingSMTP:
        self.connections += 1
        return _RecordingSMTP(
            self,
            self.connections,
            hostname=self._hostname,
            enable_SMTPUTF8=self._smtputf8,
            tls_context=None if self._implicit_tls else self._tls_context,
            authenticator=self._authenticate if self._users else None,
            # With implicit TLS the session is encrypted from the start, but
            # aiosmtpd only knows about STARTTLS.
            auth_require_tls=not self._implicit_tls,
            loop=self._loop,
        )

    def _authenticate(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._users.get(data.login.decode()) == data.password.decode()
        if ok:
            server.auth_mechanism = mechanism
        # handled=False: let aiosmtpd answer the failure (535) itself.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    # -- scripted replies ------------------------------------------------------

    def reply_mail(self, reply: str, *, times: int | None = None, delay: float = 0.0) -> None:
        """Answer MAIL FROM with ``reply`` (the next ``times`` times, or always)."""
        self._add(_Rule("mail", reply, None, None, times, delay))

    def reply_rcpt(self, address: str, reply: str, *, times: int | None = None, delay: float = 0.0) -> None:
        """Answer RCPT TO for ``address`` (case-insensitive) with ``reply``."""
        self._add(_Rule("rcpt", reply, address.lower(), None, times, delay))

    def reply_data(
        self, reply: str | None, *, times: int | None = None, contains: bytes | None = None, delay: float = 0.0
    ) -> None:
        """Answer the end of DATA with ``reply``, for messages containing ``contains`` if given.

        ``delay`` holds the reply back that many seconds (an upstream that
        stalls); with ``reply`` None the message is then taken as usual (an
        upstream slow to commit).
        """
        self._add(_Rule("data", reply, None, contains, times, delay))

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def _add(self, rule: _Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    async def _refusal(self, stage: Stage, address: str | None, data: bytes | None) -> str | None:
        with self._lock:
            rule = next((r for r in self._rules if r.take(stage, address, data)), None)
        if rule is None:
            return None
        if rule.delay:
            with self._lock:
                self.stalled += 1
            try:
                await asyncio.sleep(rule.delay)
            finally:
                with self._lock:
                    self.stalled -= 1
        if rule.reply is None:
            return None
        with self._lock:
            self.refusals.append((stage, address or "", rule.reply))
        return rule.reply

    # -- what arrived ----------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def received_by(self, address: str) -> list[ReceivedMessage]:
        """Every accepted message that had ``address`` among its envelope recipients."""
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages arrived; fail after ``timeout`` seconds."""
        await wait_until(lambda: len(self.messages) >= count, timeout, lambda: self.messages)
        return self.messages
