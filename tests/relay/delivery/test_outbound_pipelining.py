"""The pipelined transaction (RFC 2920) against an upstream that offers PIPELINING.

What a user of the relay would notice: the commands go out in one group, each
recipient still gets its own reply (multi-line ones too), refusals at every
step leave the connection usable for the next message, and the body reaches
the upstream with CRLF line ends only, so a bare LF or CR in a sender's
message cannot end the DATA early at the upstream (SMTP smuggling).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from relay.delivery.pool import UpstreamConfig, UpstreamPool
from relay.delivery.smtp_client import data_bytes

from ..helpers.upstream import Upstream
from .test_pool import MESSAGE

SENDER = "billing@shop.example"


@pytest.fixture
def upstream(make_upstream: Callable[..., Upstream]) -> Upstream:
    return make_upstream(pipelining=True)


def pool_for(upstream: Upstream, **options) -> UpstreamPool:
    return UpstreamPool(UpstreamConfig(upstream.host, upstream.port, timeout=5.0, helo_name="relay.test", **options))


async def test_mail_rcpt_and_data_go_out_in_one_group(upstream: Upstream) -> None:
    pool = pool_for(upstream)
    try:
        result = await pool.deliver(MESSAGE, SENDER, ["customer@example.com", "a@acme.example", "b@acme.example"])
    finally:
        await pool.close()

    assert result.accepted == ["customer@example.com", "a@acme.example", "b@acme.example"]
    [received] = upstream.messages
    assert received.pipelined
    assert received.data == MESSAGE
    assert received.recipients == ("customer@example.com", "a@acme.example", "b@acme.example")


async def test_each_recipient_keeps_its_own_reply_including_multi_line_ones(upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550-5.1.1 no such user here\r\n550 5.1.1 try another address")
    upstream.reply_rcpt("full@example.com", "452 4.2.2 mailbox full")
    pool = pool_for(upstream)
    try:
        result = await pool.deliver(MESSAGE, SENDER, ["gone@example.com", "customer@example.com", "full@example.com"])
    finally:
        await pool.close()

    gone = result.replies["gone@example.com"]
    assert (gone.code, gone.outcome, gone.status) == (550, "permanent", "5.1.1")
    assert str(gone) == "550 5.1.1 no such user here 5.1.1 try another address"
    assert str(result.replies["full@example.com"]) == "452 4.2.2 mailbox full"
    assert result.replies["customer@example.com"].text.startswith("2.0.0 OK queued")
    assert [m.recipients for m in upstream.messages] == [("customer@example.com",)]


async def test_a_refused_sender_fails_every_recipient_and_the_connection_carries_on(upstream: Upstream) -> None:
    upstream.reply_mail("550 5.7.1 sender not allowed", times=1)
    pool = pool_for(upstream)
    try:
        refused = await pool.deliver(MESSAGE, SENDER, ["customer@example.com", "a@acme.example"])
        second = await pool.deliver(MESSAGE, SENDER, ["customer@example.com"])
    finally:
        await pool.close()

    assert refused.permanent == ["customer@example.com", "a@acme.example"]
    assert str(refused.replies["a@acme.example"]) == "550 5.7.1 sender not allowed"
    assert refused.data_reply is None
    assert second.accepted == ["customer@example.com"]
    assert upstream.connections == 1
    assert [m.recipients for m in upstream.messages] == [("customer@example.com",)]


async def test_no_recipient_accepted_sends_no_message_and_the_connection_carries_on(upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    upstream.reply_rcpt("later@example.com", "451 4.3.0 try later", times=1)
    pool = pool_for(upstream)
    try:
        refused = await pool.deliver(MESSAGE, SENDER, ["gone@example.com", "later@example.com"])
        second = await pool.deliver(MESSAGE, SENDER, ["later@example.com"])
    finally:
        await pool.close()

    assert refused.permanent == ["gone@example.com"]
    assert refused.temporary == ["later@example.com"]
    assert refused.data_reply is None  # the upstream's 503 to DATA is not anybody's outcome
    assert second.accepted == ["later@example.com"]
    assert upstream.connections == 1
    assert [m.recipients for m in upstream.messages] == [("later@example.com",)]


async def test_a_refusal_of_the_content_reaches_every_accepted_recipient_and_the_next_message_goes(
    upstream: Upstream,
) -> None:
    upstream.reply_data("554 5.7.1 rejected as spam", contains=b"Invoice 42")
    pool = pool_for(upstream)
    try:
        refused = await pool.deliver(MESSAGE, SENDER, ["customer@example.com", "a@acme.example"])
        fine = await pool.deliver(MESSAGE.replace(b"Invoice 42", b"Invoice 43"), SENDER, ["customer@example.com"])
    finally:
        await pool.close()

    assert refused.permanent == ["customer@example.com", "a@acme.example"]
    assert str(refused.data_reply) == "554 5.7.1 rejected as spam"
    assert fine.accepted == ["customer@example.com"]
    assert upstream.connections == 1


async def test_bare_line_ends_reach_the_upstream_as_crlf_and_cannot_end_the_data(upstream: Upstream) -> None:
    smuggling = (
        b"From: billing@shop.example\r\nSubject: smuggled?\r\n\r\n"
        b"first\n.\nMAIL FROM:<evil@example.com>\r\n"
        b"second\r.\rthird\r\n"
        b".leading dot\r\n"
    )
    pool = pool_for(upstream)
    try:
        result = await pool.deliver(smuggling, SENDER, ["customer@example.com"])
    finally:
        await pool.close()

    assert result.accepted == ["customer@example.com"]
    [received] = upstream.messages
    assert received.data == (
        b"From: billing@shop.example\r\nSubject: smuggled?\r\n\r\n"
        b"first\r\n.\r\nMAIL FROM:<evil@example.com>\r\n"
        b"second\r\n.\r\nthird\r\n"
        b".leading dot\r\n"
    )
    assert received.sender == SENDER


def test_data_bytes_stuffs_dots_and_normalises_line_ends() -> None:
    assert data_bytes(b".a\r\nb\n.\rc") == b"..a\r\nb\r\n..\r\nc\r\n.\r\n"
    assert data_bytes(b"plain\r\n") == b"plain\r\n.\r\n"
    assert data_bytes(b"") == b"\r\n.\r\n"


async def test_an_address_that_would_inject_a_command_is_refused_before_anything_is_sent(
    upstream: Upstream,
) -> None:
    pool = pool_for(upstream)
    try:
        result = await pool.deliver(MESSAGE, SENDER, ["customer@example.com", "x@example.com>\r\nRSET"])
    finally:
        await pool.close()

    assert result.accepted == ["customer@example.com"]
    assert result.replies["x@example.com>\r\nRSET"].status == "5.1.3"
    assert [m.recipients for m in upstream.messages] == [("customer@example.com",)]


class _ScriptedServer:
    """A raw socket server that answers each line from a script; for replies aiosmtpd would never send."""

    def __init__(self, script: Callable[[bytes], bytes | None]) -> None:
        self.script = script
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.sendall(b"220 scripted ESMTP\r\n")
            buffered = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                self.received.append(chunk)
                buffered += chunk
                while b"\r\n" in buffered:
                    line, buffered = buffered.split(b"\r\n", 1)
                    answer = self.script(line)
                    if answer is None:
                        return
                    if answer:
                        conn.sendall(answer)


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[bytes], bytes | None]], _ScriptedServer]]:
    servers: list[_ScriptedServer] = []

    def make(script: Callable[[bytes], bytes | None]) -> _ScriptedServer:
        server = _ScriptedServer(script)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.listener.close()


async def test_replies_to_a_group_in_one_segment_are_paired_in_order(scripted) -> None:
    in_data = False

    def script(line: bytes) -> bytes | None:
        nonlocal in_data
        if in_data:
            if line == b".":
                in_data = False
                return b"250 2.0.0 queued\r\n"
            return b""
        if line.startswith(b"EHLO"):
            return b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        if line.startswith(b"MAIL"):
            return b""  # answered together with the RCPTs and DATA below
        if line.startswith(b"RCPT TO:<b@"):
            return b""
        if line == b"DATA":
            in_data = True
            # Everything for MAIL, two RCPTs and DATA in one segment, a multi-line one among them.
            return (
                b"250 2.1.0 ok\r\n250-2.1.5 first line\r\n250 2.1.5 second line\r\n"
                b"550 5.1.1 no b here\r\n354 go ahead\r\n"
            )
        if line.startswith(b"RCPT"):
            return b""
        if line == b"QUIT":
            return None
        return b"250 ok\r\n"

    server = scripted(script)
    pool = UpstreamPool(UpstreamConfig("127.0.0.1", server.port, tls="none", timeout=5.0, helo_name="relay.test"))
    try:
        result = await pool.deliver(MESSAGE, SENDER, ["a@example.com", "b@example.com"])
    finally:
        await pool.close()

    assert result.accepted == ["a@example.com"]
    assert result.replies["a@example.com"].text == "2.0.0 queued"
    assert str(result.replies["b@example.com"]) == "550 5.1.1 no b here"
    group = [chunk for chunk in server.received if chunk.startswith(b"MAIL")][0]
    assert group.count(b"\r\n") == 4 and group.endswith(b"DATA\r\n")


async def test_a_server_that_opens_data_without_recipients_gets_no_message(scripted) -> None:
    def script(line: bytes) -> bytes | None:
        if line.startswith(b"EHLO"):
            return b"250-scripted\r\n250 PIPELINING\r\n"
        if line.startswith(b"MAIL"):
            return b"250 ok\r\n"
        if line.startswith(b"RCPT"):
            return b"550 5.1.1 nobody\r\n"
        if line == b"DATA":
            return b"354 go ahead anyway\r\n"
        return None

    server = scripted(script)
    pool = UpstreamPool(UpstreamConfig("127.0.0.1", server.port, tls="none", timeout=5.0, helo_name="relay.test"))
    try:
        result = await pool.deliver(MESSAGE, SENDER, ["a@example.com"])
    finally:
        await pool.close()

    assert result.permanent == ["a@example.com"]
    assert not any(b"Invoice 42" in chunk for chunk in server.received)
