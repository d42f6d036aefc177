"""`contacts-relay messages` against a capture relay: list, show, raw, clear, release, retention."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contacts_tui.core.mail import relay_log

from ...ui.helpers import Terminal, needs_tmux
from ...waiting import wait_until
from ..helpers import (
    ACME,
    ACME_BILLING,
    BETA,
    ROOT,
    SENDER,
    cc_of,
    log_json,
    message,
    raw_session,
    relay_config,
    run_cli,
    running,
    seed,
    send,
    split,
    without_trace,
)

BODY = b"Dear customer,\r\nyour invoice is attached.\r\n"


@pytest.fixture(autouse=True)
def utc(local_zone):
    """Times print in the local zone; these tests read them in UTC."""
    local_zone("UTC")


@pytest.fixture
async def captured(directory, tmp_path):
    """Two captured messages, to ACME (id 1) and to Beta (id 2); on SQLite and PostgreSQL."""
    seed(directory)
    first = message(subject="Invoice A-1", body=BODY, message_id="<a-1@shop.example>")
    second = message(to=BETA, subject="Reminder B-1", category="payment.reminder")
    async with running(relay_config(tmp_path), directory) as relay:
        replies = [await send(relay.port, [ACME], first), await send(relay.port, [BETA], second)]
    assert [r.code for r in replies] == [250, 250]
    assert "captured as 1" in replies[0].text
    return first, second


def messages(capsys, db_url, *args):
    code, out, err = run_cli(capsys, "messages", *args, "--db", db_url)
    assert code == 0, err
    return out


async def test_list_shows_the_newest_first_in_aligned_columns(captured, capsys, db_url):
    out = messages(capsys, db_url, "list")
    heading, second, first = out.splitlines()
    assert heading.split() == ["ID", "Time", "(UTC)", "From", "To", "Category", "Added", "Subject"]
    # The category as the TUI shows it: payment.reminder is a billing email.
    assert second.split()[0] == "2"
    assert second.split()[2:] == [SENDER, BETA, "billing", "+2", "cc", "Reminder", "B-1"]
    assert first.split()[0] == "1"
    assert first.split()[2:] == [SENDER, ACME, "billing", "+3", "cc", "Invoice", "A-1"]
    # Every column starts where its heading does.
    for name in ("From", "To", "Category", "Added", "Subject"):
        column = heading.index(name + " " if name != "Subject" else name)
        for line in (second, first):
            assert line[column - 2 : column] == "  " and line[column] != " ", (name, line)
    assert len(first) < 100
    assert messages(capsys, db_url) == out  # list is the default


async def test_list_searches_and_speaks_json(captured, capsys, db_url):
    rows = [json.loads(line) for line in messages(capsys, db_url, "list", "--json").splitlines()]
    assert [r["id"] for r in rows] == [2, 1]
    assert rows[1]["recipients"] == [ACME] and rows[1]["sender"] == SENDER
    assert sorted(a["email"] for a in rows[1]["added"]) == sorted(ACME_BILLING)

    def found(text):
        out = messages(capsys, db_url, "list", "--search", text, "--json")
        return [json.loads(line)["id"] for line in out.splitlines()]

    assert found("jörg") == [1]  # an added contact's name, any case
    assert found("bea@beta.example") == [2]
    assert found("A-1") == [1]
    assert found("billing invoice") == [1]
    assert found("nothing-like-this") == []
    assert messages(capsys, db_url, "list", "--search", "nothing-like-this") == "No captured messages match.\n"


async def test_search_by_category_finds_messages_tagged_with_its_email_types(
    captured, directory, tmp_path, capsys, db_url
):
    async with running(relay_config(tmp_path), directory) as relay:
        reply = await send(relay.port, [ACME], message(subject="Order 7", category="order.confirmed"))
    assert reply.code == 250

    def found(text):
        out = messages(capsys, db_url, "list", "--search", text, "--json")
        return [json.loads(line)["id"] for line in out.splitlines()]

    # The header said order.confirmed; the list shows its category, account.
    assert found("account") == [3]
    assert found("ACCOUNT order") == [3]
    assert found("order.confirmed") == [3]


async def test_show_summarises_who_was_added_and_why_with_the_header_diff(captured, capsys, db_url):
    out = messages(capsys, db_url, "show", "1")
    assert out.startswith("Message 1, received ")
    assert "From:     Shop Billing <billing@shop.example>" in out
    assert "To:       acme@customer.example" in out
    assert "Cc:       Jörg Buchhalter <books@acme.example>, " in out
    assert "Subject:  Invoice A-1" in out
    assert "Category: billing\n" in out
    assert f"Envelope: from {SENDER} to {ACME}, {', '.join(ACME_BILLING)}\n" in out
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out
    assert "  + Mia Manager <boss@acme.example>: receives all notifications" in out
    assert "Decision: rewritten: 3 contact person(s) of ACME GmbH opted in to billing" in out
    diff = out.split("Headers (+ added, - removed by the relay):\n", 1)[1].splitlines()
    assert diff[0].startswith("+ Received: from billing-app.test")
    assert [line for line in diff if line.startswith("+ Cc: ")]
    assert "  Subject: Invoice A-1" in diff
    assert not [line for line in diff if line.startswith("- ")]


async def test_show_names_the_category_of_an_email_type_and_why_nobody_was_added(directory, tmp_path, capsys, db_url):
    seed(directory)
    async with running(relay_config(tmp_path), directory) as relay:
        await send(relay.port, [ACME], message(subject="Overdue", category="invoice.overdue"))
        await send(relay.port, ["stranger@elsewhere.example"], message(to="stranger@elsewhere.example"))
    overdue = messages(capsys, db_url, "show", "1")
    assert "Category: invoice.overdue (category billing)\n" in overdue
    stranger = messages(capsys, db_url, "show", "2")
    assert "Added:    nobody (no recipient is a customer's primary email)\n" in stranger
    assert f"Envelope: from {SENDER} to stranger@elsewhere.example\n" in stranger


async def test_raw_is_the_rewritten_message_and_original_what_was_received(captured, capsysbinary, db_url):
    first, _ = captured
    code, raw, _ = run_cli(capsysbinary, "messages", "raw", "1", "--db", db_url)
    assert code == 0
    assert split(raw)[1] == BODY
    assert sorted(cc_of(raw)) == sorted(ACME_BILLING)
    code, original, _ = run_cli(capsysbinary, "messages", "raw", "1", "--original", "--db", db_url)
    assert original == first


async def test_release_sends_the_captured_message_on_to_a_real_server(captured, capsys, db_url, upstream):
    out = messages(capsys, db_url, "release", "1", "--to", f"127.0.0.1:{upstream.port}")
    assert out == f"Released message 1 to 127.0.0.1:{upstream.port} for 4 recipient(s).\n"
    [got] = await upstream.wait_for(1)
    assert got.sender == SENDER
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    code, raw, _ = run_cli(capsys, "messages", "raw", "1", "--db", db_url)
    assert got.data.decode() == raw
    assert without_trace(got.data) != captured[0]  # it is the rewritten one


async def test_a_release_is_in_the_relay_log(captured, capsys, db_url, upstream):
    messages(capsys, db_url, "release", "1", "--to", f"127.0.0.1:{upstream.port}")
    await upstream.wait_for(1)
    newest = log_json(capsys, db_url)[0]
    assert (newest["decision"], newest["status"], newest["subject"]) == ("released", "delivered", "Invoice A-1")
    assert newest["reason"].startswith(f"captured message 1 released to 127.0.0.1:{upstream.port}")
    assert sorted(newest["recipients"]) == sorted([ACME, *ACME_BILLING])
    assert newest["customers"] == [ACME] and newest["delivered_at"]


async def capture_one(directory, tmp_path, data: bytes, **options) -> None:
    seed(directory)
    async with running(relay_config(tmp_path), directory) as relay:
        assert (await send(relay.port, [ACME], data, **options)).code == 250


async def test_release_of_utf8_headers_asks_for_smtputf8_and_8bitmime(directory, tmp_path, capsys, db_url, upstream):
    await capture_one(directory, tmp_path, message(subject="Rechnung für März"), mail_options=["SMTPUTF8"])
    messages(capsys, db_url, "release", "1", "--to", f"127.0.0.1:{upstream.port}")
    [got] = await upstream.wait_for(1)
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(got.mail_options)
    assert "Subject: Rechnung für März\r\n" in got.data.decode()


async def test_release_of_an_8bit_body_asks_for_8bitmime_only(directory, tmp_path, capsys, db_url, upstream):
    await capture_one(directory, tmp_path, message(body="Grüße\r\n".encode()), mail_options=["BODY=8BITMIME"])
    messages(capsys, db_url, "release", "1", "--to", f"127.0.0.1:{upstream.port}")
    [got] = await upstream.wait_for(1)
    assert "BODY=8BITMIME" in got.mail_options and "SMTPUTF8" not in got.mail_options
    assert got.data.endswith("Grüße\r\n".encode())


async def test_release_of_utf8_headers_to_a_server_without_smtputf8_fails_clearly(
    directory, tmp_path, capsys, db_url, make_upstream
):
    plain = make_upstream(smtputf8=False)
    await capture_one(directory, tmp_path, message(subject="Rechnung für März"), mail_options=["SMTPUTF8"])
    code, out, err = run_cli(capsys, "messages", "release", "1", "--to", f"127.0.0.1:{plain.port}", "--db", db_url)
    assert (code, out) == (1, "")
    assert err == (
        f"contacts-relay: error: 127.0.0.1:{plain.port} did not take message 1: "
        f"5.6.9 127.0.0.1:{plain.port} does not support SMTPUTF8, needed for the UTF-8 headers\n"
    )
    assert plain.messages == []
    newest = log_json(capsys, db_url)[0]
    assert (newest["decision"], newest["status"]) == ("released", "failed")
    assert "does not support SMTPUTF8" in newest["last_error"]


async def test_release_to_a_server_that_is_down_fails_with_a_reason(captured, capsys, db_url, upstream):
    upstream.stop()
    code, _, err = run_cli(capsys, "messages", "release", "1", "--to", f"127.0.0.1:{upstream.port}", "--db", db_url)
    assert code == 1
    assert f"127.0.0.1:{upstream.port} did not take message 1" in err


async def test_clear_deletes_every_captured_message_but_not_the_log(captured, capsys, db_url):
    assert messages(capsys, db_url, "clear", "--yes") == "Deleted 2 captured messages.\n"
    assert messages(capsys, db_url, "list") == "No captured messages.\n"
    assert len(relay_log.recent_log(10)) == 2
    code, _, err = run_cli(capsys, "messages", "show", "2", "--db", db_url)
    assert (code, err) == (1, "contacts-relay: error: there is no captured message 2 (no messages are stored now)\n")


async def test_clear_without_a_terminal_to_ask_on_wants_yes_and_deletes_nothing(captured, capsys, db_url):
    code, out, err = run_cli(capsys, "messages", "clear", "--db", db_url, stdin="y\n")
    assert (code, out) == (1, "")
    assert err == (
        "contacts-relay: error: messages clear would delete all 2 captured messages, and there is no terminal "
        "to ask on: give --yes to delete them without asking\n"
    )
    assert relay_log.count_captured() == 2


@needs_tmux
@pytest.mark.parametrize(("answer", "left", "said"), [("n", 2, "Nothing was deleted."), ("y", 0, "Deleted 2")])
async def test_clear_on_a_terminal_asks_first(captured, db_url, answer, left, said):
    relay = str(Path(sys.executable).with_name("contacts-relay"))
    terminal = Terminal(["sh", "-c", f"{relay} messages clear --db {db_url}; echo exit $?; sleep 60"], {})
    try:
        terminal.wait_for("Delete all 2 captured messages? They cannot be brought back. [y/N]")
        assert relay_log.count_captured() == 2
        terminal.type(answer)
        terminal.keys("Enter")
        screen = terminal.wait_for("exit ")
        assert said in screen and f"exit {1 if left else 0}" in screen
    finally:
        terminal.close()
    assert relay_log.count_captured() == left


@pytest.mark.parametrize("command", [["messages", "show", "1"], ["messages", "raw", "1"], ["log"]])
async def test_a_reader_that_stops_early_is_not_an_error(captured, db_url, command):
    # As `contacts-relay messages show 1 | head -3`: here the reader is gone
    # before the first line, so every write meets a closed pipe.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "relay.cli", *command, "--db", db_url],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            cwd=ROOT,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr.decode()) == (0, "")


async def test_ids_are_not_given_out_again_after_a_clear(captured, directory, tmp_path, capsys, db_url):
    messages(capsys, db_url, "clear", "--yes")
    async with running(relay_config(tmp_path), directory) as relay:
        reply = await send(relay.port, [ACME], message(subject="After the clear"))
    assert "captured as 3" in reply.text
    code, _, err = run_cli(capsys, "messages", "show", "1", "--db", db_url)
    assert code == 1
    assert (
        err
        == "contacts-relay: error: there is no captured message 1 (it may have been cleared or dropped by retention)\n"
    )


@pytest.mark.parametrize("action, number", [("show", "99"), ("raw", "0"), ("raw", "-1"), ("release", "3")])
async def test_an_id_never_given_out_is_an_error_that_names_the_newest(captured, capsys, db_url, action, number):
    extra = ["--to", "127.0.0.1:1"] if action == "release" else []
    code, out, err = run_cli(capsys, "messages", action, number, *extra, "--db", db_url)
    assert (code, out) == (1, "")
    assert err == f"contacts-relay: error: there is no captured message {number} (the newest is 2)\n"


async def test_retention_keeps_only_the_newest(sqlite_directory, tmp_path, capsys, sqlite_url):
    seed(sqlite_directory)
    async with running(relay_config(tmp_path, capture_retention=3), sqlite_directory) as relay:
        for n in range(5):
            assert (await send(relay.port, [ACME], message(subject=f"number {n}"))).code == 250
    rows = [json.loads(line) for line in messages(capsys, sqlite_url, "list", "--json").splitlines()]
    assert [r["subject"] for r in rows] == ["number 4", "number 3", "number 2"]
    code, _, err = run_cli(capsys, "messages", "show", "1", "--db", sqlite_url)
    assert code == 1 and "dropped by retention" in err
    # The relay log keeps every entry; only the stored messages are bounded.
    assert len(relay_log.recent_log(10)) == 5


async def test_a_message_with_lf_line_ends_shows_its_headers_not_its_body(
    sqlite_directory, tmp_path, capsys, sqlite_url
):
    seed(sqlite_directory)
    lf_message = (
        b"From: Shop <billing@shop.example>\nTo: acme@customer.example\nSubject: LF only\n"
        b"X-Notification-Category: billing\n\nfirst body line\r\n\r\nafter a CRLF pair\r\n"
    )
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        replies = await asyncio.to_thread(raw_session, relay.port, lf_message)
    assert replies[-2][0] == 250
    out = messages(capsys, sqlite_url, "show", "1")
    diff = out.split("Headers (+ added, - removed by the relay):\n", 1)[1]
    assert "first body line" not in diff
    assert "  Subject: LF only" in diff and "+ Cc: " in diff


async def test_a_capture_relay_whose_database_is_away_answers_451_and_captures_nothing_later(
    sqlite_directory, tmp_path, capsys, sqlite_url
):
    import sqlite3
    from urllib.parse import urlsplit

    seed(sqlite_directory)
    admin = sqlite3.connect(urlsplit(sqlite_url).path[1:], isolation_level=None)
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        relay.capture.timeout = 1.0
        admin.execute("ALTER TABLE captured_message RENAME TO captured_message_away")
        try:
            # No category: nothing to look up, so only the capture itself can fail.
            refused = await send(relay.port, [ACME], message(category=None, subject="while away"), timeout=30)
        finally:
            admin.execute("ALTER TABLE captured_message_away RENAME TO captured_message")
        again = await send(relay.port, [ACME], message(category=None, subject="sent again"), timeout=30)
        refusal = await wait_until(lambda: [r for r in relay_log.recent_log(10) if r.status == "refused"])
    assert refused.code == 451 and "could not be stored" in refused.text
    assert again.code == 250
    rows = [json.loads(line) for line in messages(capsys, sqlite_url, "list", "--json").splitlines()]
    assert [r["subject"] for r in rows] == ["sent again"]
    assert "did not take the message within 1 s" in refusal[0].reason


async def test_show_gives_the_envelope_as_the_relay_sent_it(directory, tmp_path, capsys, db_url):
    # A sender without SMTPUTF8: ida@bücher.example went out as ida@xn--bcher-kva.example.
    seed(directory)
    customer = "kundin@xn--bcher-kva.example"
    async with running(relay_config(tmp_path), directory) as relay:
        assert (await send(relay.port, [customer], message(to=customer))).code == 250
    [record] = relay_log.captured_messages(5)
    assert "ida@xn--bcher-kva.example" in record.envelope and "ida@bücher.example" not in record.envelope
    out = messages(capsys, db_url, "show", str(record.id))
    assert (
        f"Envelope: from {SENDER} to {customer}, " in out and "ida@xn--bcher-kva.example" in out.split("Envelope:")[1]
    )
