"""The rewrite keeps DKIM signatures verifying: real keys, real dkimpy signatures (``helpers/dkim.py``)."""

from __future__ import annotations

import pytest

from contacts_tui.core.records import Addition
from relay.rewrite import received_header, rewrite
from relay.rewrite.headers import split_message

from ..helpers.dkim import sign, verifies

PLAIN = (
    b"From: Billing <billing@billing.example>\r\n"
    b"To: Customer <cust@example.com>\r\n"
    b"Subject: Invoice 2026-117\r\n"
    b"Message-ID: <inv-117@billing.example>\r\n"
    b"X-Notification-Category: billing\r\n"
    b"\r\n"
    b"Your invoice is attached.\r\n"
)
WITH_CC = PLAIN.replace(b"Subject:", b"Cc: Office <office@example.com>\r\nSubject:")
CONTACTS = [Addition("bk@example.com", "Jörg Buchhaltung"), Addition("it@example.com", "IT")]


def _trace() -> bytes:
    return received_header(
        helo="billing-app",
        peer_ip="127.0.0.1",
        by_host="relay.test",
        queue_id="Q1",
        recipients=["cust@example.com"],
    )


CANONICALISATIONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")]


@pytest.mark.parametrize("canon", CANONICALISATIONS)
def test_signature_over_cc_locks_the_cc_and_keeps_verifying(dkim_keys, canon):
    signed = sign(WITH_CC, dkim_keys, [b"from", b"to", b"cc", b"subject"], canon)
    assert verifies(signed, dkim_keys)

    result = rewrite(signed, ["cust@example.com"], CONTACTS, trace=_trace())

    assert result.cc_locked_by_dkim
    assert result.header_added == []
    assert result.envelope_added == ["bk@example.com", "it@example.com"]
    assert split_message(result.message)[0].endswith(split_message(signed)[0])
    assert result.message.endswith(signed)  # only the trace went on top
    assert verifies(result.message, dkim_keys)


@pytest.mark.parametrize("canon", CANONICALISATIONS)
def test_signature_over_an_absent_cc_locks_it_too(dkim_keys, canon):
    signed = sign(PLAIN, dkim_keys, [b"from", b"to", b"cc", b"subject"], canon)
    assert b"cc" in signed.split(b"h=", 1)[1].split(b";", 1)[0].lower()

    result = rewrite(signed, ["cust@example.com"], CONTACTS)

    assert result.cc_locked_by_dkim
    assert result.message == signed
    assert verifies(result.message, dkim_keys)
    # Why the lock matters: a Cc added anyway breaks the signature.
    forced = signed.replace(b"\r\n\r\n", b"\r\nCc: bk@example.com\r\n\r\n", 1)
    assert not verifies(forced, dkim_keys)


@pytest.mark.parametrize("canon", CANONICALISATIONS)
@pytest.mark.parametrize("original", [PLAIN, WITH_CC], ids=["no-cc", "with-cc"])
def test_signature_without_cc_lets_the_cc_grow_and_stillverifies(dkim_keys, canon, original):
    signed = sign(original, dkim_keys, [b"from", b"to", b"subject", b"message-id"], canon)

    result = rewrite(signed, ["cust@example.com"], CONTACTS, trace=_trace())

    assert not result.cc_locked_by_dkim
    assert result.header_added == ["bk@example.com", "it@example.com"]
    assert b"<bk@example.com>" in result.message
    assert verifies(result.message, dkim_keys)


def test_folded_mixed_case_h_tag_is_recognised():
    signature = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=billing.example; s=relay;\r\n"
        b"\tc=relaxed/relaxed; h=From : To :\r\n\t  CC : Subject; bh=abc=;\r\n"
        b"\tb=AAAA\r\n"
    )
    result = rewrite(signature + PLAIN, ["cust@example.com"], CONTACTS)
    assert result.cc_locked_by_dkim
    assert result.envelope_added == ["bk@example.com", "it@example.com"]


def test_a_cc_like_name_in_another_tag_does_not_lock():
    signature = (
        b"DKIM-Signature: v=1; a=rsa-sha256; d=cc.example; s=cc;\r\n\th=from:to:subject:x-cc; bh=abc=; b=AAAA\r\n"
    )
    result = rewrite(signature + PLAIN, ["cust@example.com"], CONTACTS)
    assert not result.cc_locked_by_dkim
    assert result.header_added == ["bk@example.com", "it@example.com"]


def test_any_of_several_signatures_covering_cc_locks():
    loose = b"DKIM-Signature: v=1; d=a.example; s=x; h=from:to; bh=a=; b=A\r\n"
    strict = b"DKIM-Signature: v=1; d=b.example; s=x; h=from:cc; bh=a=; b=A\r\n"
    result = rewrite(loose + strict + PLAIN, [], CONTACTS)
    assert result.cc_locked_by_dkim
