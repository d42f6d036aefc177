"""One outbound mail transaction on an open upstream connection: MAIL, RCPT per recipient, DATA.

When the upstream offers PIPELINING (RFC 2920), MAIL FROM, every RCPT TO and
DATA go out in one write and the replies are read back in order; after a 354
the message and its final "." go in a second write. That is two round trips
per message instead of three plus one per recipient. Without PIPELINING each
command waits for its reply, and DATA is not sent when no recipient was
accepted. Either way every recipient gets the reply that decided its fate:
its RCPT refusal, or the reply to DATA (or to the final ".") if RCPT accepted it.

A message with 8-bit content goes to an upstream without 8BITMIME as it is,
unconverted (most servers take it; a conversion to quoted-printable would
break DKIM signatures), like Postfix does by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..queue.reply import Outcome, Reply
from ..rewrite.headers import header_end
from .smtp_client import ConnectionLost, ProtocolError, SmtpClient, address_path


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """Per-recipient replies of one transaction; ``data_reply`` is the reply to DATA, if it got that far.

    ``unreachable``: no session could be opened (connect, TLS, greeting, AUTH),
    so the replies are about the upstream, not about the message.
    """

    replies: dict[str, Reply]
    data_reply: Reply | None = None
    unreachable: bool = False

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


class Stale(Exception):
    """A reused connection turned out to be dead before anything was accepted: try a fresh one."""


async def send(
    client: SmtpClient,
    message: bytes,
    sender: str,
    recipients: Sequence[str],
    *,
    smtputf8: bool,
    eightbit: bool,
    fresh: bool,
    data_timeout: float,
    crlf: bool = False,
) -> DeliveryResult:
    """Send ``message``; never raises for what the upstream or the network does, except ``Stale``.

    ``Stale`` (only when not ``fresh``) means the connection was found dead
    at MAIL FROM, before anything could have been accepted.
    """
    where = f"{client.host}:{client.port}"
    utf8_headers = smtputf8 and not message[: header_end(message)].isascii()
    needs_utf8 = utf8_headers or not all(a.isascii() for a in (sender, *recipients))
    replies: dict[str, Reply] = {}
    if needs_utf8 and not client.supports("smtputf8"):
        # RFC 6531 3.2: such a message must not be downgraded silently. A
        # non-ASCII recipient cannot be named without SMTPUTF8, but the
        # others still get the message, as with Postfix.
        unreachable = Reply.local(f"5.6.7 {where} does not support SMTPUTF8, needed for a non-ASCII address")
        if utf8_headers:
            reply = Reply.local(f"5.6.9 {where} does not support SMTPUTF8, needed for the UTF-8 headers")
            return DeliveryResult({rcpt: reply for rcpt in recipients})
        if not sender.isascii() or all(not rcpt.isascii() for rcpt in recipients):
            return DeliveryResult({rcpt: unreachable for rcpt in recipients})
        replies = {rcpt: unreachable for rcpt in recipients if not rcpt.isascii()}
        needs_utf8 = False
    options = [b"SMTPUTF8"] if needs_utf8 else []
    if (eightbit or not message.isascii()) and client.supports("8bitmime"):
        options.append(b"BODY=8BITMIME")
    if client.supports("size"):
        limit = client.extensions.get("size", "").strip()
        if limit.isdigit() and 0 < int(limit) < len(message):
            reply = Reply.local(f"5.3.4 message of {len(message)} bytes exceeds the {limit} bytes {where} accepts")
            return DeliveryResult({rcpt: reply for rcpt in recipients})
        options.append(b"SIZE=%d" % len(message))
    encoding = "utf-8" if needs_utf8 else "ascii"
    try:
        mail = b" ".join([b"MAIL FROM:" + address_path(sender, encoding), *options]) + b"\r\n"
    except ValueError:
        reply = Reply.local(f"5.1.7 the sender address {sender!r} cannot be used in SMTP")
        return DeliveryResult({rcpt: reply for rcpt in recipients})
    commands: list[tuple[str, bytes]] = []
    for rcpt in recipients:
        if rcpt in replies:
            continue
        try:
            commands.append((rcpt, b"RCPT TO:" + address_path(rcpt, encoding) + b"\r\n"))
        except ValueError:
            replies[rcpt] = Reply.local(f"5.1.3 the address {rcpt!r} cannot be used in SMTP")
    if not commands:
        return DeliveryResult(replies)
    pipelining = client.supports("pipelining")
    stage = "MAIL FROM"
    try:
        try:
            if pipelining:
                client.write(b"".join([mail, *(line for _, line in commands), b"DATA\r\n"]))
            else:
                client.write(mail)
            answer = await client.read_reply()
        except ConnectionError:
            if not fresh:
                raise Stale from None
            raise
        if answer.code == 421 and not fresh:
            raise Stale
        if not 200 <= _code(answer) < 300:
            await _abort(client, len(commands) + 1 if pipelining else 0, _code(answer))
            return DeliveryResult({rcpt: replies.get(rcpt, answer) for rcpt in recipients})
        stage = "RCPT TO"
        accepted: list[str] = []
        for rcpt, line in commands:
            if not pipelining:
                client.write(line)
            answer = await client.read_reply()
            replies[rcpt] = answer
            if 200 <= _code(answer) < 300:
                accepted.append(rcpt)
        stage = "DATA"
        if not pipelining:
            if not accepted:
                await _abort(client, 0, 0)
                return DeliveryResult(replies)
            client.write(b"DATA\r\n")
        answer = await client.read_reply()
        if answer.code != 354:
            # A refusal of DATA applies to every recipient RCPT had accepted;
            # with none accepted, it is only the server agreeing (RFC 2920 3.1).
            data_reply = answer if accepted else None
            await _abort(client, 0, _code(answer))
            return _result(recipients, replies, accepted, data_reply)
        if not accepted:
            # A server that opens DATA with no recipient: there is nothing to
            # send, and an empty message must not go out; end the session.
            client.close()
            return DeliveryResult(replies)
        data_reply = await client.send_data(message, data_timeout, crlf=crlf)
        if data_reply.outcome != "accepted":
            await _abort(client, 0, _code(data_reply))
        return _result(recipients, replies, accepted, data_reply)
    except (ProtocolError, OSError) as exc:  # OSError covers ConnectionLost and TimeoutError
        client.close()
        detail = str(exc) or ("timed out waiting for a reply" if isinstance(exc, TimeoutError) else type(exc).__name__)
        lost = Reply.local(f"4.4.2 lost connection with {where} during {stage}: {detail}")
        # An RCPT acceptance means nothing without a reply to DATA; RCPT
        # refusals (e.g. the 421 that preceded the hang-up) stand.
        kept = {r: reply for r, reply in replies.items() if reply.outcome != "accepted"}
        return DeliveryResult({rcpt: kept.get(rcpt, lost) for rcpt in recipients})


def _result(
    recipients: Sequence[str], replies: dict[str, Reply], accepted: list[str], data_reply: Reply | None
) -> DeliveryResult:
    if data_reply is not None:
        for rcpt in accepted:
            replies[rcpt] = data_reply
    return DeliveryResult({rcpt: replies[rcpt] for rcpt in recipients}, data_reply)


def _code(reply: Reply) -> int:
    """The code of a reply read from the server, which always has one (only a local stand-in has none)."""
    return reply.code or 0


async def _abort(client: SmtpClient, unread: int, code: int) -> None:
    """End a failed transaction so the connection can carry the next one: read what is owed, then RSET.

    ``unread`` replies to pipelined commands are still on their way (after a
    refused MAIL FROM they are refusals too). After a 421 the server is
    closing the connection anyway.
    """
    try:
        if code == 421:
            raise ConnectionLost("the server is closing the connection")
        for _ in range(unread):
            if (await client.read_reply()).code == 354:
                # DATA accepted although MAIL was not: the session is confused.
                raise ProtocolError("the server accepted DATA without a sender")
        if (await client.command(b"RSET")).code != 250:
            raise ProtocolError("RSET refused")
    except (TimeoutError, ProtocolError, OSError):
        client.close()
