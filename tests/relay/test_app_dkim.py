"""DKIM through the running relay: a signature over Cc keeps verifying at the upstream.

The key pair and the signing and verifying helpers are those of test_dkim.py
(dkimpy with a fresh RSA key and an in-test DNS answer).
"""

from __future__ import annotations

from .helpers import ACME, ACME_BILLING, SENDER, cc_of, header_lines, logged, message, relay_config, running, seed, send
from .helpers.dkim import sign, verifies


async def test_a_signature_over_cc_keeps_verifying_and_contacts_go_in_the_envelope_only(
    sqlite_directory, upstream, tmp_path, dkim_keys
):
    seed(sqlite_directory)
    unsigned = message([("Cc", "Office <office@acme.example>")], b"Your invoice is attached.\r\n")
    signed = sign(unsigned, dkim_keys, [b"from", b"to", b"cc", b"subject", b"message-id"])
    assert verifies(signed, dkim_keys)

    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME, "office@acme.example"], signed)
        got, office = sorted(await upstream.wait_for(2), key=lambda m: m.recipients[0] != ACME)
        row = await logged(reply.queue_id)

    assert got.sender == SENDER
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    # The office is no customer's: a copy of its own, the message as signed.
    assert office.recipients == ("office@acme.example",) and verifies(office.data, dkim_keys)
    assert cc_of(got.data) == ["office@acme.example"]
    assert got.data.endswith(signed)  # only the Received trace went on top
    assert header_lines(got.data)[0].startswith(b"Received: ")
    assert verifies(got.data, dkim_keys)
    assert row.decision == "envelope-only"
    assert "DKIM signature covers Cc" in row.reason
    assert sorted(a.email for a in row.added) == sorted(ACME_BILLING)


async def test_a_signature_without_cc_lets_the_cc_header_grow_and_stillverifies(
    sqlite_directory, upstream, tmp_path, dkim_keys
):
    seed(sqlite_directory)
    signed = sign(message(), dkim_keys, [b"from", b"to", b"subject", b"message-id"])

    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], signed)
        [got] = await upstream.wait_for(1)
        row = await logged(reply.queue_id)

    assert sorted(cc_of(got.data)) == sorted(ACME_BILLING)
    assert verifies(got.data, dkim_keys)
    assert row.decision == "rewritten"
