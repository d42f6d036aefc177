"""The reliability suite's scenarios: faults, hostile input and abuse, each run
against a real relay in front of the recording upstream, with the same
figures: sent, 250s, delivered, duplicated, lost, delivered without the
contacts, crashes, and the slowest reply another client saw meanwhile.

``tests/relay/test_reliability.py`` runs the short form of each in CI and
checks the figures; ``tests/bench/bench_reliability.py`` runs the long form
and prints the table the README shows. A client here behaves like a billing
app: it retries a 4xx or a dropped connection a few times, and a message
counts as accepted only once it got 250.
"""

from __future__ import annotations

import base64
import contextlib
import random
import re
import resource
import signal
import smtplib
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory

from ...waiting import poll
from . import ACME, ACME_BILLING, PASSWORD, SENDER, USER, RawSession, RelayProcess, message, seed, tls_client
from .upstream import Upstream

_TAG = re.compile(rb"^Subject: rel (\S+)\r$", re.MULTILINE)


@dataclass
class Outcome:
    scenario: str
    sent: int = 0
    retried: int = 0  # 4xx replies and dropped connections the clients got, and tried again after
    accepted: int = 0
    delivered: int = 0
    duplicated: int = 0
    lost: int = 0
    without_contacts: int = 0
    crashes: int = 0
    worst_reply: float | None = None  # seconds; None where no other client could watch (the relay was killed)
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        worst = "-" if self.worst_reply is None else f"{self.worst_reply * 1000:,.0f} ms"
        return (
            f"| {self.scenario} | {self.sent:,} | {self.retried:,} | {self.accepted:,} | {self.delivered:,} | "
            f"{self.duplicated:,} | "
            f"{self.lost:,} | {self.without_contacts:,} | {self.crashes} | {worst} |"
        )

    def problems(self) -> list[str]:
        """What breaks the relay's promises; empty when it kept them."""
        found = []
        if self.lost:
            found.append(f"{self.lost} message(s) got 250 and were never delivered")
        if self.without_contacts:
            found.append(f"{self.without_contacts} notification(s) went out without their contacts")
        if self.crashes:
            found.append(f"the relay crashed {self.crashes} time(s)")
        if self.worst_reply is not None and self.worst_reply >= 1.0:
            found.append(f"another client waited {self.worst_reply:.2f} s for a reply")
        return found


HEADER = (
    "| scenario | sent | retried after 4xx | 250 | delivered | duplicated | lost | without contacts | crashes | "
    "worst reply to another client |\n|---|---|---|---|---|---|---|---|---|---|"
)


# -- clients ---------------------------------------------------------------------


class Senders:
    """Billing-app clients in threads: each tag is sent until it gets 250 or its tries run out.

    The messages are spread over ``seconds``, so that the faults a scenario
    makes meanwhile meet mail on its way; ``body`` pads each message.
    """

    def __init__(
        self,
        port: Callable[[], int],
        tags: list[str],
        *,
        sessions: int = 4,
        tries: int = 20,
        seconds: float = 2.0,
        body: int = 0,
    ) -> None:
        self.port, self.tags, self.sessions, self.tries = port, tags, sessions, tries
        self.pause = seconds * sessions / max(1, len(tags))
        self.body = b"Your invoice is attached.\r\n" + (b"x" * 76 + b"\r\n") * (body // 78)
        self.accepted: set[str] = set()
        self.retried = 0
        self._lock = threading.Lock()
        self._todo = iter(tags)
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(sessions)]

    def start(self) -> Senders:
        for thread in self._threads:
            thread.start()
        return self

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def join(self, timeout: float = 300) -> None:
        poll(lambda: not self.running, timeout, interval=0.1, fail=False)

    def _next(self) -> str | None:
        with self._lock:
            return next(self._todo, None)

    def _client(self) -> None:
        session: smtplib.SMTP | None = None
        tag = self._next()
        tries = 0
        while tag is not None:
            try:
                if session is None:
                    session = smtplib.SMTP("127.0.0.1", self.port(), timeout=30)
                    session.ehlo("billing-app.test")
                session.mail(SENDER)
                session.rcpt(ACME)
                code, _ = session.data(message(subject=f"rel {tag}", message_id=f"<{tag}@rel.test>", body=self.body))
            except (OSError, smtplib.SMTPException):
                code = 0
                with contextlib.suppress(Exception):
                    session.close()  # type: ignore[union-attr]
                session = None
            if code == 250:
                with self._lock:
                    self.accepted.add(tag)
            tries += 1
            if code == 250 or tries >= self.tries or 500 <= code < 600:
                tag, tries = self._next(), 0
                time.sleep(self.pause)
            else:
                with self._lock:
                    self.retried += 1
                time.sleep(0.05 + random.random() * 0.1)  # a 4xx or a dropped connection: again, soon
        if session is not None:
            with contextlib.suppress(Exception):
                session.quit()


class Watcher:
    """Another client, saying EHLO over and over while a scenario runs: the slowest reply it saw."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _watch(self) -> None:
        session = None
        while not self._stop.is_set():
            try:
                session = session or RawSession(self.port, timeout=10)
                started = time.monotonic()
                session.command(b"EHLO watcher.test")
                self.worst = max(self.worst, time.monotonic() - started)
            except (OSError, ConnectionError):
                self.worst = max(self.worst, 10.0)
                session = None
            time.sleep(0.01)
        if session is not None:
            session.close()


def count_delivered(outcome: Outcome, upstream: Upstream, senders: Senders, timeout: float = 60) -> None:
    """Wait for every accepted tag at the upstream, then fill in the figures."""
    accepted, sent, retried = set(senders.accepted), len(senders.tags), senders.retried

    def arrived() -> tuple[Counter, int]:
        tags: Counter = Counter()
        bare = 0
        for received in upstream.messages:
            found = _TAG.search(received.data)
            if found:
                tags[found.group(1).decode()] += 1
                if not set(ACME_BILLING) <= set(received.recipients):
                    bare += 1
        return tags, bare

    seen: list[tuple[Counter, int]] = []

    def all_arrived() -> bool:
        seen.append(arrived())
        return accepted <= set(seen[-1][0])

    poll(all_arrived, timeout, interval=0.1, fail=False)
    tags, bare = seen[-1]
    outcome.sent = sent
    outcome.retried = retried
    outcome.accepted = len(accepted)
    outcome.delivered = len(accepted & set(tags))
    outcome.duplicated = sum(count - 1 for count in tags.values())
    outcome.lost = len(accepted - set(tags))
    outcome.without_contacts = bare


# -- the relay under test --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seeded_database(folder: Path) -> Path:
    db = folder / "contacts.db"
    database = open_database(f"sqlite:///{db}")
    seed(Directory(database, DEFAULT_CATALOG))
    database.close()
    return db


def relay_process(
    db: str | Path, folder: Path, upstream: Upstream, port: int, *extra: str, limit_file_size: int | None = None
) -> RelayProcess:
    args = [
        "--db",
        str(db),
        "--listen",
        f"127.0.0.1:{port}",
        "--upstream",
        f"127.0.0.1:{upstream.port}",
        "--upstream-tls",
        "none",
        "--spool",
        str(folder / "spool"),
        "--min-backoff",
        "0.1",
        "--max-backoff",
        "0.5",
        "--hostname",
        "relay.test",
        *extra,
    ]
    return RelayProcess(args, preexec=_file_size_limit(limit_file_size) if limit_file_size else None)


def _file_size_limit(size: int) -> Callable[[], None]:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails as a full disk does
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@contextlib.contextmanager
def serving(process: RelayProcess, outcome: Outcome) -> Iterator[RelayProcess]:
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is not None:
            outcome.crashes += 1  # it exited while it should have been serving
            outcome.notes.append(process.output[-2000:])
        process.stop()


def tags(scenario: str, count: int) -> list[str]:
    return [f"{scenario}-{n}" for n in range(count)]


RATE = 25.0  # messages a second the clients send while a fault comes and goes


# -- faults ----------------------------------------------------------------------


def database_moved(folder: Path, upstream: Upstream, size: int) -> Outcome:
    """The SQLite file is renamed away and back twice while mail flows."""
    outcome = Outcome("database moved away and back, mid-stream")
    db = seeded_database(folder)
    port = free_port()
    with serving(relay_process(db, folder, upstream, port), outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags("moved", size), seconds=size / RATE).start()
        while senders.running:
            time.sleep(0.3)
            db.rename(folder / "away.db")
            time.sleep(0.5)
            (folder / "away.db").rename(db)
        senders.join()
        outcome.worst_reply = watcher.worst
        count_delivered(outcome, upstream, senders)
    return outcome


def database_locked(folder: Path, upstream: Upstream, size: int) -> Outcome:
    """Another program holds SQLite's write lock for 3 s at a time (a long import)."""
    import sqlite3

    outcome = Outcome("database locked by a long writer")
    db = seeded_database(folder)
    port = free_port()
    with serving(relay_process(db, folder, upstream, port), outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags("locked", size), seconds=size / RATE).start()
        writer = sqlite3.connect(db, isolation_level=None, timeout=30)
        while senders.running:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE customer SET updated_at = updated_at")
            time.sleep(3)
            writer.execute("COMMIT")
            time.sleep(0.3)
        writer.close()
        senders.join()
        outcome.worst_reply = watcher.worst
        count_delivered(outcome, upstream, senders)
    return outcome


def postgres_restarted(folder: Path, upstream: Upstream, size: int, pg_url: str) -> Outcome:
    """PostgreSQL goes away (connections cut, new ones refused) and comes back, twice."""
    from urllib.parse import urlsplit

    from tests.conftest import pg_url_via

    from .faults import StallingProxy

    outcome = Outcome("PostgreSQL stopped and started, mid-stream")
    parts = urlsplit(pg_url)
    with StallingProxy(parts.hostname, parts.port or 5432) as proxy:
        url = pg_url_via(pg_url, "127.0.0.1", proxy.port)
        database = open_database(url)
        seed(Directory(database, DEFAULT_CATALOG))
        database.close_all()
        port = free_port()
        with serving(relay_process(url, folder, upstream, port), outcome), Watcher(port) as watcher:
            senders = Senders(lambda: port, tags("pg", size), seconds=size / RATE).start()
            while senders.running:
                time.sleep(0.3)
                proxy.cut()
                time.sleep(0.5)
                proxy.resume()
            senders.join()
            outcome.worst_reply = watcher.worst
            count_delivered(outcome, upstream, senders)
    return outcome


def upstream_trouble(folder: Path, upstream: Upstream, size: int, kind: str) -> Outcome:
    """The upstream hangs on DATA, flaps (down and up), or answers the final dot late."""
    outcome = Outcome(
        {
            "hanging": "upstream hanging for 2 s at a time",
            "flapping": "upstream flapping",
            "late": "upstream answering the final dot late",
        }[kind]
    )
    db = seeded_database(folder)
    port = free_port()
    if kind == "hanging":
        upstream.reply_data("451 4.3.0 gave up waiting", delay=2.0, times=max(3, size // 10))
    elif kind == "late":
        upstream.reply_data(None, delay=1.5, times=size // 4 or 1)
    with serving(relay_process(db, folder, upstream, port), outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags(kind, size), seconds=size / RATE).start()
        if kind == "flapping":
            while senders.running:
                time.sleep(0.3)
                upstream.stop()
                time.sleep(0.5)
                upstream.start()
        senders.join()
        outcome.worst_reply = watcher.worst
        upstream.clear_rules()
        count_delivered(outcome, upstream, senders, timeout=90)
    return outcome


def spool_full(folder: Path, upstream: Upstream, size: int) -> Outcome:
    """Writes to the spool fail past 256 KiB per file, as on a full disk: those senders get 451."""
    outcome = Outcome("spool disk full (writes fail past 256 KiB a file)")
    db = seeded_database(folder)
    port = free_port()
    process = relay_process(db, folder, upstream, port, limit_file_size=256 * 1024)
    with serving(process, outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags("full", size), tries=10, body=8000, seconds=size / RATE / 4).start()
        senders.join()
        outcome.worst_reply = watcher.worst
        count_delivered(outcome, upstream, senders)
    return outcome


def killed_in_a_loop(folder: Path, upstream: Upstream, size: int) -> Outcome:
    """kill -9 of the relay every few hundred milliseconds, restarted on the same spool and port."""
    db = seeded_database(folder)
    port = free_port()
    senders = Senders(lambda: port, tags("kill", size), tries=200, seconds=size / RATE)
    process = relay_process(db, folder, upstream, port).start()
    senders.start()
    rounds = 0
    try:
        while senders.running:
            time.sleep(0.2 + random.random() * 0.4)
            process.kill()
            rounds += 1
            process = relay_process(db, folder, upstream, port).start()
        senders.join()
    finally:
        process.stop()
    outcome = Outcome(f"kill -9 of the relay in a loop ({rounds} times)")
    with serving(relay_process(db, folder, upstream, port), outcome):
        count_delivered(outcome, upstream, senders)
    return outcome


# -- hostile input ------------------------------------------------------------------


def hostile_sessions(folder: Path, upstream: Upstream, inputs: list[bytes]) -> Outcome:
    """Raw sessions carrying ``inputs`` (fuzzed messages and junk) next to the billing app's tagged mail."""
    outcome = Outcome("hostile input: bare CR/LF, NUL, 8-bit, huge and many headers, pipelined junk")
    db = seeded_database(folder)
    port = free_port()
    with serving(relay_process(db, folder, upstream, port), outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags("hostile", max(20, len(inputs) // 5))).start()
        for data in inputs:
            try:
                session = RawSession(port, timeout=30)
                try:
                    if data.startswith(b"PIPELINE "):
                        session.sock.sendall(data[len(b"PIPELINE ") :])
                        session.sock.settimeout(2)
                        with contextlib.suppress(OSError):
                            while session.reader.readline():
                                pass
                    else:
                        session.send_message(SENDER.encode(), [ACME.encode()], data)
                finally:
                    session.close()
            except (OSError, ConnectionError, ValueError):
                pass  # the relay may close a session that misbehaves: that is allowed
        senders.join()
        outcome.worst_reply = watcher.worst
        count_delivered(outcome, upstream, senders)
    return outcome


# -- abuse -------------------------------------------------------------------------


def abuse(folder: Path, upstream: Upstream, tls_files, auth_file: Path, size: int) -> Outcome:
    """Password guessing, idle and slow clients and a connection flood from strangers, while mail flows."""
    outcome = Outcome("abuse: AUTH guessing, idle and slow clients, a connection flood")
    db = seeded_database(folder)
    port = free_port()
    extra = [
        "--allow",
        "127.0.0.1/32",
        "--auth-file",
        str(auth_file),
        "--tls-cert",
        str(tls_files.cert),
        "--tls-key",
        str(tls_files.key),
        "--max-connections",
        "40",
    ]
    with serving(relay_process(db, folder, upstream, port, *extra), outcome), Watcher(port) as watcher:
        senders = Senders(lambda: port, tags("abuse", size), seconds=size / RATE).start()
        stop = threading.Event()

        def guess(source: str) -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(source, 0)) as client:
                        client.ehlo("guesser.test")
                        client.starttls(context=tls_client(tls_files))
                        client.ehlo("guesser.test")
                        token = base64.b64encode(f"\0{USER}\0{PASSWORD}-wrong".encode()).decode()
                        client.docmd("AUTH", "PLAIN " + token)

        def idle_and_flood(source: str) -> None:
            held = []
            while not stop.is_set():
                with contextlib.suppress(OSError, ConnectionError):
                    held.append(RawSession(port, source=source, timeout=5))
                time.sleep(0.02)
            for session in held:
                with contextlib.suppress(OSError):
                    session.sock.close()

        def slow(source: str) -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError, ConnectionError):
                    session = RawSession(port, source=source, timeout=30)
                    for byte in b"EHLO slow.test\r\n":
                        session.sock.sendall(bytes([byte]))
                        time.sleep(0.05)
                        if stop.is_set():
                            break
                    session.sock.close()

        threads = [threading.Thread(target=guess, args=(f"127.0.0.{9 + n}",), daemon=True) for n in range(8)]
        threads += [threading.Thread(target=idle_and_flood, args=(f"127.0.1.{n}",), daemon=True) for n in range(4)]
        threads += [threading.Thread(target=slow, args=(f"127.0.2.{n}",), daemon=True) for n in range(4)]
        for thread in threads:
            thread.start()
        senders.join()
        stop.set()
        for thread in threads:
            thread.join(30)
        outcome.worst_reply = watcher.worst
        count_delivered(outcome, upstream, senders)
    return outcome


def fuzzed_inputs(count: int, seed_value: int = 7) -> list[bytes]:
    """Messages and sessions a broken or hostile client sends, built from a fixed seed."""
    rng = random.Random(seed_value)
    pieces = [
        b"\r",
        b"\n",
        b"\r\n",
        b"\x00",
        b"\xff\xfe",
        "ü".encode(),
        b".",
        b"\r\n.\r\n",
        b"\t",
        b" ",
        b"X-Notification-Category: billing",
        b"Cc: ",
        b"<",
        b">",
        b'"',
        b"(",
        b"=?utf-8?b?G1sySg==?=",
    ]
    inputs = []
    for n in range(count):
        kind = n % 5
        if kind == 0:  # random bytes in the header block
            head = b"".join(
                rng.choice(pieces) + bytes(rng.randrange(32, 127) for _ in range(rng.randrange(5)))
                for _ in range(rng.randrange(1, 40))
            )
            inputs.append(b"To: " + ACME.encode() + b"\r\n" + head + b"\r\n\r\nbody\r\n")
        elif kind == 1:  # many headers
            inputs.append(message(headers=[("Cc", f"x{i}@example.org") for i in range(rng.randrange(500, 3000))]))
        elif kind == 2:  # a huge header field, folded
            value = ",\r\n ".join(f"y{i}@example.org" for i in range(rng.randrange(1000, 8000)))
            inputs.append(message(headers=[("To", value)]))
        elif kind == 3:  # 8-bit without SMTPUTF8, NUL and bare line ends in the body
            inputs.append(message(body=bytes(rng.randrange(256) for _ in range(rng.randrange(50, 2000)))))
        else:  # pipelined junk
            junk = b"".join(
                rng.choice(
                    [
                        b"NOOP\r\n",
                        b"RSET\r\n",
                        b"MAIL FROM:<>\r\n",
                        b"RCPT TO:<>\r\n",
                        b"DATA\r\n",
                        b"\x00\xff\r\n",
                        b"HELO x\r\n",
                        b"BDAT 10\r\n",
                    ]
                )
                for _ in range(rng.randrange(10, 300))
            )
            inputs.append(b"PIPELINE " + b"EHLO junk.test\r\n" + junk + b"QUIT\r\n")
    return inputs
