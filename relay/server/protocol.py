"""The SMTP protocol the relay speaks: aiosmtpd's, with replies coalesced and its own refusals logged.

aiosmtpd is pinned in pyproject.toml (``>=1.4.6,<1.5``) because ``RelaySMTP``
leans on its private parts: it reads ``_reader._buffer`` to coalesce
pipelined replies (and relies on 1.4.6 clearing it after STARTTLS),
writes to ``_writer``, overrides ``_getaddr`` for speed and ``_authenticate``
to check passwords off the event loop, wraps entries of ``_smtp_methods``
to count junk commands, ends DATA with ``_call_handler_hook`` and
``_set_post_data_state``, re-decorates ``smtp_MAIL`` with its syntax
attributes, and recognises the text of the replies aiosmtpd refuses
messages with by itself. Each is marked where it happens, and
tests/test_library_internals.py names them all: it fails, saying which,
when a release of aiosmtpd no longer has one.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Protocol, cast

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Session, syntax

from . import replies
from .access import peer_ip
from .data import Overrun, read_data
from .replies import Answer

MIB = 1024 * 1024
# aiosmtpd's own replies for a message over the size limit, at DATA and at
# MAIL ... SIZE= (private text: see the module docstring).
_TOO_MUCH_DATA = b"552 Error: Too much mail data"
_SIZE_ANNOUNCED = b"552 Error: message size exceeds fixed maximum message size"
_LINE_TOO_LONG = b"500 Line too long"
_ANGLE_PATH = re.compile(r"<([^<>]*)>")
# aiosmtpd's @syntax keeps a command's syntax on its function (private, pinned:
# module docstring); RelaySMTP.smtp_MAIL declares the same.
_MAIL: Any = SMTP.smtp_MAIL


# Commands that carry no mail (Postfix's smtpd_junk_command_limit): a client
# may send this many between two messages, then it is sent away.
JUNK_COMMANDS = ("NOOP", "RSET", "VRFY", "EXPN", "HELP")
JUNK_LIMIT = 100
# What aiosmtpd's mechanisms get back from _authenticate: the credentials,
# to be checked by the listener in a thread (see RelaySMTP._authenticate).
_TO_CHECK = "credentials to check"

# Replies after which the connection closes or turns to TLS: never held back.
_FLUSH_AT_ONCE = (b"220", b"221", b"421")
# The everyday MAIL FROM / RCPT TO argument: <dot-atom@domain> and parameters.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+(.*))?", re.S)


class Refusals(Protocol):
    """Where a refusal aiosmtpd makes by itself is logged (the relay's handler)."""

    def refuse(
        self, session: Session, sender: str | None, recipients: list[str], reply: Answer, detail: str
    ) -> None: ...


class SessionHost(Protocol):
    """What a session asks of the listener that accepted it (listener.py's ``Listener``).

    Declared here so that the listener imports the protocol and not the other way round.
    """

    stopping: bool

    @property
    def handler(self) -> Refusals: ...

    def admit(self, session: RelaySMTP, peer_ip: str | None) -> bytes | None: ...

    def forget(self, session: RelaySMTP) -> None: ...

    async def authenticate(self, session: RelaySMTP, auth_data) -> AuthResult: ...


class RelaySMTP(SMTP):
    """aiosmtpd's protocol, counted so the relay can cap and drain connections.

    Replies are coalesced: while more commands of a pipelined group (RFC
    2920) wait in the input buffer, their replies collect and go out in one
    write when the group is done, instead of one send() per reply.
    """

    def __init__(self, listener: SessionHost, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._listener = listener
        self._replies: list[bytes] = []
        self._mail_arg = ""
        self._closing = False
        self._refused = False
        self.last_active = self.loop.time()
        self._junk = 0
        for command in JUNK_COMMANDS:
            # A private table of aiosmtpd's (pinned: module docstring).
            method = self._smtp_methods.get(command)
            if method is not None:
                self._smtp_methods[command] = self._counted(method)

    @property
    def in_transaction(self) -> bool:
        """After MAIL and until the reply to DATA (or RSET): a message is on its way."""
        envelope = self.envelope
        return envelope is not None and envelope.mail_from is not None

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        if status.startswith((b"552 Error: ", _LINE_TOO_LONG)):
            status = self._refused_by_aiosmtpd(status)
        self._replies.append(status + b"\r\n")
        self.last_active = self.loop.time()
        if status.startswith(replies.ACCEPTED_PREFIX):
            self._junk = 0  # a message went through: the client is working
        if status[3:4] == b"-":
            return  # the rest of a multi-line reply (EHLO) follows at once
        stopping = self._listener.stopping
        # Private to asyncio's StreamReader, and read by aiosmtpd itself (to
        # clear it after STARTTLS); pinned with aiosmtpd (module docstring).
        if not self._reader._buffer or status[:3] in _FLUSH_AT_ONCE or stopping:  # type: ignore[attr-defined]
            batch, self._replies = b"".join(self._replies), []
            self._writer.write(batch)
            await self._writer.drain()
        if stopping and not self.in_transaction:
            # Shutting down: the transaction this session was in (if any) is
            # finished, so it is told to go now rather than start another.
            self.close_for_shutdown()

    @property
    def peer_ip(self) -> str | None:
        return peer_ip(self.session.peer) if self.session is not None else None

    def _counted(self, method):
        async def counted(arg: str) -> None:
            self._junk += 1
            if self._junk > JUNK_LIMIT:
                await self.push(replies.TOO_MUCH_JUNK().text)
                if self.transport is not None:
                    self.transport.close()
                return
            await method(arg)

        return counted

    def _authenticate(self, mechanism: str, auth_data) -> AuthResult:
        # aiosmtpd's mechanisms call this (a private method, pinned) to check
        # the credentials they decoded, and wait for nothing: a scrypt run
        # here would hold up every session. They get the credentials back,
        # and auth_PLAIN / auth_LOGIN below have the listener check them in
        # a thread.
        return AuthResult(success=False, handled=False, message=_TO_CHECK, auth_data=auth_data)

    async def auth_PLAIN(self, _, args) -> AuthResult:
        return await self._check(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _, args) -> AuthResult:
        return await self._check(await super().auth_LOGIN(_, args))

    async def _check(self, result: AuthResult) -> AuthResult:
        if result.message != _TO_CHECK:
            return result  # undecodable, or cancelled by the client: answered already
        return await self._listener.authenticate(self, result.auth_data)

    def close_for_shutdown(self) -> None:
        self.close_with(replies.SHUTTING_DOWN.line)

    def close_with(self, reply: bytes) -> None:
        """Answer ``reply`` (after any replies still held back) and close the connection."""
        transport = cast(asyncio.Transport | None, self.transport)  # aiosmtpd types it as a BaseTransport
        if self._closing or transport is None or transport.is_closing():
            return  # the client is gone already (a TLS transport then cannot even be written to)
        self._closing = True
        held, self._replies = b"".join(self._replies), []
        transport.write(held + reply)
        transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's smtp_DATA, reading the message in chunks (see data.py);
        # the checks before and the hand-over after are its own, in its order.
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data = await read_data(self._reader, size_limit=self.data_size_limit, line_limit=self.line_length_limit)
        except (asyncio.CancelledError, ConnectionResetError):
            self._writer.close()
            raise
        if data.overrun is not Overrun.NONE:
            # The replies aiosmtpd gives, which push() turns into the relay's own.
            await self.push(_LINE_TOO_LONG if data.overrun is Overrun.LINE_TOO_LONG else _TOO_MUCH_DATA)
            self._set_post_data_state()  # private to aiosmtpd (pinned): what its DATA does after
            return
        self.envelope.content = self.envelope.original_content = data.content
        # A field of our own on aiosmtpd's envelope, for the handler to read.
        self.envelope.bare_line_ends = data.bare_line_ends  # type: ignore[attr-defined]
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    @syntax(_MAIL.__smtp_syntax__, _MAIL.__smtp_syntax_extended__, _MAIL.__smtp_syntax_when__)
    async def smtp_MAIL(self, arg: str) -> None:
        self._mail_arg = arg or ""  # for the log line if SIZE= is over the limit
        await super().smtp_MAIL(arg)

    def _refused_by_aiosmtpd(self, status: bytes) -> bytes:
        # aiosmtpd refuses these messages itself, without an enhanced status
        # code and without asking the handler, so the refusal would go unlogged.
        envelope = self.envelope
        sender = envelope.mail_from if envelope is not None else None
        recipients = list(envelope.rcpt_tos) if envelope is not None else []
        if status.startswith(_LINE_TOO_LONG):
            reply = replies.LINE_TOO_LONG()
            detail = "a line of the message was longer"
        elif status.startswith(_TOO_MUCH_DATA):
            limit = self.data_size_limit or 0
            reply = replies.TOO_BIG(limit=size_text(limit))
            detail = f"more than {limit} bytes sent"
        elif status.startswith(_SIZE_ANNOUNCED):
            limit = self.data_size_limit or 0
            reply = replies.TOO_BIG(limit=size_text(limit))
            found = _ANGLE_PATH.search(self._mail_arg)
            sender, recipients = (found.group(1) if found else None), []
            announced = re.search(r"\bSIZE=(\d+)", self._mail_arg, re.I)
            detail = f"announced SIZE={announced.group(1)}" if announced else "announced in MAIL FROM"
        else:
            return status
        assert self.session is not None  # aiosmtpd refuses only within a session
        self._listener.handler.refuse(self.session, sender, recipients, reply, detail)
        return reply.text.encode("ascii")

    def _getaddr(self, arg: str):
        # A private method of aiosmtpd 1.4 (pinned: module docstring). It
        # parses every address with the email package's header parser (and
        # defines a class per call): a tenth of the event loop's
        # time under load. Plain addresses take this shortcut, with the same
        # result; anything else (quotes, source routes, literals, UTF-8) the full parser.
        match = _PLAIN_PATH.fullmatch(arg) if arg else None
        if match is None:
            return super()._getaddr(arg)
        address = match.group(1)
        if self.local_part_limit and address.rindex("@") > self.local_part_limit:
            return None, None
        return address, match.group(2) or ""

    def connection_made(self, transport) -> None:
        if self.transport is None and self._original_transport is None:  # a new connection, not STARTTLS
            refusal = self._listener.admit(self, peer_ip(transport.get_extra_info("peername")))
            if refusal is not None:
                # Sent away before aiosmtpd sets the session up: it never hears of it.
                self._refused = True
                transport.write(refusal)
                transport.close()
                return
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self):
        return False if self._refused else super().eof_received()

    def connection_lost(self, exc) -> None:
        self._listener.forget(self)
        if not self._refused:
            super().connection_lost(exc)


def size_text(size: int) -> str:
    """25 MiB, 10 KiB, 2.5 MiB: a limit as the operator set it, not 10.2393 KiB."""
    if size >= MIB:
        return f"{size / MIB:.3g} MiB"
    return f"{size / 1024:.3g} KiB" if size >= 1024 else f"{size} bytes"


class Refuse(asyncio.Protocol):
    """A connection the relay will not serve: one 421 line, then close."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply

    def connection_made(self, transport) -> None:
        transport.write(self._reply)
        transport.close()
