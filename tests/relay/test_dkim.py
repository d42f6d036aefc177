"""The rewrite keeps DKIM signatures verifying: real keys, real dkimpy signatures.

The key pair is made in the test itself (plain Python RSA, DER-encoded by
hand) so the test needs neither openssl nor a crypto package, and the
"DNS" answer is the matching public key record.
"""

from __future__ import annotations

import base64
import random

import dkim
import pytest

from relay.headers import split_message
from relay.rewrite import Addition, received_header, rewrite

SELECTOR = b"relay"
DOMAIN = b"billing.example"

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


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # keeps the sign bit clear
    return b"\x02" + _der_length(len(raw)) + raw


def _der_seq(*items: bytes) -> bytes:
    body = b"".join(items)
    return b"\x30" + _der_length(len(body)) + body


def _probable_prime(bits: int, rng: random.Random) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if all(candidate % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) and _miller_rabin(
            candidate, rng
        ):
            return candidate


def _miller_rabin(n: int, rng: random.Random, rounds: int = 32) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) of a fresh 1024-bit RSA key pair."""
    rng = random.Random(20261123)
    e = 65537
    while True:
        p, q = _probable_prime(512, rng), _probable_prime(512, rng)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    n, d = p * q, pow(e, -1, phi)
    private = _der_seq(*map(_der_int, (0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))))
    pem = (
        b"-----BEGIN RSA PRIVATE KEY-----\n"
        + base64.encodebytes(private)
        + b"-----END RSA PRIVATE KEY-----\n"
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(_der_seq(_der_int(n), _der_int(e)))
    return pem, record


def _sign(message: bytes, keys, headers: list[bytes], canon=(b"relaxed", b"relaxed")) -> bytes:
    pem, _ = keys
    signature = dkim.sign(message, SELECTOR, DOMAIN, pem, canonicalize=canon, include_headers=headers)
    return signature + message


def _verifies(message: bytes, keys) -> bool:
    _, record = keys

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == SELECTOR + b"._domainkey." + DOMAIN + b"."
        return record

    return dkim.verify(message, dnsfunc=dns)


def _trace() -> bytes:
    return received_header(
        helo="billing-app", peer_ip="127.0.0.1", by_host="relay.test", queue_id="Q1",
        recipients=["cust@example.com"],
    )


CANONICALISATIONS = [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")]


@pytest.mark.parametrize("canon", CANONICALISATIONS)
def test_signature_over_cc_locks_the_cc_and_keeps_verifying(keys, canon):
    signed = _sign(WITH_CC, keys, [b"from", b"to", b"cc", b"subject"], canon)
    assert _verifies(signed, keys)

    result = rewrite(signed, ["cust@example.com"], CONTACTS, trace=_trace())

    assert result.cc_locked_by_dkim
    assert result.header_added == []
    assert result.envelope_added == ["bk@example.com", "it@example.com"]
    assert split_message(result.message)[0].endswith(split_message(signed)[0])
    assert result.message.endswith(signed)  # only the trace went on top
    assert _verifies(result.message, keys)


@pytest.mark.parametrize("canon", CANONICALISATIONS)
def test_signature_over_an_absent_cc_locks_it_too(keys, canon):
    signed = _sign(PLAIN, keys, [b"from", b"to", b"cc", b"subject"], canon)
    assert b"cc" in signed.split(b"h=", 1)[1].split(b";", 1)[0].lower()

    result = rewrite(signed, ["cust@example.com"], CONTACTS)

    assert result.cc_locked_by_dkim
    assert result.message == signed
    assert _verifies(result.message, keys)
    # Why the lock matters: a Cc added anyway breaks the signature.
    forced = signed.replace(b"\r\n\r\n", b"\r\nCc: bk@example.com\r\n\r\n", 1)
    assert not _verifies(forced, keys)


@pytest.mark.parametrize("canon", CANONICALISATIONS)
@pytest.mark.parametrize("original", [PLAIN, WITH_CC], ids=["no-cc", "with-cc"])
def test_signature_without_cc_lets_the_cc_grow_and_still_verifies(keys, canon, original):
    signed = _sign(original, keys, [b"from", b"to", b"subject", b"message-id"], canon)

    result = rewrite(signed, ["cust@example.com"], CONTACTS, trace=_trace())

    assert not result.cc_locked_by_dkim
    assert result.header_added == ["bk@example.com", "it@example.com"]
    assert b"<bk@example.com>" in result.message
    assert _verifies(result.message, keys)


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
        b"DKIM-Signature: v=1; a=rsa-sha256; d=cc.example; s=cc;\r\n"
        b"\th=from:to:subject:x-cc; bh=abc=; b=AAAA\r\n"
    )
    result = rewrite(signature + PLAIN, ["cust@example.com"], CONTACTS)
    assert not result.cc_locked_by_dkim
    assert result.header_added == ["bk@example.com", "it@example.com"]


def test_any_of_several_signatures_covering_cc_locks():
    loose = b"DKIM-Signature: v=1; d=a.example; s=x; h=from:to; bh=a=; b=A\r\n"
    strict = b"DKIM-Signature: v=1; d=b.example; s=x; h=from:cc; bh=a=; b=A\r\n"
    result = rewrite(loose + strict + PLAIN, [], CONTACTS)
    assert result.cc_locked_by_dkim
