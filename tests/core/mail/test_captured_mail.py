"""Captured mail as the inbox reads it: MIME parts numbered as Mailpit numbers
them, the summary made at capture, the query words, read flags and deletes,
and messages of an older database given their summaries. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage

import pytest

from contacts_tui.core import migrate as migrations
from contacts_tui.core.db import open_database
from contacts_tui.core.mail import inbox, relay_log
from contacts_tui.core.mail.parts import body_of, parse
from contacts_tui.core.mail.query import condition, size_in_bytes, split_words, terms
from contacts_tui.core.mail.summary import summarize, summary_columns
from contacts_tui.core.mail.view import header_rows
from contacts_tui.core.models import CapturedMessage

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"%%EOF\n"
BEA = {
    "email": "bea@acme.example",
    "name": "Bea Bookman",
    "customer": "owner@acme.example",
    "reason": "opted in to billing",
}


def invoice(subject="Invoice INV-42", to="Acme Owner <owner@acme.example>", cc="", html=True, pdf=True) -> bytes:
    message = EmailMessage()
    message["From"] = "Billing Dept <billing@shop.example>"
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Reply-To"] = "help@shop.example"
    message["Subject"] = subject
    message["Message-ID"] = "<inv-42@shop.example>"
    message.set_content("Dear customer,\n\n  your   invoice is attached.\n")
    if html:
        message.add_alternative("<p>Dear <b>customer</b>,</p><p>your invoice.</p><img src='cid:logo@shop'>", "html")
        message.get_payload()[1].add_related(b"PNG", "image", "png", cid="<logo@shop>", disposition="inline")
    if pdf:
        message.add_attachment(PDF, "application", "pdf", filename="INV-42.pdf")
    return message.as_bytes()


def capture(data: bytes, *, added=(), category="", category_key="", received=None, recipients=("owner@acme.example",)):
    """A captured message written as the relay's capture store writes one."""
    return CapturedMessage.insert(
        received_at=received or dt.datetime(2026, 12, 5, 10, 0, 0),
        sender="billing@shop.example",
        recipients=json.dumps(list(recipients)),
        subject=summarize(data) and parse(data)["Subject"],
        message_id="<inv-42@shop.example>",
        category=category,
        category_key=category_key,
        added=json.dumps(list(added)),
        search_text=" ".join(["billing@shop.example", str(parse(data)["Subject"]), category, *recipients]).casefold(),
        original=data,
        message=data,
        size=len(data),
        **summary_columns(data),
    ).execute()


def test_parts_are_numbered_as_mailpit_numbers_them_and_come_back_byte_identical():
    body = body_of(parse(invoice()))
    assert body.text.startswith("Dear customer,") and "<b>customer</b>" in body.html
    (pdf,) = body.attachments
    assert (pdf.part_id, pdf.filename, pdf.content_type) == ("2", "INV-42.pdf", "application/pdf")
    assert pdf.content() == PDF
    (logo,) = body.inline
    assert (logo.part_id, logo.content_id, logo.filename) == ("1.2.2", "logo@shop", "logo@shop")
    assert body.part("1.2.2") is logo and body.part("9") is None


def test_a_message_that_is_not_multipart_is_part_0_and_html_alone_gives_text_too():
    message = EmailMessage()
    message["Subject"] = "only HTML"
    message.set_content("<p>Hello <b>you</b></p>", subtype="html")
    body = body_of(parse(message.as_bytes()))
    assert body.html.startswith("<p>Hello") and "Hello" in body.text and "<b>" not in body.text
    attached = EmailMessage()
    attached.set_content(PDF, "application", "pdf", filename="a.pdf")
    (only,) = body_of(parse(attached.as_bytes())).attachments
    assert only.part_id == "0" and only.content() == PDF


def test_the_summary_has_mailpits_fields_with_names_decoded():
    summary = summarize(invoice(cc="=?utf-8?q?J=C3=B6rg?= <books@acme.example>, bea@acme.example"))
    assert (summary.sender.name, summary.sender.address) == ("Billing Dept", "billing@shop.example")
    assert [(a.name, a.address) for a in summary.cc] == [("Jörg", "books@acme.example"), ("", "bea@acme.example")]
    assert [a.address for a in summary.reply_to] == ["help@shop.example"]
    assert summary.snippet == "Dear customer, your invoice."  # from the HTML, one line
    assert (summary.attachments, summary.inline) == (1, 1)
    long = summarize(invoice(html=False, pdf=False).replace(b"attached.", b"attached. " + b"word " * 100))
    assert len(long.snippet) == 203 and long.snippet.endswith("...")


def test_a_message_the_parser_cannot_take_is_still_captured_without_a_summary():
    nested = (
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 3000
    )
    assert summary_columns(nested) in ({}, summary_columns(nested))  # never raises


def test_headers_before_and_after_side_by_side():
    before = b"From: a@shop.example\r\nTo: o@acme.example\r\nSubject: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\n\r\nbody"
    after = b"Received: by relay\r\n" + before.replace(b"Subject:", b"Cc: bea@acme.example\r\nSubject:")
    assert header_rows(before, after) == [
        (None, "Received: by relay"),
        ("From: a@shop.example", "From: a@shop.example"),
        ("To: o@acme.example", "To: o@acme.example"),
        (None, "Cc: bea@acme.example"),
        ("Subject: Résumé", "Subject: Résumé"),
    ]


def test_query_words_split_as_mailpit_splits_them():
    assert split_words('subject:"Invoice INV-42" -from:shop  is:unread') == [
        "subject:Invoice INV-42",
        "-from:shop",
        "is:unread",
    ]
    assert [(t.key, t.value, t.exclude) for t in terms('!to:bea "two words" http://x')] == [
        ("to", "bea", True),
        ("", "two words", False),
        ("", "http://x", False),
    ]
    assert size_in_bytes("2kb") == 2048 and size_in_bytes("1.5m") == 1572864 and size_in_bytes("big") == 0
    assert condition("") is None and condition("to:") is not None  # a bare "to:" is a plain word


@pytest.fixture
def mailbox(directory):
    """Three captured messages: an invoice to Acme with Bea added, a reminder to Beta, an account mail."""
    ids = {
        "invoice": capture(
            invoice(cc="Bea Bookman <bea@acme.example>"),
            added=[BEA],
            category="invoice.created",
            category_key="billing",
            received=dt.datetime(2026, 12, 1, 9, 0),
        ),
        "reminder": capture(
            invoice("Reminder R-7", to="beta@beta.example", html=False, pdf=False),
            category="payment.reminder",
            category_key="billing",
            recipients=("beta@beta.example",),
            received=dt.datetime(2026, 12, 3, 9, 0),
        ),
        "order": capture(
            invoice("Order O-1", html=False, pdf=False),
            category="order.confirmed",
            category_key="account",
            received=dt.datetime(2026, 12, 5, 9, 0),
        ),
    }
    return ids


def found(query: str, zone=dt.UTC) -> list[str]:
    """The first word of the subject of each message ``query`` finds, newest first."""
    page = inbox.page(query, zone=zone)
    assert page.matching == len(page.messages)
    return [message.record.subject.split()[0] for message in page.messages]


def test_query_words_find_what_they_name(mailbox):
    assert found("") == ["Order", "Reminder", "Invoice"]  # newest first
    assert found("to:beta") == ["Reminder"]
    assert found("to:acme") == ["Order", "Invoice"]
    assert found('to:"Acme Owner"') == ["Order", "Invoice"]
    assert found("cc:bookman") == ["Invoice"]
    assert found("from:billing@shop.example subject:invoice") == ["Invoice"]
    assert found("reply-to:help@") == ["Order", "Reminder", "Invoice"]
    assert found("category:billing") == ["Reminder", "Invoice"]
    assert found("tag:payment.reminder") == ["Reminder"]
    assert found("added:bea@acme.example") == ["Invoice"]
    assert found("added:Bookman") == ["Invoice"]
    assert found("-added:bea@acme.example") == ["Order", "Reminder"]
    assert found("has:attachment") == ["Invoice"] and found("has:inline") == ["Invoice"]
    assert found("!has:attachment") == ["Order", "Reminder"]
    assert found("after:2026-12-02 before:2026-12-04") == ["Reminder"]
    assert found("larger:2kb") == ["Invoice"] and found("smaller:2kb") == ["Order", "Reminder"]
    assert found("account") == ["Order"]  # a plain word finds the category too
    assert found("message-id:inv-42@shop") == ["Order", "Reminder", "Invoice"]
    assert found("nothing-like-this") == []
    # The command line and the TUI search with the same words.
    assert [r.subject for r in relay_log.captured_messages(10, search="to:beta")] == ["Reminder R-7"]


def test_after_and_before_read_dates_in_the_zone_given(mailbox):
    from zoneinfo import ZoneInfo

    # 09:00 UTC on the 3rd is 22:00 on the 3rd in Auckland (UTC+13): after 21:00 there, before 23:00.
    auckland = ZoneInfo("Pacific/Auckland")
    assert found("after:2026-12-03T21:00 before:2026-12-03T23:00", zone=auckland) == ["Reminder"]
    assert found("after:2026-12-03T21:00 before:2026-12-03T23:00", zone=dt.UTC) == []


def test_read_flags_pages_and_deletes(mailbox):
    assert inbox.totals() == inbox.Totals(3, 3, {"billing": 2, "account": 1})
    assert inbox.set_read(True, [mailbox["invoice"]]) == [mailbox["invoice"]]
    assert inbox.set_read(True, [mailbox["invoice"]]) == []  # nothing changed the second time
    assert found("is:unread") == ["Order", "Reminder"] and found("is:read") == ["Invoice"]
    page = inbox.page("category:billing")
    assert (page.matching, page.unread) == (2, 1)
    assert sorted(inbox.set_read(True, search="category:billing")) == sorted([mailbox["reminder"]])
    assert (inbox.totals().total, inbox.totals().unread) == (3, 1)
    second = inbox.page("", start=1, limit=1)
    assert [m.record.id for m in second.messages] == [mailbox["reminder"]] and second.matching == 3
    assert inbox.latest_id() == mailbox["order"] and inbox.latest_id("to:beta") == mailbox["reminder"]
    assert inbox.delete(search="to:beta") == [mailbox["reminder"]]
    assert inbox.delete([mailbox["order"], 999]) == [mailbox["order"]]
    assert inbox.state() == (mailbox["invoice"], 1)
    assert [m.record.subject for m in inbox.captured_after(0)] == ["Invoice INV-42"]


def test_who_was_added_is_read_in_one_place(mailbox):
    message, _original, _rewritten = inbox.message(mailbox["invoice"])
    (bea,) = message.record.added
    assert (bea.email, bea.name, bea.customer, bea.reason, bea.sent) == (
        "bea@acme.example",
        "Bea Bookman",
        "owner@acme.example",
        "opted in to billing",
        "bea@acme.example",
    )
    assert message.record.envelope == ["owner@acme.example", "bea@acme.example"]


def test_messages_of_an_older_database_get_their_summaries(db_url, monkeypatch):
    before = [m for m in migrations.known_migrations() if m.version < 13]
    monkeypatch.setattr(migrations, "known_migrations", lambda: before)
    old = open_database(db_url)
    mark = old.param
    data = invoice(cc="Bea Bookman <bea@acme.example>")
    for _ in range(3):
        old.execute_sql(
            "INSERT INTO captured_message (received_at, sender, recipients, subject, message_id, category, "
            f"category_key, added, search_text, original, message, size) VALUES ({', '.join([mark] * 12)})",
            (
                "2026-12-05 10:00:00",
                "billing@shop.example",
                "[]",
                "Invoice INV-42",
                "<i@s>",
                "",
                "",
                "[]",
                "",
                data,
                data,
                len(data),
            ),
        )
    old.execute_sql("DELETE FROM captured_message WHERE id = 3")  # cleared: its id is never given out again
    old.close_all() if hasattr(old, "close_all") else old.close()
    monkeypatch.undo()
    database = open_database(db_url)
    try:
        assert inbox.page("cc:bea@acme.example has:attachment is:unread").matching == 2
        (first, _second) = inbox.page().messages
        assert first.summary.snippet == "Dear customer, your invoice." and first.read is False
        assert inbox.message(1)[2] == data  # the messages themselves are as they were
        assert capture(data) == 4
        if db_url.startswith("sqlite"):
            # The messages are the last columns: nothing a list reads lies behind them.
            names = [row[1] for row in database.execute_sql("PRAGMA table_info(captured_message)").fetchall()]
            assert names[-2:] == ["original", "message"] and "read" in names
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()
