"""Clients that abuse the relay: password guessing, idle and junk sessions,
slots taken by strangers. Each is answered without holding anyone else up.

Strangers (outside --allow) connect from other loopback addresses
(127.0.0.5, ...), so one machine plays both sides.
"""

from __future__ import annotations

import asyncio
import base64
import smtplib
import time

import pytest

from relay.server import listener

from ..helpers import (
    ACME,
    PASSWORD,
    SENDER,
    USER,
    RawSession,
    message,
    relay_config,
    running,
    tls_client,
    worst_reply_time,
)

ONLY_ME = ("127.0.0.1/32",)


async def test_password_guessing_holds_up_no_other_session_and_is_cut_off_per_address(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file
):
    config = relay_config(
        tmp_path, upstream, allow=ONLY_ME, auth_file=auth_file, tls_cert=tls_files.cert, tls_key=tls_files.key
    )

    def guess(port: int, password: str) -> int:
        with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=("127.0.0.9", 0)) as client:
            client.ehlo("guesser.test")
            client.starttls(context=tls_client(tls_files))
            client.ehlo("guesser.test")
            token = base64.b64encode(f"\0{USER}\0{password}".encode()).decode()
            code, _ = client.docmd("AUTH", "PLAIN " + token)
            return code

    async with running(config, sqlite_directory) as relay:
        done = asyncio.Event()

        watcher = asyncio.create_task(asyncio.to_thread(worst_reply_time, relay.port, done))
        codes = await asyncio.gather(*(asyncio.to_thread(guess, relay.port, f"guess {n}") for n in range(8)))
        # The right password from that address is refused unchecked too, for now.
        late = await asyncio.to_thread(guess, relay.port, PASSWORD)
        done.set()
        worst = await watcher
    assert sorted(codes) == [454] * 3 + [535] * 5
    assert late == 454
    assert worst < 0.5, f"another session waited {worst:.2f} s for a reply"


async def test_strangers_get_at_most_half_the_slots_and_a_few_each(sqlite_directory, people, upstream, tmp_path):
    config = relay_config(tmp_path, upstream, allow=ONLY_ME, max_connections=10, max_client_connections=3)
    async with running(config, sqlite_directory) as relay:

        def fill() -> list[tuple[str, int]]:
            results, sessions = [], []
            for source in ["127.0.0.5"] * 4 + ["127.0.0.6"] * 3:
                session = RawSession(relay.port, source=source)
                sessions.append(session)
                results.append((source, session.greeting[0]))
            # Meanwhile the relay's own sender gets in and is served.
            mine = RawSession(relay.port)
            replies = mine.send_message(SENDER.encode(), [ACME.encode()], message())
            mine.close()
            for session in sessions:
                session.sock.close()
            return results + [("127.0.0.1", replies[-1][0])]

        results = await asyncio.to_thread(fill)
    assert results == [
        ("127.0.0.5", 220),
        ("127.0.0.5", 220),
        ("127.0.0.5", 220),
        ("127.0.0.5", 421),  # 3 per address
        ("127.0.0.6", 220),
        ("127.0.0.6", 220),
        ("127.0.0.6", 421),  # 5 strangers: half of 10
        ("127.0.0.1", 250),
    ]


async def test_an_idle_stranger_is_sent_away(sqlite_directory, people, upstream, tmp_path, monkeypatch):
    monkeypatch.setattr(listener, "STRANGER_IDLE", 1.0)
    async with running(relay_config(tmp_path, upstream, allow=ONLY_ME), sqlite_directory) as relay:

        def idle() -> tuple[int, str]:
            session = RawSession(relay.port, source="127.0.0.5")
            session.command(b"EHLO idle.test")
            return session.reply()  # nothing sent: the relay speaks first

        started = time.monotonic()
        reply = await asyncio.to_thread(idle)
    assert reply[0] == 421 and "Idle" in reply[1]
    assert time.monotonic() - started < 10


async def test_a_flood_of_commands_without_mail_ends_the_session(sqlite_directory, people, upstream, tmp_path):
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:

        def flood() -> list[int]:
            session = RawSession(relay.port)
            codes = []
            try:
                session.command(b"EHLO noop.test")
                # A message in between starts the count afresh.
                codes += [session.command(b"NOOP")[0] for _ in range(60)]
                codes.append(session.send_message(SENDER.encode(), [ACME.encode()], message())[-1][0])
                for _ in range(200):
                    code = session.command(b"NOOP")[0]
                    codes.append(code)
                    if code == 421:
                        break
            finally:
                session.sock.close()
            return codes

        codes = await asyncio.to_thread(flood)
    assert codes[:60] == [250] * 60 and codes[60] == 250
    assert codes[61:] == [250] * 100 + [421]


@pytest.mark.parametrize("source", ["127.0.0.5"])
async def test_a_stranger_still_gets_530_at_mail(sqlite_directory, people, upstream, tmp_path, source):
    async with running(relay_config(tmp_path, upstream, allow=ONLY_ME), sqlite_directory) as relay:

        def attempt() -> int:
            session = RawSession(relay.port, source=source)
            try:
                session.command(b"EHLO stranger.test")
                return session.command(f"MAIL FROM:<{SENDER}>".encode())[0]
            finally:
                session.close()

        assert await asyncio.to_thread(attempt) == 530
