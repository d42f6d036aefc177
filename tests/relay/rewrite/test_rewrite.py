"""The header rewrite on real message bytes: what it adds, what it skips, what it leaves alone."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses

import pytest

from contacts_tui.core.records import Addition
from relay.rewrite import header_addresses, read_category, received_header, rewrite, split_message
from relay.rewrite.headers import parse_fields

MESSAGE = (
    b"Return-Path: <billing@shop.example>\r\n"
    b"From: Shop Billing <billing@shop.example>\r\n"
    b"To: Customer <cust@example.com>\r\n"
    b"Subject: Your invoice\r\n"
    b"Message-ID: <20261123.1@shop.example>\r\n"
    b"X-Notification-Category: billing\r\n"
    b"\r\n"
    b"Hello,\r\nyour invoice is ready.\r\n"
)
RCPTS = ["cust@example.com"]
BK = Addition("bk@acme.example", "Jane Doe")


def header_of(message: bytes) -> email.message.EmailMessage:
    """The header block parsed as text, so UTF-8 addresses come back intact."""
    head, _ = split_message(message)
    return email.message_from_string(head.decode("utf-8") + "\r\n", policy=email.policy.default)


def cc_of(message: bytes) -> list[tuple[str, str]]:
    cc = header_of(message)["Cc"]
    return [(a.display_name, a.addr_spec) for a in cc.addresses] if cc else []


def raw_fields(message: bytes, skip: str = "cc") -> list[bytes]:
    return [f.raw for f in parse_fields(split_message(message)[0]) if f.name != skip]


def lines_of(message: bytes) -> list[bytes]:
    return split_message(message)[0].splitlines()


# --- the category header ----------------------------------------------------


def test_category_key_is_read():
    assert read_category(MESSAGE) == "billing"


def test_category_keeps_case_and_loses_blanks():
    message = MESSAGE.replace(b"Category: billing", b"Category:   Invoice.Created  ")
    assert read_category(message) == "Invoice.Created"


def test_missing_or_empty_category_is_none():
    assert read_category(MESSAGE.replace(b"X-Notification-Category: billing\r\n", b"")) is None
    assert read_category(MESSAGE.replace(b": billing", b":  ")) is None


def test_category_only_counts_in_the_header_block():
    message = MESSAGE.replace(b"X-Notification-Category: billing\r\n", b"") + b"X-Notification-Category: billing\r\n"
    assert read_category(message) is None


def test_category_folded_repeated_and_encoded():
    folded = MESSAGE.replace(b": billing", b":\r\n\tpayment.reminder")
    assert read_category(folded) == "payment.reminder"
    repeated = MESSAGE.replace(b"\r\n\r\n", b"\r\nX-Notification-Category: account\r\n\r\n", 1)
    assert read_category(repeated) == "billing"
    garbled_first = MESSAGE.replace(b"X-Notification", b"X-Notification-Category: account\x00\r\nX-Notification", 1)
    assert read_category(garbled_first) == "account\x00"
    assert read_category(garbled_first, known={"billing", "account"}.__contains__) == "billing"
    encoded = MESSAGE.replace(b"billing", b"=?utf-8?q?billing?=")
    assert read_category(encoded) == "billing"


def test_category_header_name_is_configurable_and_case_insensitive():
    message = MESSAGE.replace(b"X-Notification-Category", b"x-mailer-TYPE")
    assert read_category(message) is None
    assert read_category(message, header_name="X-Mailer-Type") == "billing"


# --- where the Cc goes -------------------------------------------------------


def test_new_cc_goes_after_the_last_to_and_into_the_envelope():
    result = rewrite(MESSAGE, RCPTS, [BK])
    assert lines_of(result.message)[2:4] == [b"To: Customer <cust@example.com>", b"Cc: Jane Doe <bk@acme.example>"]
    assert result.envelope_added == result.header_added == ["bk@acme.example"]
    assert result.skipped == () and not result.cc_locked_by_dkim and not result.needs_smtputf8
    assert raw_fields(result.message) == raw_fields(MESSAGE)
    assert result.message.endswith(split_message(MESSAGE)[1])


def test_without_to_the_cc_ends_the_header_block():
    message = MESSAGE.replace(b"To: Customer <cust@example.com>\r\n", b"")
    result = rewrite(message, RCPTS, [BK])
    assert split_message(result.message)[0].endswith(b"billing\r\nCc: Jane Doe <bk@acme.example>\r\n")


def test_existing_cc_keeps_its_bytes_and_gains_the_contacts():
    message = MESSAGE.replace(b"Subject:", b"CC: Office <office@example.com>\r\nSubject:")
    result = rewrite(message, RCPTS, [BK, Addition("it@acme.example")])
    head = split_message(result.message)[0]
    assert head.count(b"CC:") == 1 and b"\r\nCC: Office <office@example.com>," in head
    assert cc_of(result.message) == [
        ("Office", "office@example.com"),
        ("Jane Doe", "bk@acme.example"),
        ("", "it@acme.example"),
    ]
    assert raw_fields(result.message) == raw_fields(message)


def test_several_cc_fields_merge_into_one_at_the_first():
    message = (
        b"From: a@shop.example\r\nCc: one@example.com\r\nTo: cust@example.com\r\n"
        b"cc: Two <two@example.com>,\r\n three@example.com\r\nSubject: x\r\nCc:\r\n\r\nbody\r\n"
    )
    result = rewrite(message, RCPTS, [BK])
    names = [f.name for f in parse_fields(split_message(result.message)[0])]
    assert names == ["from", "cc", "to", "subject"]
    assert [a for _, a in cc_of(result.message)] == [
        "one@example.com",
        "two@example.com",
        "three@example.com",
        "bk@acme.example",
    ]
    assert raw_fields(result.message) == raw_fields(message)


@pytest.mark.parametrize(
    "cc, expected",
    [
        (b"Cc:\r\n", []),
        (b"Cc: undisclosed-recipients:;\r\n", []),
        (b"Cc: one@example.com,\r\n", ["one@example.com"]),
        (b"Cc: one@example.com\r\n \r\n", ["one@example.com"]),
    ],
    ids=["empty", "group", "trailing-comma", "blank-continuation"],
)
def test_odd_existing_cc_values_still_give_a_valid_field(cc, expected):
    message = MESSAGE.replace(b"Subject:", cc + b"Subject:")
    result = rewrite(message, RCPTS, [BK])
    parsed = header_of(result.message)
    assert [a.addr_spec for a in parsed["Cc"].addresses] == [*expected, "bk@acme.example"]
    assert not parsed["Cc"].defects
    assert all(not line[:1].isspace() or line.strip() for line in lines_of(result.message))


# --- what is skipped, and why ------------------------------------------------


def test_contacts_already_addressed_are_skipped_with_reasons():
    message = MESSAGE.replace(b"Subject:", b"Cc: Boss <Boss@Example.com>\r\nSubject:")
    additions = [
        Addition("CUST@example.com", "In To"),
        Addition("boss@example.COM", "In Cc"),
        Addition("audit@example.com", "Envelope"),
        BK,
        Addition("BK@ACME.example", "Again"),
        Addition("not an address", "Bad"),
        Addition("evil@example.com>\r\nBcc: x@y", "Bad"),
    ]
    result = rewrite(message, ["cust@example.com", "Audit@Example.com"], additions)
    assert result.envelope_added == result.header_added == ["bk@acme.example"]
    assert result.skipped == (
        ("CUST@example.com", "already in To"),
        ("boss@example.COM", "already in Cc"),
        ("audit@example.com", "already an envelope recipient"),
        ("BK@ACME.example", "listed twice"),
        ("not an address", "not a valid address"),
        ("evil@example.com>\r\nBcc: x@y", "not a valid address"),
    )
    assert b"Bcc" not in result.message


def test_nobody_to_add_leaves_the_message_as_it_was():
    result = rewrite(MESSAGE, RCPTS, [Addition("cust@example.com")])
    assert result.message is MESSAGE
    assert not result.changed and result.envelope_added == [] and result.header_added == []


def test_nobody_to_add_with_a_trace_only_adds_the_trace():
    trace = received_header(helo="shop", peer_ip="127.0.0.1", by_host="relay", queue_id="Q1")
    result = rewrite(MESSAGE, RCPTS, [], trace=trace)
    assert result.message == trace + MESSAGE


# --- display names -----------------------------------------------------------

NAMES = [
    "Jörg Müller-Lüdenscheidt — Buchhaltung",
    "Müller, Jörg (IT)",
    "山田 太郎（経理部）",
    "🧾 Billing Bot 🤖",
    "Zoë Anderson-Smith, Abteilung Buchhaltung und Finanzen der Müller & Söhne GmbH Köln",
    'Doe, Jane "JD" \\ Accounts',
    "J. R. R. Tolkien",
    "Looks =?utf-8?q?encoded?= but is not",
]


@pytest.mark.parametrize("name", NAMES)
def test_display_names_come_back_as_given(name):
    result = rewrite(MESSAGE, RCPTS, [Addition("contact@acme.example", name)])
    assert cc_of(result.message) == [(name, "contact@acme.example")]
    assert cc_of(email.message_from_bytes(result.message, policy=email.policy.default).as_bytes()) == [
        (name, "contact@acme.example")
    ]
    cc_value = header_of(result.message).get("Cc", failobj=None)
    assert cc_value is not None
    for line in lines_of(result.message):
        assert len(line) <= 78
        assert line.isascii()
    for word in re.findall(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=", split_message(result.message)[0]):
        assert len(word) <= 75
        str(make_header(decode_header(word.decode())))  # each word decodes on its own


def rfc2047_names(message: bytes) -> list[str]:
    """Display names decoded the RFC 2047 way (blanks between encoded-words dropped)."""
    raw = email.message_from_bytes(message)["Cc"]  # compat32 keeps the raw value
    return [str(make_header(decode_header(name))) for name, _ in getaddresses([raw])]


@pytest.mark.parametrize(
    "name",
    [
        "Jörg Müller 山田 🎉",
        "Ünïcödé " * 12 + "Ende",
        "長い名前の経理部担当者長い名前の経理部担当者長い名前の経理部担当者",
        "🧾" * 40,
    ],
)
def test_names_too_long_for_one_encoded_word_decode_per_rfc_2047(name):
    # CPython's policy.default parser keeps the blank between adjacent
    # encoded-words (python/cpython#128110); decode_header follows the RFC.
    result = rewrite(MESSAGE, RCPTS, [Addition("j@acme.example", name)])
    assert rfc2047_names(result.message) == [name]
    words = re.findall(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=", result.message)
    assert all(len(word) <= 75 for word in words)
    assert all(len(line) <= 78 for line in lines_of(result.message))


def test_header_injection_in_a_name_stays_inside_the_cc():
    evil = "Mallory\r\nBcc: victim@example.com\r\n\r\nInjected body\x00\x1b[31m"
    result = rewrite(MESSAGE, RCPTS, [Addition("m@acme.example", evil)])
    names = [f.name for f in parse_fields(split_message(result.message)[0])]
    assert names == [f.name for f in parse_fields(split_message(MESSAGE)[0])][:3] + ["cc"] + names[4:]
    assert "bcc" not in names and len(names) == 7
    assert cc_of(result.message) == [("Mallory Bcc: victim@example.com Injected body [31m", "m@acme.example")]
    assert result.message.endswith(split_message(MESSAGE)[1])


def test_long_names_fold_between_addresses_within_78_columns():
    additions = [
        Addition(f"contact{i}@acme.example", f"Contact Person Number {i} of the Accounting Department")
        for i in range(8)
    ]
    additions.append(Addition("long@acme.example", "Very " * 40 + "Long"))
    result = rewrite(MESSAGE, RCPTS, additions)
    cc_lines = [line for line in lines_of(result.message) if line.startswith((b"Cc:", b" "))]
    assert len(cc_lines) > 8
    assert all(len(line) <= 78 for line in cc_lines)
    assert [a for _, a in cc_of(result.message)] == [a.email for a in additions]
    assert cc_of(result.message)[-1][0] == "Very " * 40 + "Long"


# --- addresses that need SMTPUTF8 --------------------------------------------


def test_utf8_address_is_written_raw_and_flags_smtputf8():
    result = rewrite(MESSAGE, RCPTS, [Addition("jörg@例え.jp", "Jörg")])
    assert "jörg@例え.jp".encode() in result.message
    assert result.needs_smtputf8
    assert cc_of(result.message) == [("Jörg", "jörg@例え.jp")]


def test_utf8_address_in_the_envelope_only_still_flags_smtputf8():
    message = b"DKIM-Signature: v=1; h=from:cc; b=A\r\n" + MESSAGE
    result = rewrite(message, RCPTS, [Addition("jörg@例え.jp")])
    assert result.cc_locked_by_dkim and result.needs_smtputf8
    assert result.header_added == [] and result.envelope_added == ["jörg@例え.jp"]


# --- line endings, missing bodies, bodies that must not change ---------------


def test_lf_message_gets_lf_lines():
    message = MESSAGE.replace(b"\r\n", b"\n")
    trace = received_header(helo="shop", peer_ip="127.0.0.1", by_host="relay", queue_id="Q1")
    result = rewrite(message, RCPTS, [BK, Addition("x@acme.example", "Ö " * 30)], trace=trace)
    assert b"\r" not in result.message
    assert result.message.startswith(b"Received: from shop (unknown [127.0.0.1])\n\tby relay")
    assert cc_of(result.message)[0] == ("Jane Doe", "bk@acme.example")
    assert result.message.endswith(split_message(message)[1])


@pytest.mark.parametrize("ending", [b"\r\n", b""], ids=["last-line-ended", "last-line-open"])
def test_message_without_body(ending):
    message = b"From: a@shop.example\r\nTo: cust@example.com" + ending
    result = rewrite(message, RCPTS, [BK])
    assert result.message == b"From: a@shop.example\r\nTo: cust@example.com\r\nCc: Jane Doe <bk@acme.example>\r\n"


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_message_without_any_header(eol):
    trace = received_header(helo="shop", peer_ip="127.0.0.1", by_host="relay", queue_id="Q1")
    result = rewrite(eol + b"just a body" + eol, RCPTS, [BK], trace=trace)
    assert (
        result.message
        == trace.replace(b"\r\n", eol) + b"Cc: Jane Doe <bk@acme.example>" + eol + eol + b"just a body" + eol
    )


def test_eight_bit_body_is_byte_identical():
    body = b"\r\nGr\xfc\xdfe aus K\xf6ln \xe2\x82\xac\r\n\xff\xfe\x00\x80 raw bytes\r\n.\r\n..\r\n"
    message = MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n" + body
    result = rewrite(message, RCPTS, [BK])
    assert result.message.endswith(body)
    assert split_message(result.message)[1] == body


def test_multipart_with_attachment_is_byte_identical():
    original = EmailMessage()
    original["From"] = "billing@shop.example"
    original["To"] = "cust@example.com"
    original["Subject"] = "Invoice"
    original["X-Notification-Category"] = "invoice.created"
    original.set_content("Please find the invoice attached.\n")
    original.add_attachment(os.urandom(50_000), maintype="application", subtype="pdf", filename="invoice.pdf")
    message = original.as_bytes(policy=email.policy.SMTP)
    result = rewrite(message, RCPTS, [BK])

    before, after = message.split(b"To: cust@example.com\r\n")
    assert result.message == before + b"To: cust@example.com\r\nCc: Jane Doe <bk@acme.example>\r\n" + after
    reparsed = email.message_from_bytes(result.message, policy=email.policy.default)
    attachment = next(reparsed.iter_attachments())
    assert attachment.get_content() == next(original.iter_attachments()).get_content()
    assert base64.b64decode(attachment.get_payload()) == attachment.get_content()


# --- the trace header --------------------------------------------------------

WHEN = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def test_received_header_for_one_recipient():
    trace = received_header(
        helo="billing-app.local",
        peer_ip="192.0.2.7",
        peer_host="app.shop.example",
        by_host="relay.example",
        queue_id="4XyZ",
        recipients=["cust@example.com"],
        tls=True,
        authenticated=True,
        when=WHEN,
    )
    assert trace == (
        b"Received: from billing-app.local (app.shop.example [192.0.2.7])\r\n"
        b"\tby relay.example (Contact Persons relay) with ESMTPSA id 4XyZ\r\n"
        b"\tfor <cust@example.com>; Mon, 23 Nov 2026 07:00:00 +0000\r\n"
    )
    parsed = email.message_from_bytes(trace + b"\r\n", policy=email.policy.default)
    assert parsed["Received"].endswith("Mon, 23 Nov 2026 07:00:00 +0000")


def test_received_header_hides_several_recipients_and_names_the_protocol():
    trace = received_header(
        helo="h",
        peer_ip="2001:db8::25",
        by_host="relay",
        queue_id="Q",
        recipients=["a@x.example", "b@x.example"],
        smtputf8=True,
        tls=True,
        when=WHEN,
    )
    assert b"a@x" not in trace and b"for" not in trace
    assert trace.startswith(b"Received: from h (unknown [IPv6:2001:db8::25])\r\n")
    assert b"with UTF8SMTPS id Q;\r\n\tMon, 23 Nov 2026 07:00:00 +0000\r\n" in trace
    plain = received_header(helo="h", peer_ip="::ffff:192.0.2.1", by_host="r", queue_id="Q", esmtp=False, when=WHEN)
    assert b"[192.0.2.1]" in plain and b" with SMTP id" in plain


def test_received_header_neutralises_what_the_peer_sent():
    trace = received_header(
        helo="evil\r\nBcc: x@y (comment); by forged",
        peer_ip="not-an-ip\r\n",
        peer_host="a b\x00c",
        by_host="relay",
        queue_id="Q\r\n1",
        recipients=["<x@y>\r\nX-Evil: 1"],
        when=WHEN,
    )
    lines = trace.split(b"\r\n")
    assert len(lines) == 4 and lines[-1] == b""
    assert lines[0] == b"Received: from evilBcc:x@ycomment,byforged (abc [not-an-ip])".replace(b",", b"")
    assert trace.count(b";") == 1
    assert b"X-Evil" in lines[2] and lines[2].startswith(b"\tfor <x@yX-Evil:1>;")


# --- helpers the receiving side uses -----------------------------------------


def test_header_addresses_lists_to_and_cc():
    message = MESSAGE.replace(b"Subject:", b"Cc: A <a@x.example>, b@x.example\r\nSubject:")
    assert header_addresses(message) == ["cust@example.com", "a@x.example", "b@x.example"]
    assert header_addresses(message, ("from",)) == ["billing@shop.example"]


@pytest.mark.parametrize(
    "message, head",
    [
        (MESSAGE, MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n"),
        (b"A: 1\nB: 2\n\nbody\r\n\r\n", b"A: 1\nB: 2\n"),
        (b"A: 1\r\nB: 2", b"A: 1\r\nB: 2"),
        (b"\r\nbody", b""),
        (b"", b""),
    ],
)
def test_split_message_cuts_at_the_first_blank_line(message, head):
    got_head, rest = split_message(message)
    assert got_head == head and got_head + rest == message


def test_a_utf8_address_goes_to_the_envelope_only_when_the_sender_did_not_use_smtputf8():
    message = b"From: a@shop.example\r\nTo: kundin@buecher.example\r\nSubject: x\r\n\r\nbody\r\n"
    result = rewrite(
        message,
        ["kundin@buecher.example"],
        [Addition("zo\u00eb@b\u00fccher.example", "Zo\u00eb"), Addition("lukasz@buecher.example", "Lukasz")],
        utf8_headers=False,
    )
    assert result.envelope_added == ["zo\u00eb@b\u00fccher.example", "lukasz@buecher.example"]
    assert result.header_added == ["lukasz@buecher.example"]
    assert result.message.isascii()
    assert result.needs_smtputf8


def test_an_internationalised_domain_is_written_in_its_ascii_form_when_the_sender_did_not_use_smtputf8():
    message = b"From: a@shop.example\r\nTo: kundin@buecher.example\r\nSubject: x\r\n\r\nbody\r\n"
    result = rewrite(
        message, ["kundin@buecher.example"], [Addition("ida@b\u00fccher.example", "Ida")], utf8_headers=False
    )
    assert result.envelope_added == result.header_added == ["ida@xn--bcher-kva.example"]
    assert cc_of(result.message) == [("Ida", "ida@xn--bcher-kva.example")]
    assert result.message.isascii() and not result.needs_smtputf8


def test_with_smtputf8_an_internationalised_domain_stays_as_it_is():
    result = rewrite(MESSAGE, RCPTS, [Addition("ida@b\u00fccher.example", "Ida")])
    assert result.envelope_added == ["ida@b\u00fccher.example"] and result.needs_smtputf8


def test_an_ascii_form_already_in_to_is_not_added_again():
    message = b"From: a@shop.example\r\nTo: ida@xn--bcher-kva.example\r\nSubject: x\r\n\r\nbody\r\n"
    result = rewrite(message, ["kundin@buecher.example"], [Addition("ida@b\u00fccher.example")], utf8_headers=False)
    assert result.envelope_added == [] and result.skipped == (("ida@xn--bcher-kva.example", "already in To"),)
