"""The upstream client against a real aiosmtpd upstream: outcomes, reuse, TLS, AUTH, SMTPUTF8.

Every test runs twice: against an upstream that offers PIPELINING (one write
for MAIL, RCPT and DATA) and against one that does not (a reply per command).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from relay.delivery.pool import DeliveryResult, UpstreamConfig, UpstreamPool

from ...waiting import wait_until
from ..helpers.upstream import TlsFiles, Upstream

MESSAGE = (
    b"From: Billing <billing@shop.example>\r\n"
    b"To: customer@example.com\r\n"
    b"Subject: Invoice 42\r\n"
    b"Message-ID: <42@shop.example>\r\n"
    b"\r\n"
    b"Your invoice is attached.\r\n"
    b".a line that starts with a dot\r\n"
)


@pytest.fixture(params=[False, True], ids=["lockstep", "pipelining"])
def make_upstream(request: pytest.FixtureRequest, make_upstream: Callable[..., Upstream]) -> Callable[..., Upstream]:
    def make(**options: Any) -> Upstream:
        options.setdefault("pipelining", request.param)
        return make_upstream(**options)

    return make


def pool_for(upstream: Upstream, **options: Any) -> UpstreamPool:
    options.setdefault("timeout", 5.0)
    options.setdefault("helo_name", "relay.test")
    return UpstreamPool(UpstreamConfig(upstream.host, upstream.port, **options))


async def deliver(
    pool: UpstreamPool, *recipients: str, message: bytes = MESSAGE, sender: str = "billing@shop.example", **flags: bool
) -> DeliveryResult:
    try:
        return await pool.deliver(message, sender, list(recipients), **flags)
    finally:
        await pool.close()


async def test_message_arrives_byte_for_byte_with_its_envelope(upstream: Upstream) -> None:
    result = await deliver(pool_for(upstream), "customer@example.com", "bookkeeper@example.com")

    assert result.accepted == ["customer@example.com", "bookkeeper@example.com"]
    assert result.data_reply is not None and result.data_reply.code == 250
    [received] = upstream.messages
    assert received.data == MESSAGE
    assert received.sender == "billing@shop.example"
    assert received.recipients == ("customer@example.com", "bookkeeper@example.com")


async def test_each_recipient_gets_its_own_outcome(upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    upstream.reply_rcpt("full@example.com", "452 4.2.2 mailbox full")

    result = await deliver(pool_for(upstream), "customer@example.com", "gone@example.com", "full@example.com")

    assert result.accepted == ["customer@example.com"]
    assert result.permanent == ["gone@example.com"]
    assert result.temporary == ["full@example.com"]
    gone = result.replies["gone@example.com"]
    assert (gone.code, gone.text, gone.status) == (550, "5.1.1 no such user", "5.1.1")
    assert str(result.replies["full@example.com"]) == "452 4.2.2 mailbox full"
    # The refused recipients did not stop the message for the accepted one.
    [received] = upstream.messages
    assert received.recipients == ("customer@example.com",)


@pytest.mark.parametrize(
    ("reply", "outcome"), [("554 5.7.1 rejected as spam", "permanent"), ("451 4.3.0 queue full", "temporary")]
)
async def test_a_refusal_after_data_applies_to_every_accepted_recipient(
    upstream: Upstream, reply: str, outcome: str
) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    upstream.reply_data(reply)

    result = await deliver(pool_for(upstream), "customer@example.com", "bookkeeper@example.com", "gone@example.com")

    assert result.data_reply is not None and str(result.data_reply) == reply
    for accepted_by_rcpt in ("customer@example.com", "bookkeeper@example.com"):
        assert result.replies[accepted_by_rcpt].outcome == outcome
        assert str(result.replies[accepted_by_rcpt]) == reply
    assert str(result.replies["gone@example.com"]) == "550 5.1.1 no such user"
    assert upstream.messages == []


async def test_an_upstream_that_is_down_is_a_temporary_failure(upstream: Upstream) -> None:
    upstream.stop()

    result = await deliver(pool_for(upstream), "customer@example.com", "bookkeeper@example.com")

    assert result.temporary == ["customer@example.com", "bookkeeper@example.com"]
    reply = result.replies["customer@example.com"]
    assert reply.code is None
    assert reply.status.startswith("4.")
    assert f"connect to 127.0.0.1:{upstream.port} failed" in reply.text


async def test_one_connection_carries_many_messages(upstream: Upstream) -> None:
    pool = pool_for(upstream)
    try:
        for number in range(5):
            result = await pool.deliver(MESSAGE, "billing@shop.example", [f"customer{number}@example.com"])
            assert result.accepted
    finally:
        await pool.close()

    assert len(upstream.messages) == 5
    assert upstream.connections == 1
    assert {m.connection for m in upstream.messages} == {1}
    assert pool.stats.connections_opened == 1


async def test_parallel_deliveries_use_at_most_the_configured_connections(upstream: Upstream) -> None:
    # Held-back replies make the deliveries overlap, so the pool must open more than one.
    upstream.reply_data("250 2.0.0 slow but fine", delay=0.2)
    pool = pool_for(upstream, connections=2)
    try:
        results = await asyncio.gather(
            *(pool.deliver(MESSAGE, "billing@shop.example", [f"c{n}@example.com"]) for n in range(6))
        )
    finally:
        await pool.close()

    assert all(r.accepted for r in results)
    assert upstream.connections == 2


async def test_a_pooled_connection_the_upstream_dropped_is_replaced_without_a_failure(upstream: Upstream) -> None:
    pool = pool_for(upstream)
    try:
        assert (await pool.deliver(MESSAGE, "billing@shop.example", ["first@example.com"])).accepted
        upstream.stop()
        upstream.start()
        second = await pool.deliver(MESSAGE, "billing@shop.example", ["second@example.com"])
    finally:
        await pool.close()

    assert second.accepted == ["second@example.com"]
    assert [m.recipients for m in upstream.messages] == [("first@example.com",), ("second@example.com",)]
    assert upstream.connections == 2


async def test_a_connection_lost_during_data_leaves_every_recipient_to_retry(upstream: Upstream) -> None:
    upstream.reply_data("250 2.0.0 too late", delay=30)
    pool = pool_for(upstream)
    task = asyncio.create_task(deliver(pool, "customer@example.com"))
    await wait_until(lambda: upstream.stalled)
    upstream.stop()

    result = await task

    assert result.temporary == ["customer@example.com"]
    assert "lost connection" in result.replies["customer@example.com"].text


async def test_the_null_sender_is_sent_as_empty_reverse_path(upstream: Upstream) -> None:
    result = await deliver(pool_for(upstream), "customer@example.com", sender="")

    assert result.accepted
    assert upstream.messages[0].sender == ""


async def test_an_eight_bit_body_is_declared_when_the_upstream_offers_8bitmime(upstream: Upstream) -> None:
    message = MESSAGE.replace(b"attached.", "beigefügt.".encode())

    await deliver(pool_for(upstream), "customer@example.com", message=message)
    await deliver(pool_for(upstream), "customer@example.com")

    eight_bit, seven_bit = upstream.messages
    assert "BODY=8BITMIME" in eight_bit.mail_options
    assert eight_bit.data == message
    assert "BODY=8BITMIME" not in seven_bit.mail_options


async def test_a_non_ascii_address_goes_out_with_smtputf8(upstream: Upstream) -> None:
    result = await deliver(pool_for(upstream), "δοκιμή@παράδειγμα.δοκιμή", sender="σύστημα@shop.example", smtputf8=True)

    assert result.accepted == ["δοκιμή@παράδειγμα.δοκιμή"]
    [received] = upstream.messages
    assert "SMTPUTF8" in received.mail_options
    assert received.sender == "σύστημα@shop.example"


async def test_an_ascii_message_is_not_marked_smtputf8_even_if_the_client_asked(upstream: Upstream) -> None:
    # RFC 6531: a message that does not need SMTPUTF8 should not request it.
    await deliver(pool_for(upstream), "customer@example.com", smtputf8=True)

    assert "SMTPUTF8" not in upstream.messages[0].mail_options


async def test_smtputf8_needed_but_not_offered_fails_for_good_with_a_clear_reason(
    make_upstream: Callable[..., Upstream],
) -> None:
    upstream = make_upstream(smtputf8=False)

    address = await deliver(pool_for(upstream), "δοκιμή@example.com", "plain@example.com")
    sender = await deliver(pool_for(upstream), "plain@example.com", sender="σύστημα@shop.example")
    headers = await deliver(
        pool_for(upstream), "plain@example.com", smtputf8=True, message="Subject: Grüße\r\n\r\nhi\r\n".encode()
    )

    # Only the address that cannot be written without SMTPUTF8 fails; the others get the message.
    assert address.permanent == ["δοκιμή@example.com"]
    assert address.replies["δοκιμή@example.com"].status == "5.6.7"
    assert "does not support SMTPUTF8" in address.replies["δοκιμή@example.com"].text
    assert address.accepted == ["plain@example.com"]
    assert sender.replies["plain@example.com"].status == "5.6.7"
    assert headers.replies["plain@example.com"].status == "5.6.9"
    [received] = upstream.messages
    assert received.recipients == ("plain@example.com",)
    assert "SMTPUTF8" not in received.mail_options


async def test_starttls_with_a_private_ca_and_auth_plain(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    upstream = make_upstream(tls=tls_files, users={"relay": "s3cret pass"})
    pool = pool_for(upstream, tls="starttls", ca_file=str(tls_files.cert), username="relay", password="s3cret pass")

    result = await deliver(pool, "customer@example.com")

    assert result.accepted == ["customer@example.com"]
    [received] = upstream.messages
    assert received.tls
    assert (received.auth_login, received.auth_mechanism) == ("relay", "PLAIN")


async def test_opportunistic_tls_is_used_when_offered(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    upstream = make_upstream(tls=tls_files)

    result = await deliver(pool_for(upstream, ca_file=str(tls_files.cert)), "customer@example.com")

    assert result.accepted
    assert upstream.messages[0].tls


async def test_opportunistic_tls_encrypts_with_a_certificate_nobody_can_verify(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    # Self-signed and no CA file: Postfix's "may" still encrypts, so do we.
    upstream = make_upstream(tls=tls_files)

    result = await deliver(pool_for(upstream), "customer@example.com")

    assert result.accepted == ["customer@example.com"]
    assert upstream.messages[0].tls


async def test_opportunistic_tls_verifies_before_sending_a_password(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    upstream = make_upstream(tls=tls_files, users={"relay": "pw"})

    unverified = await deliver(pool_for(upstream, username="relay", password="pw"), "customer@example.com")
    trusted = await deliver(
        pool_for(upstream, username="relay", password="pw", ca_file=str(tls_files.cert)), "customer@example.com"
    )

    reply = unverified.replies["customer@example.com"]
    assert reply.outcome == "temporary" and "certificate verify failed" in reply.text
    assert trusted.accepted
    assert [m.auth_login for m in upstream.messages] == ["relay"]


async def test_an_unverifiable_certificate_defers_unless_verification_is_off(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    upstream = make_upstream(tls=tls_files)

    refused = await deliver(pool_for(upstream, tls="starttls"), "customer@example.com")
    unchecked = await deliver(pool_for(upstream, tls="starttls", verify=False), "customer@example.com")

    reply = refused.replies["customer@example.com"]
    assert reply.outcome == "temporary"
    assert "certificate verify failed" in reply.text
    assert unchecked.accepted
    assert len(upstream.messages) == 1


async def test_implicit_tls(make_upstream: Callable[..., Upstream], tls_files: TlsFiles) -> None:
    upstream = make_upstream(tls=tls_files, implicit_tls=True, users={"relay": "pw"})
    pool = pool_for(upstream, tls="tls", ca_file=str(tls_files.cert), username="relay", password="pw")

    result = await deliver(pool, "customer@example.com")

    assert result.accepted
    assert upstream.messages[0].tls
    assert upstream.messages[0].auth_login == "relay"


async def test_a_wrong_password_defers_instead_of_bouncing(
    make_upstream: Callable[..., Upstream], tls_files: TlsFiles
) -> None:
    upstream = make_upstream(tls=tls_files, users={"relay": "right"})
    pool = pool_for(upstream, tls="starttls", ca_file=str(tls_files.cert), username="relay", password="wrong")

    result = await deliver(pool, "customer@example.com")

    reply = result.replies["customer@example.com"]
    assert reply.outcome == "temporary"
    assert "AUTH" in reply.text and "535" in reply.text
    assert "wrong" not in reply.text
    assert upstream.messages == []


async def test_the_password_is_never_sent_without_tls(upstream: Upstream) -> None:
    result = await deliver(pool_for(upstream, username="relay", password="secret"), "customer@example.com")

    reply = result.replies["customer@example.com"]
    assert reply.outcome == "temporary"
    assert "without TLS" in reply.text
    assert upstream.messages == []


async def test_required_starttls_that_is_not_offered_defers(upstream: Upstream) -> None:
    result = await deliver(pool_for(upstream, tls="starttls"), "customer@example.com")

    assert "does not offer STARTTLS" in result.replies["customer@example.com"].text
    assert upstream.messages == []


def test_the_password_stays_out_of_reprs() -> None:
    config = UpstreamConfig("smtp.example.com", username="relay", password="hunter2")

    assert "hunter2" not in repr(config)


async def test_recipients_over_the_upstreams_limit_go_in_another_transaction_at_once(upstream: Upstream) -> None:
    for address in ("c@example.com", "d@example.com"):
        upstream.reply_rcpt(address, "452 4.5.3 Too many recipients", times=1)
    upstream.reply_rcpt("full@example.com", "452 4.2.2 mailbox full")

    result = await deliver(
        pool_for(upstream), "a@example.com", "b@example.com", "c@example.com", "d@example.com", "full@example.com"
    )

    assert result.accepted == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    assert result.temporary == ["full@example.com"]  # a full mailbox waits for the backoff
    assert [m.recipients for m in upstream.messages] == [
        ("a@example.com", "b@example.com"),
        ("c@example.com", "d@example.com"),
    ]
    assert upstream.connections == 1


async def test_too_many_recipients_for_everyone_is_an_ordinary_deferral(upstream: Upstream) -> None:
    upstream.reply_rcpt("a@example.com", "452 Too many recipients")
    upstream.reply_rcpt("b@example.com", "452 Too many recipients")

    result = await deliver(pool_for(upstream), "a@example.com", "b@example.com")

    assert result.temporary == ["a@example.com", "b@example.com"]
    assert len(upstream.refusals) == 2  # one transaction, no loop
    assert upstream.messages == []


async def test_an_upstream_slow_to_answer_the_final_dot_is_waited_for_not_sent_twice(upstream: Upstream) -> None:
    # RFC 5321 4.5.3.2.6: up to 10 minutes for the reply to the final ".",
    # however short the wait for every other reply is.
    upstream.reply_data("250 2.0.0 committed at last", delay=1.5, times=1)

    pool = pool_for(upstream, timeout=0.5, data_timeout=10.0)
    result = await deliver(pool, "customer@example.com")

    assert result.accepted == ["customer@example.com"]
    assert str(result.data_reply) == "250 2.0.0 committed at last"
    assert pool.stats.transactions == 1
