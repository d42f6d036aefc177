"""A running relay for tests: a seeded directory, ``Relay`` on port 0, real clients.

The relay tests start the real ``Relay`` in the test's event loop, or
``contacts-relay serve`` as a process, against the recording upstream of
``helpers/upstream.py``. Nothing here sleeps for a fixed
time: waiting is polling with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.core.models import ALL_MODELS, RelayLog
from contacts_tui.core.records import ContactInput, CustomerInput
from relay import cli
from relay.app import Relay
from relay.config import RelayConfig

from ...waiting import poll, wait_until

ROOT = Path(__file__).resolve().parents[3]
SWAKS = shutil.which("swaks")

ACME = "acme@customer.example"
BETA = "beta@customer.example"
QUIET = "quiet@customer.example"
UTF8_CUSTOMER = "kundin@bücher.example"
SENDER = "billing@shop.example"
USER, PASSWORD = "billing-app", "correct horse battery 9"  # in the auth_file fixture

# customer email -> (customer name, [(contact name, email, role, receive_all, categories)])
PEOPLE: dict[str, tuple[str, list[tuple[str, str, str, bool, tuple[str, ...]]]]] = {
    ACME: (
        "ACME GmbH",
        [
            ("Jörg Buchhalter", "books@acme.example", "Bookkeeping", False, ("billing",)),
            ("Ina IT", "it@acme.example", "Technical", False, ("account",)),
            ("Mia Manager", "boss@acme.example", "Management", True, ()),
            ("Otto Optout", "otto@acme.example", "General", False, ()),
            ("Gert Gone", "gone@acme.example", "Billing", False, ("billing",)),
        ],
    ),
    BETA: (
        "Beta Ltd",
        [
            ("Bea Billing", "bea@beta.example", "Billing", False, ("billing",)),
            # The same person as at ACME: copied once when both customers match.
            ("Mia Manager", "boss@acme.example", "Management", False, ("billing",)),
        ],
    ),
    QUIET: (
        "Quiet Co",
        [
            ("Quentin Quiet", "q@quiet.example", "General", False, ("account",)),
        ],
    ),
    UTF8_CUSTOMER: (
        "Bücherstube Café",
        [
            ("Zoë Ünal", "zoë@bücher.example", "Bookkeeping", False, ("billing",)),
            ("Łukasz Żółć", "lukasz@buecher.example", "Management", False, ("billing",)),
            # ASCII but for the domain: without SMTPUTF8 it travels as ida@xn--bcher-kva.example.
            ("Ida Idn", "ida@bücher.example", "Billing", False, ("billing",)),
        ],
    ),
}

# Who a billing notification to ACME copies: opted in to billing, or receive-all.
ACME_BILLING = ["books@acme.example", "boss@acme.example", "gone@acme.example"]
ACME_ACCOUNT = ["it@acme.example", "boss@acme.example"]


def seed(directory: Directory) -> dict[tuple[str, str], int]:
    """Create the customers and contacts of PEOPLE; returns contact ids by (customer, contact email)."""
    ids: dict[tuple[str, str], int] = {}
    for customer_email, (name, contacts) in PEOPLE.items():
        customer = directory.create_customer(CustomerInput(name, customer_email))
        for contact_name, address, role, receive_all, categories in contacts:
            record = directory.add_contact(
                customer.id, ContactInput(contact_name, address, "", role, receive_all, frozenset(categories))
            )
            ids[(customer_email, address)] = record.id
    return ids


def relay_config(tmp_path: Path, upstream: Any = None, **changes: Any) -> RelayConfig:
    """A relay on a free loopback port with its spool in ``tmp_path`` and fast retries."""
    config = RelayConfig(
        listen_host="127.0.0.1",
        listen_port=0,
        upstreams=((upstream.host, upstream.port),) if upstream is not None else (),
        capture=upstream is None,
        spool=tmp_path / "spool",
        hostname="relay.test",
        upstream_tls="none",
        min_backoff=0.05,
        max_backoff=0.2,
    )
    return replace(config, **changes)


@contextlib.asynccontextmanager
async def running(config: RelayConfig, directory: Directory) -> AsyncIterator[Relay]:
    """The relay, started in this event loop and stopped afterwards."""
    relay = Relay(config, directory)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop(5)


# -- messages ------------------------------------------------------------------


def message(
    headers: Sequence[tuple[str, str]] | None = None,
    body: bytes = b"Your invoice INV-1 is attached.\r\n",
    *,
    to: str = ACME,
    category: str | None = "billing",
    subject: str = "Invoice INV-1",
    message_id: str | None = None,
) -> bytes:
    """A CRLF message: From, To, Subject, Message-ID, the category header, then ``headers``."""
    lines = [
        ("From", f"Shop Billing <{SENDER}>"),
        ("To", to),
        ("Subject", subject),
        ("Message-ID", message_id or f"<{time.time_ns()}@shop.example>"),
    ]
    if category is not None:
        lines.append(("X-Notification-Category", category))
    lines += list(headers or ())
    head = b"".join(f"{name}: {value}\r\n".encode() for name, value in lines)
    return head + b"\r\n" + body


def split(data: bytes) -> tuple[bytes, bytes]:
    """(header block with its last CRLF, body) of a CRLF message."""
    end = data.index(b"\r\n\r\n") + 2
    return data[:end], data[end + 2 :]


def header_lines(data: bytes) -> list[bytes]:
    """Header fields, each with its folded continuation lines, as raw bytes."""
    fields: list[bytes] = []
    for line in split(data)[0].split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def cc_of(data: bytes) -> list[str]:
    """Addresses in the Cc field(s), decoded, in order."""
    values = [str(v) for v in parsed(data).get_all("Cc") or []]
    return [address for _, address in getaddresses(values)]


def cc_names(data: bytes) -> dict[str, str]:
    values = [str(v) for v in parsed(data).get_all("Cc") or []]
    return {address: name for name, address in getaddresses(values)}


def without_trace(data: bytes) -> bytes:
    """The message minus the one Received field the relay put on top."""
    assert data.startswith(b"Received: "), data[:200]
    fields = header_lines(data)
    return data[len(fields[0]) + 2 :]


# -- clients -------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What an SMTP client got back for a message: the final reply's code and text."""

    code: int
    text: str

    @property
    def queue_id(self) -> str:
        found = re.search(r"queue id ([0-9A-F]+)|queued as ([0-9A-F]+)", self.text)
        assert found, self.text
        return found.group(1) or found.group(2)


def smtp_send(
    port: int,
    recipients: Sequence[str],
    data: bytes,
    *,
    sender: str = SENDER,
    mail_options: Sequence[str] = (),
    host: str = "127.0.0.1",
    timeout: float = 20,
) -> Answer:
    """One transaction with smtplib; the first refusal or the reply to DATA."""
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo("billing-app.test")
        code, text = client.mail(sender, list(mail_options))
        if code >= 400:
            return Answer(code, text.decode())
        for rcpt in recipients:
            code, text = client.rcpt(rcpt)
            if code >= 400:
                return Answer(code, text.decode())
        code, text = client.data(data)
        return Answer(code, text.decode())


async def send(port: int, recipients: Sequence[str], data: bytes, **options: Any) -> Answer:
    """smtplib in a thread, so the relay in this loop can answer."""
    return await asyncio.to_thread(smtp_send, port, recipients, data, **options)


async def aio_send(
    port: int,
    recipients: Sequence[str],
    data: bytes,
    *,
    sender: str = SENDER,
    mail_options: Sequence[str] = (),
) -> Answer:
    """One transaction with aiosmtplib, in this loop."""
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="aio-client.test")
    async with client:
        errors, text = await client.sendmail(sender, list(recipients), data, mail_options=list(mail_options))
    assert not errors, errors
    return Answer(250, text)


async def swaks(port: int, recipients: Sequence[str], data: bytes, tmp_path: Path, *, sender: str = SENDER) -> Answer:
    """Send ``data`` with the swaks command; its last 250 (or failing) reply."""
    assert SWAKS is not None
    file = tmp_path / f"swaks-{time.time_ns()}.eml"
    # swaks ends the data with CRLF "." CRLF itself, after whatever the file holds.
    file.write_bytes(data[:-2] if data.endswith(b"\r\n") else data)
    process = await asyncio.create_subprocess_exec(
        SWAKS,
        "--server",
        f"127.0.0.1:{port}",
        "--from",
        sender,
        "--to",
        ",".join(recipients),
        "--data",
        f"@{file}",
        "--helo",
        "swaks.test",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    transcript = out.decode("utf-8", "replace")
    replies = re.findall(r"^(?:<-|<\*\*)\s+(\d{3})[ -](.*)$", transcript, re.MULTILINE)
    code, text = replies[-2] if replies and replies[-1][0] == "221" else replies[-1]
    return Answer(int(code), text)


# -- waiting and the relay log -----------------------------------------------------


async def logged(queue_id: str, status: str | Iterable[str] = "delivered", timeout: float = 10.0):
    """The relay-log row of ``queue_id`` once it has ``status``."""
    wanted = {status} if isinstance(status, str) else set(status)

    def check():
        row = relay_log.log_for_queue_id(queue_id)
        return row if row is not None and row.status in wanted else None

    return await wait_until(check, timeout, lambda: relay_log.log_for_queue_id(queue_id))


def run_cli(capsys, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``contacts-relay ARGV`` in this process: (exit code, stdout, stderr).

    The command opens the database itself, which binds the models to its own
    connection; afterwards they go back to the test's, and the command's
    connections are closed.
    """
    before = RelayLog._meta.database
    capsys.readouterr()
    saved_stdin = sys.stdin
    if stdin is not None:
        import io

        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    try:
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = saved_stdin
        after = RelayLog._meta.database
        if after is not before and after is not None:
            (getattr(after, "close_all", None) or after.close)()
            if before is not None:
                before.bind(ALL_MODELS, bind_refs=False, bind_backrefs=False)
    out, err = capsys.readouterr()
    return code, out, err


def log_json(capsys, db_url: str, *args: str) -> list[dict]:
    code, out, err = run_cli(capsys, "log", "--json", "--db", db_url, *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# -- the relay as a process --------------------------------------------------------


class RelayProcess:
    """``contacts-relay serve`` in a child process; the port is read from its first line."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None, *, preexec=None) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.preexec = preexec  # run in the child before the relay starts (e.g. a resource limit)
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 20.0) -> RelayProcess:
        command = [sys.executable, "-m", "relay.cli", "serve", *self.args]
        self._lines: list[str] = []
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, preexec_fn=self.preexec
        )
        stream = self.process.stderr
        assert stream is not None

        def listening() -> bool:
            line = stream.readline().decode("utf-8", "replace")
            if not line:
                raise AssertionError(f"the relay exited ({self.process.wait()}): {self.output}")
            self._lines.append(line)
            found = re.search(r"listening on [^ ]+:(\d+)", line)
            if found:
                self.port = int(found.group(1))
            return bool(found)

        poll(listening, timeout, lambda: f"the relay did not start: {self.output}", interval=0)
        # Keep reading stderr so that the child never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_rest, args=(stream,), daemon=True)
        self._drain.start()
        return self

    def _read_rest(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._lines.append(raw.decode("utf-8", "replace"))

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self._drain.join(5)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.terminate()
        code = self.process.wait(timeout)
        self._drain.join(5)
        return code

    def send_signal(self, signum: int) -> None:
        """Signal the relay without waiting for it (SIGTERM: it drains first)."""
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        """The exit code, once the relay has exited and its output is read."""
        assert self.process is not None
        code = self.process.wait(timeout)
        self._drain.join(5)
        return code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def raw_session(port: int, data: bytes) -> list[tuple[int, str]]:
    """EHLO, MAIL, RCPT, DATA with ``data`` sent as is, "." and QUIT; every reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reader = sock.makefile("rb")

        def reply() -> tuple[int, str]:
            lines = []
            while True:
                line = reader.readline().decode()
                lines.append(line.rstrip())
                if len(line) < 4 or line[3] != "-":
                    return int(line[:3]), "\n".join(lines)

        replies = [reply()]
        for command in (b"EHLO raw.test", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{ACME}>".encode(), b"DATA"):
            sock.sendall(command + b"\r\n")
            replies.append(reply())
        sock.sendall(data + b".\r\n")
        replies.append(reply())
        sock.sendall(b"QUIT\r\n")
        replies.append(reply())
        return replies


class RawSession:
    """An SMTP session over a plain socket, bytes exactly as given: what a client
    library would clean up (bare CR, raw 8-bit, NUL) reaches the relay as is."""

    def __init__(self, port: int, *, source: str | None = None, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0) if source else None
        )
        self.reader = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = self.reader.readline()
            if not line:
                raise ConnectionError("the relay closed the connection")
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def command(self, line: bytes) -> tuple[int, str]:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def send_message(self, sender: bytes, recipients: Sequence[bytes], data: bytes) -> list[tuple[int, str]]:
        """EHLO (once), MAIL, RCPT each, DATA and the message with its final dot; every reply."""
        replies = [self.command(b"EHLO raw.test")] if not getattr(self, "_greeted", False) else []
        self._greeted = True
        replies.append(self.command(b"MAIL FROM:<" + sender + b">"))
        replies += [self.command(b"RCPT TO:<" + rcpt + b">") for rcpt in recipients]
        replies.append(self.command(b"DATA"))
        if replies[-1][0] == 354:
            self.sock.sendall(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
            replies.append(self.reply())
        return replies

    def starttls(self, context: ssl.SSLContext) -> None:
        """EHLO, STARTTLS, and EHLO again over TLS (what a client does before AUTH)."""
        code, text = self.command(b"EHLO raw.test")
        assert code == 250, text
        code, text = self.command(b"STARTTLS")
        assert code == 220, text
        self.reader.close()
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.reader = self.sock.makefile("rb")
        code, text = self.command(b"EHLO raw.test")
        assert code == 250, text
        self._greeted = True

    def auth_plain(self, user: str, password: str) -> tuple[int, str]:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {token}".encode())

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.reply()
        except OSError:
            pass
        self.reader.close()
        self.sock.close()


def tls_client(tls_files) -> ssl.SSLContext:
    """A client context that trusts the test certificate (``tls_files``)."""
    return ssl.create_default_context(cafile=str(tls_files.cert))


def worst_reply_time(port: int, done: threading.Event | asyncio.Event) -> float:
    """Another client's view while something else happens: EHLO after EHLO
    (not junk, so never cut off) until ``done``; the slowest reply in seconds."""
    session = RawSession(port)
    worst = 0.0
    try:
        while not done.is_set():
            started = time.monotonic()
            code, text = session.command(b"EHLO watcher.test")
            assert code == 250, text
            worst = max(worst, time.monotonic() - started)
    finally:
        session.close()
    return worst
