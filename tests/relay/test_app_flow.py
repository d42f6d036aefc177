"""The relay as a sender sees it: real clients in, the recording upstream out.

Each test starts the real ``Relay`` on a free loopback port in the test's loop,
with a seeded directory (SQLite; the main test also PostgreSQL), sends with
smtplib, aiosmtplib or swaks, and checks what reached the upstream — envelope,
header block, body bytes — and what the relay log says about it.
"""

from __future__ import annotations

import os
from email.message import EmailMessage

import pytest

from contacts_tui.core.mail import relay_log

from .helpers import (
    ACME,
    ACME_ACCOUNT,
    ACME_BILLING,
    QUIET,
    SENDER,
    SWAKS,
    UTF8_CUSTOMER,
    aio_send,
    cc_names,
    cc_of,
    header_lines,
    log_json,
    logged,
    message,
    parsed,
    relay_config,
    run_cli,
    running,
    seed,
    send,
    split,
    swaks,
    without_trace,
)

BODY = (
    b"Dear customer,\r\n\r\n"
    b"your invoice INV-2026-0042 over EUR 120.00 is attached.\r\n"
    b".a line that starts with a dot\r\n"
    b"..and one with two\r\n"
    b"\r\n"
    b"Kind regards\r\n"
)


@pytest.fixture
async def running_relay(sqlite_directory, people, upstream, tmp_path):
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        yield relay


def _others(data: bytes) -> list[bytes]:
    """Header fields other than the relay's Received trace and Cc."""
    return [f for f in header_lines(data)[1:] if not f.lower().startswith(b"cc:")]


async def test_billing_notification_reaches_the_upstream_with_exactly_the_opted_in_contacts(
    directory, db_url, upstream, tmp_path, capsys
):
    seed(directory)
    original = message(body=BODY, subject="Your invoice INV-2026-0042", message_id="<inv-42@shop.example>")
    async with running(relay_config(tmp_path, upstream), directory) as relay:
        if SWAKS:
            reply = await swaks(relay.port, [ACME], original, tmp_path)
        else:
            reply = await send(relay.port, [ACME], original)
        assert reply.code == 250, reply
        [got] = await upstream.wait_for(1)
        await logged(reply.queue_id, "delivered")

    assert got.sender == SENDER
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    assert sorted(cc_of(got.data)) == sorted(ACME_BILLING)
    assert cc_names(got.data)["books@acme.example"] == "Jörg Buchhalter"
    header, body = split(got.data)
    assert body == split(original)[1]
    assert header.isascii(), "display names must be encoded in an ASCII message"
    assert _others(got.data) == header_lines(original)
    assert header_lines(got.data)[0].startswith(b"Received: from swaks.test" if SWAKS else b"Received: from ")

    [row] = log_json(capsys, db_url, "--limit", "1")
    assert row["queue_id"] == reply.queue_id
    assert row["message_id"] == "<inv-42@shop.example>"
    assert row["subject"] == "Your invoice INV-2026-0042"
    assert row["sender"] == SENDER and row["recipients"] == [ACME]
    assert (row["category"], row["category_key"], row["customers"]) == ("billing", "billing", [ACME])
    assert row["decision"] == "rewritten"
    assert "opted in to billing" in row["reason"]
    assert sorted(a["email"] for a in row["added"]) == sorted(ACME_BILLING)
    assert {a["email"]: a["reason"] for a in row["added"]}["boss@acme.example"] == "receives all notifications"
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["delivered_at"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("billing", ACME_BILLING),
        ("invoice.created", ACME_BILLING),
        ("BiLLinG", ACME_BILLING),
        ("Payment.Reminder", ACME_BILLING),
        ("account", ACME_ACCOUNT),
        ("ORDER.confirmed", ACME_ACCOUNT),
    ],
)
async def test_category_and_type_keys_in_any_case(running_relay, upstream, value, expected):
    original = message(category=value)
    reply = await aio_send(running_relay.port, [ACME], original)
    [got] = await upstream.wait_for(1)
    assert sorted(got.recipients) == sorted([ACME, *expected])
    assert sorted(cc_of(got.data)) == sorted(expected)
    row = await logged(reply.queue_id)
    key = "billing" if expected is ACME_BILLING else "account"
    assert (row.category, row.category_key, row.decision) == (value, key, "rewritten")


async def test_an_existing_cc_is_merged_into_one_field(running_relay, upstream):
    original = message([("Cc", "Office <office@acme.example>, Jörg <books@acme.example>")])
    original = original.replace("Jörg".encode(), b"Joerg")
    # The office is not in the directory: were it a recipient, it would get a copy of its own.
    await send(running_relay.port, [ACME, "books@acme.example"], original)
    [got] = await upstream.wait_for(1)
    assert len(parsed(got.data).get_all("Cc")) == 1
    cc = cc_of(got.data)
    assert cc[:2] == ["office@acme.example", "books@acme.example"]
    assert sorted(cc[2:]) == ["boss@acme.example", "gone@acme.example"]
    assert sorted(got.recipients) == sorted([ACME, "books@acme.example", "boss@acme.example", "gone@acme.example"])
    assert split(got.data)[1] == split(original)[1]


async def test_a_contact_already_in_to_is_not_copied_again(running_relay, upstream):
    original = message(to=f"ACME <{ACME}>, Joerg <books@acme.example>")
    reply = await send(running_relay.port, [ACME, "books@acme.example"], original)
    [got] = await upstream.wait_for(1)
    assert sorted(cc_of(got.data)) == ["boss@acme.example", "gone@acme.example"]
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    row = await logged(reply.queue_id)
    assert "books@acme.example not added: already in To" in row.reason


async def test_opted_out_and_soft_deleted_contacts_are_not_copied_and_a_deletion_counts_at_once(
    running_relay, upstream, sqlite_directory, people
):
    await send(running_relay.port, [ACME], message(subject="first"))
    [first] = await upstream.wait_for(1)
    assert "otto@acme.example" not in first.recipients  # opted in to nothing
    assert "gone@acme.example" in first.recipients

    sqlite_directory.delete_contact(people[(ACME, "gone@acme.example")])
    await send(running_relay.port, [ACME], message(subject="second"))
    second = (await upstream.wait_for(2))[1]
    assert sorted(second.recipients) == sorted([ACME, "books@acme.example", "boss@acme.example"])
    assert "gone@acme.example" not in cc_of(second.data)

    sqlite_directory.undelete_contact(people[(ACME, "gone@acme.example")])
    await send(running_relay.port, [ACME], message(subject="third"))
    third = (await upstream.wait_for(3))[2]
    assert "gone@acme.example" in third.recipients


async def test_an_inactive_customer_gets_nobody_copied(running_relay, upstream, sqlite_directory):
    customer = sqlite_directory.find_customer(ACME)
    sqlite_directory.set_customer_active(customer.id, False)
    original = message()
    reply = await send(running_relay.port, [ACME], original)
    [got] = await upstream.wait_for(1)
    assert got.recipients == (ACME,)
    assert without_trace(got.data) == original
    row = await logged(reply.queue_id)
    # The one real cause: ACME's contacts are opted in to billing, and the customer is inactive.
    assert row.decision == "unchanged"
    assert row.reason == "customer ACME GmbH <acme@customer.example> is inactive: no contact persons added"


async def test_notes_never_reach_a_relayed_message_or_the_relay_log(running_relay, upstream, sqlite_directory):
    from dataclasses import replace

    from contacts_tui.core.records import CustomerInput

    acme = sqlite_directory.find_customer(ACME)
    sqlite_directory.update_customer(acme.id, CustomerInput(acme.name, acme.email, notes="NOTE-OF-THE-CUSTOMER"))
    books = next(c for c in sqlite_directory.list_contacts(acme.id) if c.email == "books@acme.example")
    sqlite_directory.update_contact(books.id, replace(books.as_input(), notes="NOTE-OF-THE-CONTACT"))
    reply = await send(running_relay.port, [ACME], message())
    [got] = await upstream.wait_for(1)
    assert "books@acme.example" in got.recipients
    assert b"NOTE-OF" not in got.data
    row = await logged(reply.queue_id)
    assert "NOTE-OF" not in repr(row)


async def test_an_unknown_category_is_not_summarised_as_no_customer(running_relay, upstream, capsys, sqlite_url):
    from contacts_tui.ui.mailformat import log_fields

    reply = await send(running_relay.port, [ACME], message(category="invoice.lost"))
    await upstream.wait_for(1)
    row = await logged(reply.queue_id)
    assert row.reason == "unknown notification category 'invoice.lost'"
    code, out, _ = run_cli(capsys, "log", "--limit", "1", "--db", sqlite_url)
    assert code == 0 and "no customer matched" not in out
    assert "unknown notification category 'invoice.lost'" in out
    assert dict(log_fields(row))["Customers"] == "not looked up"


@pytest.mark.parametrize(
    ("recipient", "category", "reason"),
    [
        (ACME, "nonsense.category", "unknown notification category 'nonsense.category'"),
        (ACME, None, "no notification category header"),
        ("stranger@elsewhere.example", "billing", "no recipient is a customer's primary email"),
        (QUIET, "billing", "nobody at Quiet Co is opted in to billing"),
    ],
    ids=["unknown-category", "no-header", "no-customer", "nobody-opted-in"],
)
async def test_what_is_not_for_contacts_passes_unchanged_but_for_the_trace(
    running_relay, upstream, capsys, sqlite_url, recipient, category, reason
):
    original = message(to=recipient, category=category, body=BODY)
    reply = await send(running_relay.port, [recipient], original)
    [got] = await upstream.wait_for(1)
    assert got.recipients == (recipient,)
    assert without_trace(got.data) == original
    await logged(reply.queue_id)
    [row] = log_json(capsys, sqlite_url, "--limit", "1")
    assert row["decision"] == "unchanged"
    assert row["reason"].startswith(reason)
    assert row["added"] == [] and row["status"] == "delivered"


async def test_non_ascii_names_and_an_smtputf8_address(running_relay, upstream):
    original = message(to=f"Bücherstube Café <{UTF8_CUSTOMER}>", subject="Rechnung für März")
    reply = await aio_send(running_relay.port, [UTF8_CUSTOMER], original, mail_options=["SMTPUTF8"])
    [got] = await upstream.wait_for(1)
    assert sorted(got.recipients) == sorted(
        [UTF8_CUSTOMER, "zoë@bücher.example", "lukasz@buecher.example", "ida@bücher.example"]
    )
    assert "SMTPUTF8" in [o.upper() for o in got.mail_options]
    names = cc_names(got.data)
    assert names == {
        "zoë@bücher.example": "Zoë Ünal",
        "lukasz@buecher.example": "Łukasz Żółć",
        "ida@bücher.example": "Ida Idn",
    }
    assert split(got.data)[1] == split(original)[1]
    assert _others(got.data) == header_lines(original)
    row = await logged(reply.queue_id)
    assert [a.name for a in row.added] == ["Zoë Ünal", "Łukasz Żółć", "Ida Idn"]


async def test_an_ascii_client_writing_the_domain_as_xn_matches_and_the_relay_turns_on_smtputf8(
    running_relay, upstream
):
    ascii_form = "kundin@xn--bcher-kva.example"
    original = message(to=ascii_form)
    await send(running_relay.port, [ascii_form], original)
    [got] = await upstream.wait_for(1)
    assert "zoë@bücher.example" in got.recipients
    assert "SMTPUTF8" in [o.upper() for o in got.mail_options]


async def test_an_8bit_body_is_passed_on_byte_for_byte(running_relay, upstream):
    body = (
        "Grüße aus Köln — €120,00 fällig.\r\n".encode()
        + b"latin-1: \xe4\xf6\xfc\xff\r\n"
        + bytes(range(0x80, 0x100))
        + b"\r\n"
    )
    original = message([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")], body)
    await send(running_relay.port, [ACME], original, mail_options=["BODY=8BITMIME"])
    [got] = await upstream.wait_for(1)
    assert split(got.data)[1] == body
    assert "BODY=8BITMIME" in [o.upper() for o in got.mail_options]


async def test_a_multipart_message_with_an_attachment_is_unchanged_byte_for_byte(running_relay, upstream):
    notification = EmailMessage()
    notification["From"] = f"Shop Billing <{SENDER}>"
    notification["To"] = f"ACME <{ACME}>"
    notification["Subject"] = "Invoice INV-7 (PDF attached)"
    notification["Message-ID"] = "<inv-7@shop.example>"
    notification["X-Notification-Category"] = "invoice.created"
    notification.set_content("Your invoice is attached.\n")
    notification.add_alternative("<p>Your invoice is <b>attached</b>.</p>\n", subtype="html")
    pdf = b"%PDF-1.4\n" + os.urandom(50_000) + b"\n%%EOF\n"
    notification.add_attachment(pdf, maintype="application", subtype="pdf", filename="INV-7.pdf")
    original = notification.as_bytes(policy=notification.policy.clone(linesep="\r\n"))

    await aio_send(running_relay.port, [ACME], original)
    [got] = await upstream.wait_for(1)
    assert split(got.data)[1] == split(original)[1]
    assert _others(got.data) == header_lines(original)
    [attachment] = [p for p in parsed(got.data).iter_attachments()]
    assert attachment.get_filename() == "INV-7.pdf"
    assert attachment.get_content() == pdf


async def test_a_log_row_is_written_for_every_message_in_order(running_relay, upstream):
    replies = [await send(running_relay.port, [ACME], message(subject=f"n{i}")) for i in range(5)]
    await upstream.wait_for(5)
    for reply in replies:
        await logged(reply.queue_id)
    rows = relay_log.recent_log(5)
    assert [r.queue_id for r in rows] == [r.queue_id for r in reversed(replies)]
    assert [r.subject for r in rows] == [f"n{i}" for i in reversed(range(5))]


async def test_a_large_attachment_arrives_intact(running_relay, upstream):
    notification = EmailMessage()
    notification["From"] = f"Shop Billing <{SENDER}>"
    notification["To"] = ACME
    notification["Subject"] = "Your yearly statement"
    notification["X-Notification-Category"] = "billing"
    notification.set_content("The statement is attached.\n")
    archive = os.urandom(6 * 1024 * 1024)
    notification.add_attachment(archive, maintype="application", subtype="zip", filename="statement.zip")
    original = notification.as_bytes(policy=notification.policy.clone(linesep="\r\n"))
    assert len(original) > 8_000_000

    reply = await aio_send(running_relay.port, [ACME], original)
    [got] = await upstream.wait_for(1, timeout=30)
    assert split(got.data)[1] == split(original)[1]
    assert [p.get_content() for p in parsed(got.data).iter_attachments()] == [archive]
    row = await logged(reply.queue_id)
    assert row.size == len(original)
