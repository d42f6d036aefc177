"""The relay as a process: kill -9 mid-stream loses nothing, SIGTERM keeps the queue.

``contacts-relay serve`` runs as a child process on a spool in tmp_path, in
front of the recording upstream. Clients in threads send tagged messages; a
tag counts as accepted only when its DATA got 250. After a crash the relay is
started again on the same spool, and every accepted tag must arrive.
``tests/bench/bench_crash.py`` runs many more rounds and prints the figures.
The end of SIGTERM's grace period is checked on a relay in the test's own
loop, where it can be short; the process always waits its full 30 s.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import smtplib
import socket
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from relay.app import Relay

from ..waiting import poll
from .helpers import ACME, ACME_BILLING, BETA, SENDER, RelayProcess, message, parsed, relay_config, run_cli, seed

_TAG = re.compile(rb"^Subject: crash (\S+)\r$", re.MULTILINE)
STRANGER = "stranger@crash.example"
# Every few messages go to two customers and a stranger: three copies, all of
# which must arrive once the 250 was given.
SPLIT = (ACME, BETA, STRANGER)
SPLIT_EVERY = 4
# Who each copy goes to, by its first recipient: the customer's or the stranger's envelope.
ENVELOPES = {ACME: sorted([ACME, *ACME_BILLING]), BETA: sorted([BETA, "bea@beta.example"]), STRANGER: [STRANGER]}


@dataclass
class RoundResult:
    accepted: int  # messages that got 250 (one in SPLIT_EVERY goes out as three copies)
    delivered: int  # of those, the ones whose every copy arrived
    duplicated: int  # copies delivered twice
    lost: list[str]  # "tag -> first recipient" of each copy that never arrived
    extra: int  # delivered though the client never saw its 250 (killed in between)


def relay_args(db_url: str, spool: Path, upstream_port: int, *extra: str) -> list[str]:
    return [
        "--db",
        db_url,
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        f"127.0.0.1:{upstream_port}",
        "--upstream-tls",
        "none",
        "--spool",
        str(spool),
        "--min-backoff",
        "0.05",
        "--max-backoff",
        "0.2",
        *extra,
    ]


def crash_round(
    name: str, db_url: str, spool: Path, upstream, rng: random.Random, *, clients: int = 4, timeout: float = 60
) -> RoundResult:
    """One round: clients send, the relay is killed -9 after a random number of 250s, restarted, drained."""
    relay = RelayProcess(relay_args(db_url, spool, upstream.port)).start()
    accepted: dict[str, tuple[str, ...]] = {}  # tag -> the first recipient of each of its copies
    lock = threading.Lock()
    stop = threading.Event()
    kill_after = rng.randint(1, 60)

    def client(number: int) -> None:
        count = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as session:
                    session.ehlo("crash-client.test")
                    # Several messages per connection, like a billing run.
                    for _ in range(rng.randint(1, 5)):
                        tag = f"{name}-c{number}-{count}"
                        count += 1
                        recipients = SPLIT if count % SPLIT_EVERY == 0 else (ACME,)
                        session.mail(SENDER)
                        for recipient in recipients:
                            session.rcpt(recipient)
                        code, _ = session.data(message(subject=f"crash {tag}", message_id=f"<{tag}@crash.test>"))
                        if code == 250:
                            with lock:
                                accepted[tag] = recipients
                        if stop.is_set():
                            return
            except (OSError, smtplib.SMTPException):
                return  # the relay is gone: whatever had no 250 is the client's to retry

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        poll(lambda: len(accepted) >= kill_after, 30, lambda: len(accepted))
        relay.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        relay.stop()
    with lock:
        expected = {(tag, first) for tag, recipients in accepted.items() for first in recipients}

    restarted = RelayProcess(relay_args(db_url, spool, upstream.port)).start()
    try:

        def delivered_copies() -> Counter:
            copies: Counter = Counter()
            for received in upstream.messages:
                for match in _TAG.finditer(received.data):
                    if match.group(1).decode().startswith(name + "-"):
                        copies[(match.group(1).decode(), received.recipients[0])] += 1
            return copies

        poll(lambda: expected <= set(delivered_copies()), timeout, lambda: sorted(expected - set(delivered_copies())))
        assert restarted.terminate() == 0
    finally:
        restarted.stop()
    copies = delivered_copies()
    missing = expected - set(copies)
    return RoundResult(
        accepted=len(accepted),
        delivered=len({tag for tag, _ in expected} - {tag for tag, _ in missing}),
        duplicated=sum(count - 1 for count in copies.values()),
        lost=sorted(f"{tag} -> {first}" for tag, first in missing),
        extra=len({tag for tag, _ in copies} - set(accepted)),
    )


@pytest.fixture
def seeded_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'contacts.db'}"
    database = open_database(url)
    seed(Directory(database, DEFAULT_CATALOG))
    database.close()
    return url


@pytest.mark.slow
def test_kill_9_mid_stream_loses_no_message_that_got_250(seeded_db, tmp_path, upstream, rng):
    results = [crash_round(f"r{n}", seeded_db, tmp_path / "spool", upstream, rng) for n in range(5)]
    print(
        "kill -9 rounds:",
        len(results),
        "accepted:",
        sum(r.accepted for r in results),
        "delivered:",
        sum(r.delivered for r in results),
        "duplicated:",
        sum(r.duplicated for r in results),
        "delivered without a 250:",
        sum(r.extra for r in results),
    )
    assert [r.lost for r in results] == [[]] * 5
    assert all(r.accepted >= 1 for r in results)
    # Each delivered copy carries its own customer's contacts, also after recovery.
    assert all(sorted(m.recipients) == ENVELOPES[m.recipients[0]] for m in upstream.messages)


def _refused(port: int) -> bool:
    """Whether a new connection is refused. One that still got in (a worker had
    not yet heard of the stop) is sent away with 421 as soon as it hears."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as late:
            reader = late.makefile("rb")
            first = reader.readline()
            assert first.startswith(b"421 ") or reader.readline().startswith(b"421 "), first
    except ConnectionRefusedError:
        return True
    return False


def _reply(reader) -> bytes:
    """One SMTP reply, its last line (multi-line replies are read through)."""
    line = reader.readline()
    while line[3:4] == b"-":
        line = reader.readline()
    return line


def test_sigterm_lets_a_transaction_in_flight_finish_and_keeps_the_queue(seeded_db, tmp_path, upstream, capsys):
    spool = tmp_path / "spool"
    upstream.stop()
    relay = RelayProcess(relay_args(seeded_db, spool, upstream.port)).start()
    try:
        for n in range(5):
            with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as client:
                client.sendmail(SENDER, [ACME], message(subject=f"kept {n}"))
        # One client between messages, one in the middle of its DATA when the relay is told to stop.
        idle = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        idle_reader = idle.makefile("rb")
        _reply(idle_reader)
        idle.sendall(b"EHLO idle.test\r\n")
        _reply(idle_reader)
        sending = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        reader = sending.makefile("rb")
        _reply(reader)
        for command in (b"EHLO late.test", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{ACME}>".encode(), b"DATA"):
            sending.sendall(command + b"\r\n")
            _reply(reader)
        late = message(subject="sent while stopping")
        sending.sendall(late[:-20])

        relay.send_signal(signal.SIGTERM)
        assert idle_reader.readline().startswith(b"421 4.3.2 ")  # told at once, not silently dropped
        poll(lambda: _refused(relay.port), 5)  # no longer accepting (once every worker has heard)
        assert relay.process.poll() is None  # still waiting for the message on its way
        sending.sendall(late[-20:] + b".\r\n")
        done = reader.readline()
        assert done.startswith(b"250 2.0.0 Ok: queued as "), done
        assert reader.readline().startswith(b"421 4.3.2 ")  # and then it is told to go
        idle.close()
        sending.close()

        assert relay.wait() == 0
        first_line = relay.output.splitlines()[0]
        assert f"upstream 127.0.0.1:{upstream.port} (no TLS), spool {spool}, 0 queued" in first_line
        assert first_line.endswith(f", directory {seeded_db}")
        assert "stopping: finishing messages in flight; the rest stays in the spool" in relay.output
        assert "stopped; 6 message(s) stay in the spool" in relay.output
    finally:
        relay.stop()

    code, out, _ = run_cli(capsys, "queue", "--spool", str(spool))
    assert code == 0 and out.count("waiting for") == 6

    upstream.start()
    restarted = RelayProcess(relay_args(seeded_db, spool, upstream.port)).start()
    try:
        assert "6 queued" in restarted.output
        poll(lambda: len(upstream.messages) >= 6, 20, lambda: upstream.messages)
        poll(lambda: "is empty" in run_cli(capsys, "queue", "--spool", str(spool))[1], 10)
        assert restarted.terminate() == 0
    finally:
        restarted.stop()
    subjects = sorted(parsed(m.data)["Subject"] for m in upstream.messages)
    assert subjects == [f"kept {n}" for n in range(5)] + ["sent while stopping"]


async def test_a_transaction_still_open_when_the_grace_period_ends_gets_421(sqlite_directory, tmp_path, upstream):
    seed(sqlite_directory)
    relay = Relay(relay_config(tmp_path, upstream), sqlite_directory)
    await relay.start()

    def open_transaction():
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        reader = sock.makefile("rb")
        _reply(reader)
        for command in (b"EHLO slow.test", f"MAIL FROM:<{SENDER}>".encode()):
            sock.sendall(command + b"\r\n")
            _reply(reader)
        return sock, reader

    sock, reader = await asyncio.to_thread(open_transaction)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await relay.stop(0.5)
    waited = loop.time() - started
    last = await asyncio.to_thread(reader.readline)
    sock.close()
    assert waited >= 0.5  # the open transaction had its grace period...
    assert last.startswith(b"421 4.3.2 ")  # ...and was then told, not dropped


def test_a_second_relay_on_the_same_spool_is_refused(seeded_db, tmp_path, upstream):
    first = RelayProcess(relay_args(seeded_db, tmp_path / "spool", upstream.port)).start()
    try:
        with pytest.raises(AssertionError, match="exited \\(1\\)") as failed:
            RelayProcess(relay_args(seeded_db, tmp_path / "spool", upstream.port)).start()
        assert "spool" in str(failed.value)
    finally:
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(20)
