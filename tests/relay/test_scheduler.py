"""The queue manager with the real spool and upstream client against a real upstream.

Backoff times are shrunk to fractions of a second; everything else is as in
production. Waits poll with deadlines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from relay.backoff import RetryPolicy
from relay.deliver import UpstreamConfig, UpstreamPool
from relay.scheduler import Scheduler, StatusDetail
from relay.spool import Envelope, Spool, read_queue, request_delete, request_retry_now

from ..waiting import wait_until
from .conftest import Upstream

SENDER = "billing@shop.example"
MESSAGE = (
    b"From: Billing <billing@shop.example>\r\n"
    b"To: customer@example.com\r\n"
    b"Subject: Invoice 42\r\n"
    b"Message-ID: <42@shop.example>\r\n"
    b"\r\n"
    b"Your invoice.\r\n"
)
FAST = {"min_backoff": 0.05, "max_backoff": 0.2, "max_lifetime": 60.0}


@dataclass
class Relay:
    spool: Spool
    scheduler: Scheduler
    pool: UpstreamPool
    statuses: list[tuple[str, dict[str, Any], str, StatusDetail]] = field(default_factory=list)

    async def commit(self, *recipients: str, sender: str = SENDER, data: bytes = MESSAGE, **meta: Any) -> str:
        return await self.spool.commit(Envelope(sender, list(recipients), data, meta=meta))

    async def wait_status(self, queue_id: str, status: str, timeout: float = 10.0) -> StatusDetail:
        def found() -> StatusDetail | None:
            return next((d for q, _, s, d in self.statuses if q == queue_id and s == status), None)

        return await wait_until(found, timeout, lambda: [(q, s, d.reply) for q, _, s, d in self.statuses])

    def statuses_of(self, queue_id: str) -> list[str]:
        return [s for q, _, s, _ in self.statuses if q == queue_id]

    async def close(self, timeout: float = 10.0) -> None:
        await self.scheduler.stop(timeout)
        await self.spool.close()


async def start_relay(directory: Path, upstream: Upstream, *, concurrency: int | None = None,
                      **policy: float) -> Relay:
    spool = Spool(directory)
    pool = UpstreamPool(UpstreamConfig(upstream.host, upstream.port, timeout=5.0, helo_name="relay.test"))
    relay = Relay(spool, None, pool)  # type: ignore[arg-type]

    async def on_status(queue_id: str, meta: dict[str, Any], status: str, detail: StatusDetail) -> None:
        relay.statuses.append((queue_id, meta, status, detail))

    relay.scheduler = Scheduler(spool, pool, policy=RetryPolicy(**{**FAST, **policy}), concurrency=concurrency,
                                on_status=on_status, reporting_mta="relay.test", control_interval=0.05)
    await relay.scheduler.start()
    return relay


@pytest.fixture
async def relay(tmp_path: Path, upstream: Upstream) -> Relay:
    running = await start_relay(tmp_path / "spool", upstream)
    yield running
    await running.close()


def status_fields(raw: bytes) -> list[Any]:
    report = message_from_bytes(raw, policy=default)
    assert report.get_content_type() == "multipart/report"
    return report.get_payload()[1].get_payload()


async def test_a_committed_message_is_delivered_once_and_leaves_the_spool(relay: Relay, upstream: Upstream) -> None:
    queue_id = await relay.commit("customer@example.com", "bookkeeper@example.com", log_id=7)

    detail = await relay.wait_status(queue_id, "delivered")

    [received] = upstream.messages
    assert received.data == MESSAGE
    assert received.recipients == ("customer@example.com", "bookkeeper@example.com")
    assert detail.attempts == 1
    assert detail.reply.startswith("250 ")
    assert relay.statuses[0][1] == {"log_id": 7}
    assert read_queue(relay.spool.directory) == []
    assert relay.spool.recover() == []


async def test_an_upstream_that_is_down_gets_the_message_once_it_is_back(relay: Relay, upstream: Upstream) -> None:
    upstream.stop()
    queue_id = await relay.commit("customer@example.com")

    deferred = await relay.wait_status(queue_id, "deferred")
    assert f"connect to 127.0.0.1:{upstream.port} failed" in deferred.reply
    [waiting] = read_queue(relay.spool.directory)
    assert waiting.pending == ("customer@example.com",) and "connect to" in waiting.last_error
    upstream.start()

    delivered = await relay.wait_status(queue_id, "delivered")
    assert delivered.attempts >= 2
    assert len(upstream.messages) == 1


async def test_a_451_is_retried_after_the_backoff(relay: Relay, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    started = time.time()
    queue_id = await relay.commit("customer@example.com")

    deferred = await relay.wait_status(queue_id, "deferred")
    delivered = await relay.wait_status(queue_id, "delivered")

    assert deferred.reply == "451 4.3.0 try again later"
    assert deferred.next_attempt is not None and deferred.next_attempt >= started + FAST["min_backoff"]
    assert delivered.attempts == 2
    assert len(upstream.messages) == 1


async def test_a_550_for_one_recipient_delivers_to_the_others_and_bounces_to_the_sender(
    relay: Relay, upstream: Upstream
) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    queue_id = await relay.commit("customer@example.com", "gone@example.com")

    detail = await relay.wait_status(queue_id, "partially failed")
    assert detail.delivered.keys() == {"customer@example.com"}
    assert detail.failed == {"gone@example.com": "550 5.1.1 no such user"}
    assert detail.dsn_id is not None
    await relay.wait_status(detail.dsn_id, "delivered")

    original, bounce = upstream.messages
    assert original.recipients == ("customer@example.com",)
    assert (bounce.sender, bounce.recipients) == ("", (SENDER,))
    _, gone = status_fields(bounce.data)
    assert gone["Final-Recipient"] == "rfc822; gone@example.com"
    assert gone["Status"] == "5.1.1"
    assert gone["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert b"Message-ID: <42@shop.example>" in bounce.data
    assert relay.statuses_of(queue_id) == ["partially failed"]


async def test_the_null_sender_gets_no_bounce(relay: Relay, upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    queue_id = await relay.commit("gone@example.com", sender="")

    detail = await relay.wait_status(queue_id, "failed")

    assert detail.dsn_id is None
    assert read_queue(relay.spool.directory) == []
    assert upstream.messages == []
    assert [q for q, *_ in relay.statuses] == [queue_id]


async def test_a_bounce_that_bounces_is_not_bounced_again(relay: Relay, upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    upstream.reply_rcpt(SENDER, "550 5.1.1 the sender does not exist either")
    queue_id = await relay.commit("gone@example.com")

    detail = await relay.wait_status(queue_id, "failed")
    bounce = await relay.wait_status(detail.dsn_id or "", "failed")

    assert bounce.dsn_id is None
    assert read_queue(relay.spool.directory) == []
    assert upstream.messages == []
    assert len(relay.statuses) == 2


async def test_a_plain_function_can_take_the_status_reports(tmp_path: Path, upstream: Upstream) -> None:
    seen: list[tuple[str, str, int]] = []
    spool = Spool(tmp_path / "spool")
    pool = UpstreamPool(UpstreamConfig(upstream.host, upstream.port, timeout=5.0))
    scheduler = Scheduler(spool, pool, policy=RetryPolicy(**FAST),
                          on_status=lambda queue_id, meta, status, detail: seen.append((queue_id, status,
                                                                                         detail.attempts)),
                          reporting_mta="relay.test")
    await scheduler.start()
    try:
        queue_id = await spool.commit(Envelope(SENDER, ["customer@example.com"], MESSAGE))
        await wait_until(lambda: seen)
    finally:
        await scheduler.stop()
        await spool.close()

    assert seen == [(queue_id, "delivered", 1)]


async def test_a_recipient_still_deferred_when_the_lifetime_ends_expires_with_a_bounce(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.reply_rcpt("slow@example.com", "451 4.2.0 greylisted, try later")
    relay = await start_relay(tmp_path / "spool", upstream, max_lifetime=1.0)
    try:
        queue_id = await relay.commit("slow@example.com")

        detail = await relay.wait_status(queue_id, "expired")
        await relay.wait_status(detail.dsn_id or "", "delivered")
    finally:
        await relay.close()

    assert detail.attempts >= 2
    [bounce] = upstream.messages
    _, slow = status_fields(bounce.data)
    # RFC 3463 4.4.7 "delivery time expired"; the last temporary reply is the diagnostic.
    assert (slow["Action"], slow["Status"]) == ("failed", "4.4.7")
    assert slow["Diagnostic-Code"] == "smtp; 451 4.2.0 greylisted, try later"
    assert b"retry period ended" in bounce.data


async def test_after_a_restart_nothing_accepted_is_sent_again(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_rcpt("later@example.com", "451 4.3.0 not now")
    first = await start_relay(tmp_path / "spool", upstream)
    queue_id = await first.commit("now@example.com", "later@example.com")
    await first.wait_status(queue_id, "deferred")
    await first.close()

    upstream.clear_rules()
    second = await start_relay(tmp_path / "spool", upstream)
    try:
        detail = await second.wait_status(queue_id, "delivered")
    finally:
        await second.close()

    assert [m.recipients for m in upstream.messages] == [("now@example.com",), ("later@example.com",)]
    assert detail.delivered.keys() == {"now@example.com", "later@example.com"}


async def test_queued_messages_share_one_upstream_connection(tmp_path: Path, upstream: Upstream) -> None:
    relay = await start_relay(tmp_path / "spool", upstream, concurrency=1)
    try:
        ids = [await relay.commit(f"customer{n}@example.com") for n in range(5)]
        for queue_id in ids:
            await relay.wait_status(queue_id, "delivered")
    finally:
        await relay.close()

    assert len(upstream.messages) == 5
    assert upstream.connections == 1


async def test_retry_now_from_another_process_makes_a_deferred_message_due(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    relay = await start_relay(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        queue_id = await relay.commit("customer@example.com")
        await relay.wait_status(queue_id, "deferred")

        request_retry_now(relay.spool.directory)

        await relay.wait_status(queue_id, "delivered", timeout=5)
        assert list((relay.spool.directory / "control").iterdir()) == []
    finally:
        await relay.close()


async def test_delete_from_another_process_stops_delivery(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    relay = await start_relay(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        queue_id = await relay.commit("customer@example.com")
        await relay.wait_status(queue_id, "deferred")

        request_delete(relay.spool.directory, queue_id)

        await relay.wait_status(queue_id, "deleted", timeout=5)
        assert read_queue(relay.spool.directory) == []
        request_retry_now(relay.spool.directory)
        await wait_until(lambda: not list((relay.spool.directory / "control").iterdir()))
    finally:
        await relay.close()

    assert upstream.messages == []
    assert relay.statuses_of(queue_id) == ["deferred", "deleted"]


async def test_commands_given_while_the_relay_was_down_apply_when_it_starts(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_rcpt("a@example.com", "451 4.3.0 not now")
    upstream.reply_rcpt("b@example.com", "451 4.3.0 not now")
    first = await start_relay(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    doomed = await first.commit("a@example.com")
    waiting = await first.commit("b@example.com")
    await first.wait_status(doomed, "deferred")
    await first.wait_status(waiting, "deferred")
    await first.close()

    upstream.clear_rules()
    request_delete(tmp_path / "spool", doomed)
    request_retry_now(tmp_path / "spool")
    second = await start_relay(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        await second.wait_status(doomed, "deleted")
        await second.wait_status(waiting, "delivered")
    finally:
        await second.close()

    assert [m.recipients for m in upstream.messages] == [("b@example.com",)]


async def test_stop_abandons_a_stalled_attempt_and_keeps_the_message(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("250 2.0.0 too late", delay=30)
    relay = await start_relay(tmp_path / "spool", upstream)
    queue_id = await relay.commit("customer@example.com")
    await wait_until(lambda: upstream.stalled)

    started = time.monotonic()
    await relay.close(timeout=0.2)

    assert time.monotonic() - started < 5
    after = Spool(tmp_path / "spool")
    try:
        [kept] = after.recover()
    finally:
        await after.close()
    assert kept.queue_id == queue_id and kept.pending == ["customer@example.com"]


async def test_a_dsn_on_disk_marks_its_failures_reported_after_a_crash(tmp_path: Path, upstream: Upstream) -> None:
    # The state a crash can leave: the DSN was committed, but the original's
    # record of the failure was not. The failed recipient must not be tried
    # again, and no second DSN may go out.
    spool = Spool(tmp_path / "spool")
    original = await spool.commit(Envelope(SENDER, ["ok@example.com", "gone@example.com"], MESSAGE))
    reports = {"gone@example.com": ["550 5.1.1 no such user", "5.1.1", False]}
    dsn = await spool.commit(Envelope("", [SENDER], b"Subject: bounce\r\n\r\n", meta={"dsn_for": original,
                                                                                       "dsn_reports": reports}))
    await spool.close()

    relay = await start_relay(tmp_path / "spool", upstream)
    try:
        detail = await relay.wait_status(original, "partially failed")
        await relay.wait_status(dsn, "delivered")
    finally:
        await relay.close()

    assert detail.dsn_id is None
    assert sorted(m.recipients for m in upstream.messages) == [("billing@shop.example",), ("ok@example.com",)]


def test_the_backoff_doubles_from_min_to_max_and_stops_at_the_lifetime() -> None:
    policy = RetryPolicy()

    assert [policy.delay(n) for n in range(1, 8)] == [300, 600, 1200, 2400, 4000, 4000, 4000]
    assert policy.next_attempt(received=0, attempts=1, now=100) == 400
    assert policy.next_attempt(received=0, attempts=9, now=5 * 86400 - 10) == 5 * 86400
    assert not policy.expired(0, 5 * 86400 - 1) and policy.expired(0, 5 * 86400)
    with pytest.raises(ValueError):
        RetryPolicy(min_backoff=10, max_backoff=5)
