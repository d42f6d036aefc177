"""One SMTP client connection to the upstream: ESMTP, STARTTLS, AUTH and pipelined writes.

The relay speaks a handful of commands, so it owns them instead of going
through aiosmtplib. The reason is RFC 2920 pipelining: aiosmtplib's protocol
parses one reply per chunk the socket delivers and drops bytes that arrive
while no command is waiting, so the replies to a pipelined group (which a
server sends back in one segment) would be lost or paired with the wrong
command. Here replies are parsed from a buffer, one ``read_reply`` per command
sent, in order, however they arrive; ``write`` puts any number of commands on
the wire in one send. What the commands mean for a message is
``outbound``'s business; this module only talks.

Failures are exceptions: ``ReplyError`` for a refusal during session setup,
``ConnectionLost`` (an ``OSError``) for a closed or reset connection,
``ProtocolError`` for a reply that is not SMTP, ``TimeoutError`` for silence.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from typing import cast

from contacts_tui.core import controls

from ..queue.reply import Reply
from ..rewrite.headers import crlf_lines

MAX_LINE = 8192
# Replies waiting to be read; a pipelined group of 1000 recipients is ~40 KiB.
MAX_BUFFER = 1024 * 1024
# What cannot be in an address on a command line: it would end the address,
# add ESMTP parameters or start another command. A quoted local part may
# hold spaces and angle brackets, so it is taken out before the check.
_UNSAFE = re.compile(f'[\\s<>"{controls.ALL}]')
_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\r\n]|\\[^\r\n])*"')


class ProtocolError(Exception):
    """The server sent something that is not an SMTP reply."""


class ConnectionLost(ConnectionError):
    """The server closed the connection, or it broke."""


class ReplyError(Exception):
    """The server refused a step of the session setup (greeting, EHLO, STARTTLS, AUTH)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(str(reply))
        self.reply = reply


def address_path(address: str, encoding: str) -> bytes:
    """``<address>`` for MAIL FROM / RCPT TO; ValueError if it cannot be sent safely."""
    if _UNSAFE.search(_QUOTED_LOCAL.sub("", address, count=1)):
        raise ValueError(f"{address!r} contains characters not allowed in an SMTP address")
    return b"<" + address.encode(encoding) + b">"


def data_bytes(message: bytes, *, crlf: bool = False) -> bytes:
    """The message as sent after DATA: CRLF line ends, dot-stuffed, with the final ".".

    Every bare LF and bare CR becomes CRLF, so the upstream sees the same line
    ends we counted: no line the upstream reads as "." can hide in the body
    (SMTP smuggling), whatever the sender put there.
    """
    if not crlf:  # else the receiver made every line end in CRLF already
        message = crlf_lines(message)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    message = message.replace(b"\r\n.", b"\r\n..")
    if message.startswith(b"."):
        message = b"." + message
    return message + b".\r\n"


class _Protocol(asyncio.Protocol):
    """Buffers what the server sends and wakes the reader; flow control for big writes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.lost: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection's (uvloop's, or asyncio's)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.lost = self.lost or ConnectionLost("the server closed the connection")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = ConnectionLost(str(exc) if exc else "the server closed the connection")
            self.lost.__cause__ = exc
        self.transport = None
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    async def drain(self) -> None:
        while self._paused and self.lost is None:
            self._drain = self._loop.create_future()
            await self._drain
        if self.lost is not None:
            raise self.lost

    async def wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class SmtpClient:
    """One connection. ``connect`` reads the greeting; then EHLO, STARTTLS, AUTH as the caller decides."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.extensions: dict[str, str] = {}
        self.encrypted = False
        self._protocol: _Protocol | None = None

    @property
    def is_connected(self) -> bool:
        protocol = self._protocol
        return (
            protocol is not None
            and protocol.transport is not None
            and not protocol.transport.is_closing()
            and protocol.lost is None
        )

    def supports(self, extension: str) -> bool:
        return extension.lower() in self.extensions

    async def connect(self, tls_context: ssl.SSLContext | None = None) -> None:
        """Connect (with implicit TLS if a context is given) and read the 220 greeting."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.timeout):
            _, protocol = await loop.create_connection(
                lambda: _Protocol(loop),
                self.host,
                self.port,
                ssl=tls_context,
                server_hostname=self.host if tls_context is not None else None,
                ssl_handshake_timeout=self.timeout if tls_context is not None else None,
            )
        self._protocol = protocol
        self.encrypted = tls_context is not None
        greeting = await self.read_reply()
        if greeting.code != 220:
            raise ReplyError(greeting)

    async def ehlo(self, name: str) -> None:
        """EHLO, or HELO for a server without ESMTP (then no extensions)."""
        reply = await self.command(b"EHLO " + name.encode("ascii"))
        if reply.code == 250:
            self.extensions = _extensions(reply.text)
            return
        reply = await self.command(b"HELO " + name.encode("ascii"))
        if reply.code != 250:
            raise ReplyError(reply)
        self.extensions = {}

    async def starttls(self, context: ssl.SSLContext) -> None:
        """STARTTLS; the caller sends EHLO again afterwards (RFC 3207: everything learnt before is void)."""
        reply = await self.command(b"STARTTLS")
        if reply.code != 220:
            raise ReplyError(reply)
        protocol = self._live()
        if protocol.buffer:
            # Bytes sent in the clear after the 220 would be read as if they
            # came over TLS (the STARTTLS injection attack): never trust them.
            raise ProtocolError("the server sent data after its STARTTLS reply")
        assert protocol.transport is not None
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self.host, ssl_handshake_timeout=self.timeout
        )
        if transport is None:
            raise ConnectionLost("the connection closed during the TLS handshake")
        protocol.transport = transport
        self.encrypted = True
        self.extensions = {}

    async def login(self, username: str, password: str) -> None:
        """AUTH PLAIN, or LOGIN if that is all the server offers; ReplyError if refused."""
        mechanisms = self.extensions.get("auth", "").upper().split()
        user, secret = username.encode("utf-8"), password.encode("utf-8")
        if "PLAIN" in mechanisms or "LOGIN" not in mechanisms:
            token = base64.b64encode(b"\0" + user + b"\0" + secret)
            reply = await self.command(b"AUTH PLAIN " + token)
        else:
            reply = await self.command(b"AUTH LOGIN " + base64.b64encode(user))
            if reply.code == 334:
                reply = await self.command(base64.b64encode(secret))
        if reply.code != 235:
            raise ReplyError(reply)

    def write(self, data: bytes) -> None:
        """Put commands (or message data) on the wire; their replies come from ``read_reply``."""
        protocol = self._live()
        assert protocol.transport is not None
        protocol.transport.write(data)

    async def command(self, line: bytes, timeout: float | None = None) -> Reply:
        self.write(line + b"\r\n")
        return await self.read_reply(timeout)

    async def send_data(self, message: bytes, timeout: float, *, crlf: bool = False) -> Reply:
        """After a 354: the message (see ``data_bytes``) and its reply, within ``timeout`` for both."""
        self.write(data_bytes(message, crlf=crlf))
        async with asyncio.timeout(timeout):
            await self._live().drain()
            # Not the client's usual timeout: the upstream may take minutes to
            # commit a message, and giving up early means sending it again.
            return await self.read_reply(timeout)

    async def read_reply(self, timeout: float | None = None) -> Reply:
        """The next reply, multi-line ones joined; waits at most ``timeout`` (default: the client's)."""
        protocol = self._protocol
        if protocol is None:
            raise ConnectionLost("not connected")
        reply = _parse(protocol.buffer)
        if reply is not None:
            return reply
        async with asyncio.timeout(self.timeout if timeout is None else timeout):
            while True:
                if protocol.lost is not None:
                    raise protocol.lost
                if len(protocol.buffer) > MAX_BUFFER:
                    raise ProtocolError("the server sent too much without completing a reply")
                await protocol.wait()
                reply = _parse(protocol.buffer)
                if reply is not None:
                    return reply

    async def quit(self) -> None:
        try:
            if self.is_connected:
                await self.command(b"QUIT", timeout=5)
        finally:
            self.close()

    def close(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
            protocol.lost = protocol.lost or ConnectionLost("closed by the relay")

    def _live(self) -> _Protocol:
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            raise ConnectionLost("the connection is closed")
        if protocol.lost is not None:
            raise protocol.lost
        return protocol


def _parse(buffer: bytearray) -> Reply | None:
    """Take one complete reply off the front of ``buffer``, or None if it is not all there yet."""
    offset = 0
    lines: list[str] = []
    code = 0
    while True:
        end = buffer.find(b"\n", offset)
        if end < 0:
            if len(buffer) - offset > MAX_LINE:
                raise ProtocolError("a reply line is too long")
            return None
        line = bytes(buffer[offset : end + 1])
        if len(line) > MAX_LINE or not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
            raise ProtocolError(f"not an SMTP reply: {line[:80]!r}")
        if lines and int(line[:3]) != code:
            raise ProtocolError(f"a multi-line reply changed its code: {line[:80]!r}")
        code = int(line[:3])
        lines.append(line[4:].strip().decode("utf-8", "replace"))
        offset = end + 1
        if line[3:4] != b"-":
            del buffer[:offset]
            return Reply(code, "\n".join(lines))


def _extensions(text: str) -> dict[str, str]:
    """EHLO keywords (lower case) and their parameters; the first line is the greeting."""
    extensions: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword.upper().startswith("AUTH="):  # an old form some servers still send
            keyword, params = "AUTH", keyword[5:] + " " + params
        extensions.setdefault(keyword.lower(), params.strip())
    return extensions
