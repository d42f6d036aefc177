"""The receiving side with a pipelining client (RFC 2920), spoken over a raw socket.

The relay advertises PIPELINING; a client that sends MAIL, RCPT and DATA in
one packet gets every reply, in order, and its message goes through with the
contacts added. Refusals inside a group do not open a transaction, and
commands pipelined behind STARTTLS are thrown away (they came in the clear).
"""

from __future__ import annotations

import asyncio
import ssl

from ..helpers import ACME, ACME_BILLING, BETA, SENDER, message, relay_config, running

BILLING = message(to=f"{ACME}, {BETA}")


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        client = cls(*await asyncio.open_connection("127.0.0.1", port))
        assert (await client.reply()).startswith(b"220 ")
        return client

    async def reply(self) -> bytes:
        """One whole reply, continuation lines included."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 10)
            assert line, "the relay closed the connection"
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    async def replies(self, count: int) -> list[bytes]:
        return [await self.reply() for _ in range(count)]

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def _group(*recipients: str) -> bytes:
    return (
        f"MAIL FROM:<{SENDER}>\r\n".encode() + b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients) + b"DATA\r\n"
    )


def _data(data: bytes) -> bytes:
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def test_ehlo_offers_pipelining_and_a_group_in_one_packet_goes_through(
    sqlite_directory, people, upstream, tmp_path
) -> None:
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        client = await RawClient.connect(relay.port)
        client.send(b"EHLO pipelining.test\r\n")
        ehlo = await client.reply()
        client.send(_group(ACME, BETA))
        mail, first, second, data = await client.replies(4)
        client.send(_data(BILLING) + b"QUIT\r\n")
        done, bye = await client.replies(2)
        await client.close()
        received = await upstream.wait_for(2)  # a copy per customer

    assert b"250-PIPELINING\r\n" in ehlo and ehlo.endswith(b"250 HELP\r\n")
    assert mail.startswith(b"250 ") and first.startswith(b"250 ") and second.startswith(b"250 ")
    assert data.startswith(b"354 ")
    assert done.startswith(b"250 2.0.0 Ok: queued as ")
    assert bye.startswith(b"221 ")
    assert {r for copy in received for r in copy.recipients} >= {ACME, BETA, *ACME_BILLING}


async def test_two_transactions_pipelined_back_to_back_both_arrive(
    sqlite_directory, people, upstream, tmp_path
) -> None:
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        client = await RawClient.connect(relay.port)
        client.send(b"EHLO pipelining.test\r\n")
        await client.reply()
        client.send(_group(ACME))
        assert [r[:3] for r in await client.replies(3)] == [b"250", b"250", b"354"]
        # The end of the first message, RSET, and the whole group of the next one in one packet.
        client.send(_data(BILLING) + b"RSET\r\n" + _group(BETA))
        replies = await client.replies(5)
        client.send(_data(BILLING) + b"QUIT\r\n")
        last, bye = await client.replies(2)
        await client.close()
        received = await upstream.wait_for(2)

    assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"250", b"354"]
    assert replies[0].startswith(b"250 2.0.0 Ok: queued as ") and last.startswith(b"250 2.0.0 Ok: queued as ")
    assert bye.startswith(b"221 ")
    assert sorted(m.recipients[0] for m in received) == sorted([ACME, BETA])


async def test_a_refused_sender_in_a_group_opens_no_transaction(sqlite_directory, people, upstream, tmp_path) -> None:
    config = relay_config(tmp_path, upstream, allow=("192.0.2.0/24",))
    async with running(config, sqlite_directory) as relay:
        client = await RawClient.connect(relay.port)
        client.send(b"EHLO stranger.test\r\n")
        await client.reply()
        client.send(_group(ACME, BETA))
        mail, first, second, data = await client.replies(4)
        # A client that sends the body anyway: its lines are commands now, and refused.
        client.send(b"QUIT\r\n")
        bye = await client.reply()
        await client.close()

    assert mail.startswith(b"530 ")
    assert first.startswith(b"503 ") and second.startswith(b"503 ")
    assert data.startswith(b"503 ")
    assert bye.startswith(b"221 ")
    assert upstream.messages == []


async def test_commands_pipelined_behind_starttls_are_dropped(
    sqlite_directory, people, upstream, tmp_path, tls_files
) -> None:
    config = relay_config(tmp_path, upstream, tls_cert=tls_files.cert, tls_key=tls_files.key)
    async with running(config, sqlite_directory) as relay:
        client = await RawClient.connect(relay.port)
        client.send(b"EHLO pipelining.test\r\n")
        assert b"STARTTLS" in await client.reply()
        # In the clear after STARTTLS: must not count once TLS is up.
        client.send(b"STARTTLS\r\n" + f"MAIL FROM:<{SENDER}>\r\n".encode())
        ready = await client.reply()
        await client.writer.start_tls(
            ssl.create_default_context(cafile=str(tls_files.cert)), server_hostname="localhost"
        )
        client.send(b"EHLO pipelining.test\r\n")
        ehlo = await client.reply()
        client.send(f"RCPT TO:<{ACME}>\r\n".encode())
        rcpt = await client.reply()
        client.send(b"QUIT\r\n")
        await client.reply()
        await client.close()

    assert ready.startswith(b"220 ")
    assert ehlo.startswith(b"250-") and b"PIPELINING" in ehlo
    assert rcpt.startswith(b"503 ")  # no MAIL FROM in this (encrypted) session
    assert upstream.messages == []
