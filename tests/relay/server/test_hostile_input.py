"""Hostile and broken input over raw SMTP: refused with a clear reply at once, or read
exactly as the upstream will read it; never a stall, a poison message or a lost contact.

Raw sockets, because a client library would clean up what these tests send.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contacts_tui.core.mail import relay_log

from ..helpers import (
    ACME,
    ACME_BILLING,
    SENDER,
    RawSession,
    cc_of,
    logged,
    message,
    parsed,
    relay_config,
    running,
    worst_reply_time,
)

ACME_RCPT = (ACME.encode(),)


def _session_messages(port: int, *messages: bytes, recipients=ACME_RCPT) -> list[list[tuple[int, str]]]:
    session = RawSession(port)
    try:
        return [session.send_message(SENDER.encode(), recipients, data) for data in messages]
    finally:
        session.close()


async def test_a_sender_that_is_not_utf8_is_refused_at_mail_and_nothing_is_queued(
    sqlite_directory, people, upstream, tmp_path
):
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        session = await asyncio.to_thread(RawSession, relay.port)
        try:
            ehlo = await asyncio.to_thread(session.command, b"EHLO raw.test")
            mail = await asyncio.to_thread(session.command, b"MAIL FROM:<\xff\xfe@b.example>")
            control = await asyncio.to_thread(session.command, b"MAIL FROM:<a\x01b@b.example>")
        finally:
            await asyncio.to_thread(session.close)
        assert relay.scheduler.queued == 0
    assert ehlo[0] == 250
    assert mail == (553, "553 5.1.7 The sender address is not valid UTF-8")
    assert control == (553, "553 5.1.7 The sender address contains a control character")


async def test_recipients_that_could_only_bounce_are_refused_at_rcpt(
    sqlite_directory, people, upstream, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        session = await asyncio.to_thread(RawSession, relay.port)
        try:
            await asyncio.to_thread(session.command, b"EHLO raw.test")
            await asyncio.to_thread(session.command, f"MAIL FROM:<{SENDER}>".encode())
            null = await asyncio.to_thread(session.command, b"RCPT TO:<>")
            not_utf8 = await asyncio.to_thread(session.command, b"RCPT TO:<\xff@acme.example>")
            bare_cr = await asyncio.to_thread(session.command, b"RCPT TO:<x\r@acme.example>")
            good = await asyncio.to_thread(session.command, f"RCPT TO:<{ACME}>".encode())
        finally:
            await asyncio.to_thread(session.close)
    assert null[0] == 553 and "<> cannot be a recipient" in null[1]
    assert not_utf8 == (553, "553 5.1.3 The recipient address is not valid UTF-8")
    assert bare_cr == (553, "553 5.1.3 The recipient address contains a control character")
    assert good[0] == 250
    assert "\r" not in caplog.text


async def test_thousands_of_cc_fields_are_refused_and_other_sessions_go_on(
    sqlite_directory, people, upstream, tmp_path
):
    flood = message(headers=[("Cc", f"p{n}@example.org") for n in range(80_000)])
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        done = asyncio.Event()

        watcher = asyncio.create_task(asyncio.to_thread(worst_reply_time, relay.port, done))
        started = time.monotonic()
        [replies] = await asyncio.to_thread(_session_messages, relay.port, flood)
        took = time.monotonic() - started
        done.set()
        slowest = await watcher
    assert replies[-1][0] == 552
    assert "Too many header fields (80,00" in replies[-1][1]
    assert took < 10
    assert slowest < 1.0, f"another session waited {slowest:.2f} s for a reply"
    [entry] = [e for e in relay_log.recent_log(5) if e.status == "refused"]
    assert "Too many header fields" in entry.reason


async def test_one_enormous_header_field_is_refused_with_its_size(sqlite_directory, people, upstream, tmp_path):
    folded = ",\r\n ".join(f"p{n}@example.org" for n in range(20_000))
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        [replies] = await asyncio.to_thread(_session_messages, relay.port, message(headers=[("Cc", folded)]))
    assert replies[-1][0] == 552 and "Header field Cc too long" in replies[-1][1]


async def test_many_cc_fields_within_the_limits_merge_in_linear_time(sqlite_directory, people, upstream, tmp_path):
    many = message(headers=[("Cc", f"p{n}@example.org") for n in range(900)])
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        started = time.monotonic()
        [replies] = await asyncio.to_thread(_session_messages, relay.port, many)
        took = time.monotonic() - started
        [got] = await upstream.wait_for(1)
    assert replies[-1][0] == 250 and took < 5
    cc = cc_of(got.data)
    assert cc[:900] == [f"p{n}@example.org" for n in range(900)] and sorted(cc[900:]) == sorted(ACME_BILLING)
    assert got.data.count(b"\r\nCc:") == 1


async def test_a_category_after_a_bare_cr_counts_as_the_upstream_reads_it(sqlite_directory, people, upstream, tmp_path):
    # The upstream gets CRLF line ends, so a bare CR starts a header line there.
    sneaky = message(category=None, subject="Invoice\rX-Notification-Category: billing")
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        [replies] = await asyncio.to_thread(_session_messages, relay.port, sneaky)
        [got] = await upstream.wait_for(1)
        entry = await logged(replies[-1][1].split()[-1])
    assert replies[-1][0] == 250
    assert b"Subject: Invoice\r\nX-Notification-Category: billing\r\n" in got.data
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    assert entry.decision == "rewritten"


async def test_contacts_never_land_in_a_bcc_hidden_behind_a_bare_cr(sqlite_directory, people, upstream, tmp_path):
    sneaky = message(headers=[("Cc", "z@x.example\rBcc: hidden@evil.example")])
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        await asyncio.to_thread(_session_messages, relay.port, sneaky)
        [got] = await upstream.wait_for(1)
    fields = parsed(got.data)
    assert fields["Bcc"] == "hidden@evil.example"
    assert sorted(cc_of(got.data)) == sorted(["z@x.example", *ACME_BILLING])


async def test_an_unclosed_cc_is_left_alone_and_the_contacts_go_in_the_envelope(
    sqlite_directory, people, upstream, tmp_path
):
    broken = message(headers=[("Cc", "Bob <bob@example.org")])
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        [replies] = await asyncio.to_thread(_session_messages, relay.port, broken)
        [got] = await upstream.wait_for(1)
        entry = await logged(replies[-1][1].split()[-1])
    assert b"\r\nCc: Bob <bob@example.org\r\n" in got.data
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    assert entry.decision == "envelope-only" and "Cc field is malformed" in entry.reason


async def test_a_line_too_long_is_refused_and_in_the_relay_log(sqlite_directory, people, upstream, tmp_path):
    long_line = message(body=b"x" * 5000 + b"\r\n")
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        [replies] = await asyncio.to_thread(_session_messages, relay.port, long_line)
    assert replies[-1][0] == 500 and "5.5.2 Line too long" in replies[-1][1]
    [entry] = relay_log.recent_log(5)
    assert entry.status == "refused" and "Line too long" in entry.reason and entry.sender == SENDER


# -- any bytes at all, over raw SMTP ---------------------------------------------------------

_LINE_END = st.sampled_from([b"\r\n", b"\n", b"\r"])
_JUNK = st.lists(
    st.sampled_from(
        [
            b"\x00",
            b"\r",
            b"\n",
            b"\xff\xfe",
            "ü".encode(),
            b"\t",
            b" ",
            b":",
            b"<",
            b'"',
            b"=?utf-8?b?G1sySg==?=",
            b"X-Notification-Category: account",
            b"Bcc: x@evil.example",
        ]
    ),
    max_size=6,
).map(b"".join)


@st.composite
def hostile_messages(draw) -> bytes:
    """A notification to ACME whose lines end any way and carry junk, and maybe no category at all."""
    fields = [
        b"From: billing@shop.example",
        b"To: " + ACME.encode(),
        b"Subject: Invoice " + draw(_JUNK),
        b"X-Junk: " + draw(_JUNK),
    ]
    if draw(st.booleans()):
        fields.insert(draw(st.integers(0, len(fields))), b"X-Notification-Category: billing")
    head = b"".join(field + draw(_LINE_END) for field in fields)
    return head + draw(_LINE_END) + b"Body " + draw(_JUNK) + b"\r\n"


@pytest.fixture(scope="module")
def capture_relay(tmp_path_factory):
    from contacts_tui.core.catalog import DEFAULT_CATALOG
    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.service import Directory
    from relay.app import RelayThread

    from ..helpers import seed

    folder = tmp_path_factory.mktemp("hostile")
    database = open_database(f"sqlite:///{folder / 'contacts.db'}")
    directory = Directory(database, DEFAULT_CATALOG)
    seed(directory)
    relay = RelayThread(relay_config(folder, capture_retention=100_000), directory).start()
    yield relay
    relay.stop()
    database.close()


def _first_known_category(header: bytes) -> bytes | None:
    """The first category field whose unfolded, stripped value is one ACME's contacts know."""
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", header)
    for line in unfolded.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if (
            colon
            and name.rstrip(b" \t").lower() == b"x-notification-category"
            and value.strip() in (b"billing", b"account")
        ):
            return value.strip()
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile_messages())
# A garbled category field in front of the real one (found by this test).
@example(
    data=b"From: billing@shop.example\r\nTo: acme@customer.example\r\nSubject: Invoice \r\n"
    b"X-Junk: \rX-Notification-Category: account\x00\r\nX-Notification-Category: billing\r\n\r\nBody \r\n"
)
def test_whatever_the_bytes_a_tagged_notification_never_loses_its_contacts(capture_relay, data):
    session = RawSession(capture_relay.port, timeout=10)
    try:
        replies = session.send_message(SENDER.encode(), [ACME.encode()], data)
        assert session.command(b"NOOP")[0] == 250  # and the session goes on
    finally:
        session.close()
    code, text = replies[-1]
    assert code in (250, 552), text
    if code != 250:
        return
    # What the upstream reads: every CR, LF or CRLF ends a line; the first empty line ends the header block.
    lines = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    header = lines.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    tagged = _first_known_category(header)
    captured = relay_log.captured_message(int(re.search(r"captured as (\d+)", text).group(1)))
    record, _, rewritten = captured
    if tagged == b"billing":
        assert set(ACME_BILLING) <= set(record.envelope), (data, record.envelope)
    elif not tagged:
        assert record.added == ()
    assert b"\r" not in rewritten.replace(b"\r\n", b"") and b"\n" not in rewritten.replace(b"\r\n", b"")
