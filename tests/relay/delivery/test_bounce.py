"""The bounce a sender gets: an RFC 3464 report that mail programs and people can both read."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.message import Message
from email.policy import default

import pytest

from relay.delivery.bounce import build_dsn
from relay.queue import Failure, Reply

ORIGINAL = (
    b"From: Billing <billing@shop.example>\r\n"
    b"To: customer@example.com\r\n"
    b"Subject: Invoice 42\r\n"
    b"Message-ID: <42@shop.example>\r\n"
    b"Content-Type: multipart/mixed; boundary=x\r\n"
    b"\r\n"
    b"--x\r\n\r\nSECRET BODY TEXT\r\n--x--\r\n"
)
ARRIVAL = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 1, 9, 31, tzinfo=dt.UTC)


def parse(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=default)


def failures(*rows: tuple) -> dict[str, Failure]:
    """Each row: the recipient, the reply that failed it, and whether its time ran out."""
    return {recipient: Failure(Reply.parse(reply), *expired) for recipient, reply, *expired in rows}


def report(failed: dict[str, Failure], original: bytes = ORIGINAL, sender: str = "billing@shop.example") -> Message:
    raw = build_dsn(original, sender, failed, "relay.example.net", ARRIVAL, NOW, queue_id="0ABC")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    return parse(raw)


def status_groups(message: Message) -> list[Message]:
    part = message.get_payload()[1]
    assert part.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    return part.get_payload()


def test_a_dsn_is_a_delivery_status_report_to_the_sender() -> None:
    dsn = report(failures(("gone@example.com", "550 5.1.1 no such user")))

    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    assert dsn["To"].addresses[0].addr_spec == "billing@shop.example"
    assert dsn["From"].addresses[0].addr_spec == "MAILER-DAEMON@relay.example.net"
    assert dsn["Auto-Submitted"] == "auto-replied"
    assert dsn["Message-ID"].endswith("@relay.example.net>")
    assert dsn["Date"].datetime == NOW
    assert dsn["In-Reply-To"] == "<42@shop.example>"
    assert [p.get_content_type() for p in dsn.get_payload()] == [
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]


def test_the_status_part_names_each_failed_recipient_with_the_upstream_reply() -> None:
    dsn = report(
        failures(
            ("gone@example.com", "550 5.1.1 no such user"),
            ("late@example.com", "4.4.1 connect to smtp.example.com:25 failed: refused", True),
        )
    )

    per_message, gone, late = status_groups(dsn)
    assert per_message["Reporting-MTA"] == "dns; relay.example.net"
    assert per_message["Arrival-Date"] == "Sun, 01 Mar 2026 09:30:00 +0000"
    assert per_message["X-Contacts-Relay-Queue-ID"] == "0ABC"
    assert gone["Final-Recipient"] == "rfc822; gone@example.com"
    assert gone["Action"] == "failed"
    assert gone["Status"] == "5.1.1"
    assert gone["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    # Expired: "delivery time expired", with the last attempt's reason as the diagnostic.
    assert late["Status"] == "4.4.7"
    assert late["Diagnostic-Code"].startswith("X-Contacts-Relay; 4.4.1 connect to")


def test_the_explanation_says_in_plain_words_who_failed_and_why() -> None:
    dsn = report(
        failures(
            ("gone@example.com", "550 5.1.1 no such user"),
            ("late@example.com", "451 4.3.0 try later", True),
        )
    )

    text = dsn.get_payload()[0].get_content()
    assert "<gone@example.com>: the receiving mail server refused it" in text
    assert "550 5.1.1 no such user" in text
    assert "<late@example.com>: it still could not be delivered when the retry period ended" in text
    assert "451 4.3.0 try later" in text


def test_only_the_original_headers_come_back_not_the_body() -> None:
    dsn = report(failures(("gone@example.com", "550 5.1.1 no such user")))

    headers = dsn.get_payload()[2].get_payload(decode=True)
    assert headers.startswith(b"From: Billing <billing@shop.example>\r\nTo: customer@example.com\r\n")
    assert b"Message-ID: <42@shop.example>" in headers
    assert b"SECRET BODY TEXT" not in headers


def test_multiline_or_hostile_reply_text_stays_on_one_line() -> None:
    dsn = report(failures(("gone@example.com", "550 5.1.1 no such user\r\nBcc: injected@example.com")))

    [_, gone] = status_groups(dsn)
    assert gone["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user Bcc: injected@example.com"
    assert "Bcc" not in dsn


def test_non_ascii_addresses_use_the_rfc_6533_forms() -> None:
    original = "From: Σύστημα <σύστημα@shop.example>\r\nSubject: Grüße\r\n\r\nbody\r\n".encode()

    raw = build_dsn(
        original,
        "σύστημα@shop.example",
        failures(("δοκιμή@παράδειγμα.δοκιμή", "550 5.1.1 unknown")),
        "relay.example.net",
        ARRIVAL,
        NOW,
    )

    dsn = parse(raw)
    types = [p.get_content_type() for p in dsn.get_payload()]
    assert types == ["text/plain", "message/global-delivery-status", "message/global-headers"]
    assert "Final-Recipient: utf-8; δοκιμή@παράδειγμα.δοκιμή".encode() in raw
    assert "Subject: Grüße".encode() in raw
    assert "δοκιμή@παράδειγμα.δοκιμή" in dsn.get_payload()[0].get_content()


def test_a_message_without_a_body_or_message_id_still_gets_a_report() -> None:
    dsn = report(failures(("gone@example.com", "550 refused")), original=b"Subject: x\r\n")

    assert dsn["In-Reply-To"] is None
    assert dsn.get_payload()[2].get_payload(decode=True).startswith(b"Subject: x\r\n")


def test_every_dsn_has_its_own_message_id() -> None:
    failed = failures(("gone@example.com", "550 5.1.1 no such user"))

    assert report(failed)["Message-ID"] != report(failed)["Message-ID"]


def test_nothing_to_report_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        build_dsn(ORIGINAL, "billing@shop.example", {}, "relay.example.net", ARRIVAL, NOW)
