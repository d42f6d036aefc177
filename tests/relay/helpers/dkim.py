"""DKIM for the relay tests: a real key pair, and dkimpy's signing and verifying.

The key pair is made here (plain Python RSA, DER-encoded by hand) so the tests
need neither openssl nor a crypto package, and the "DNS" answer is the
matching public key record.
"""

from __future__ import annotations

import base64
import random

import dkim

SELECTOR = b"relay"
DOMAIN = b"billing.example"


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
        if all(candidate % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) and _miller_rabin(candidate, rng):
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


def make_keys() -> tuple[bytes, bytes]:
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
    pem = b"-----BEGIN RSA PRIVATE KEY-----\n" + base64.encodebytes(private) + b"-----END RSA PRIVATE KEY-----\n"
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(_der_seq(_der_int(n), _der_int(e)))
    return pem, record


def sign(message: bytes, keys, headers: list[bytes], canon=(b"relaxed", b"relaxed")) -> bytes:
    pem, _ = keys
    signature = dkim.sign(message, SELECTOR, DOMAIN, pem, canonicalize=canon, include_headers=headers)
    return signature + message


def verifies(message: bytes, keys) -> bool:
    _, record = keys

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == SELECTOR + b"._domainkey." + DOMAIN + b"."
        return record

    return dkim.verify(message, dnsfunc=dns)
