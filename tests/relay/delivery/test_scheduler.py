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

from relay.delivery.backoff import RetryPolicy
from relay.delivery.pool import UpstreamConfig, UpstreamPool
from relay.delivery.scheduler import Scheduler
from relay.queue import Failure, QueuedMessage, Reply, Spool, read_queue, request_delete, request_retry_now

from ...waiting import wait_until
from ..helpers.upstream import Upstream

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


@dataclass(frozen=True)
class Report:
    """What a status report said, as it was when it came (the message changes later)."""

    queue_id: str
    status: str
    reply: str
    dsn_id: str | None
    attempts: int
    category: str
    delivered: dict[str, str]
    failed: dict[str, str]
    next_attempt: float | None


@dataclass
class Delivery:
    """A spool, a scheduler delivering it to the recording upstream, and the status reports it made."""

    spool: Spool
    scheduler: Scheduler
    pool: UpstreamPool
    reports: list[Report] = field(default_factory=list)

    async def commit(self, *recipients: str, sender: str = SENDER, data: bytes = MESSAGE, category: str = "") -> str:
        return await self.spool.commit(QueuedMessage("", sender, recipients, category=category), data)

    async def wait_status(self, queue_id: str, status: str, timeout: float = 10.0) -> Report:
        def found() -> Report | None:
            return next((r for r in self.reports if r.queue_id == queue_id and r.status == status), None)

        return await wait_until(found, timeout, lambda: [(r.queue_id, r.status, r.reply) for r in self.reports])

    def statuses_of(self, queue_id: str) -> list[str]:
        return [r.status for r in self.reports if r.queue_id == queue_id]

    async def close(self, timeout: float = 10.0) -> None:
        await self.scheduler.stop(timeout)
        await self.spool.close()


async def start_delivery(
    directory: Path, upstream: Upstream, *, concurrency: int | None = None, **policy: float
) -> Delivery:
    spool = Spool(directory)
    pool = UpstreamPool(UpstreamConfig(upstream.host, upstream.port, timeout=5.0, helo_name="delivery.test"))
    delivery = Delivery(spool, None, pool)  # type: ignore[arg-type]

    async def on_status(message: QueuedMessage, status: str, reply: str, dsn_id: str | None) -> None:
        delivery.reports.append(
            Report(
                message.queue_id,
                status,
                reply,
                dsn_id,
                message.attempts,
                message.category,
                {rcpt: str(r) for rcpt, r in message.delivered.items()},
                {rcpt: str(f.reply) for rcpt, f in message.failed.items()},
                None if message.done else message.next_attempt,
            )
        )

    delivery.scheduler = Scheduler(
        spool,
        pool,
        policy=RetryPolicy(**{**FAST, **policy}),
        concurrency=concurrency,
        on_status=on_status,
        reporting_mta="delivery.test",
        control_interval=0.05,
    )
    await delivery.scheduler.start()
    return delivery


@pytest.fixture
async def delivery(tmp_path: Path, upstream: Upstream) -> Delivery:
    running = await start_delivery(tmp_path / "spool", upstream)
    yield running
    await running.close()


def status_fields(raw: bytes) -> list[Any]:
    report = message_from_bytes(raw, policy=default)
    assert report.get_content_type() == "multipart/report"
    return report.get_payload()[1].get_payload()


async def test_a_committed_message_is_delivered_once_and_leaves_the_spool(
    delivery: Delivery, upstream: Upstream
) -> None:
    queue_id = await delivery.commit("customer@example.com", "bookkeeper@example.com", category="billing")

    detail = await delivery.wait_status(queue_id, "delivered")

    [received] = upstream.messages
    assert received.data == MESSAGE
    assert received.recipients == ("customer@example.com", "bookkeeper@example.com")
    assert detail.attempts == 1
    assert detail.reply.startswith("250 ")
    assert delivery.reports[0].category == "billing"
    assert read_queue(delivery.spool.folder) == []
    assert delivery.spool.recover() == []


async def test_an_upstream_that_is_down_gets_the_message_once_it_is_back(
    delivery: Delivery, upstream: Upstream
) -> None:
    upstream.stop()
    queue_id = await delivery.commit("customer@example.com")

    deferred = await delivery.wait_status(queue_id, "deferred")
    assert f"connect to 127.0.0.1:{upstream.port} failed" in deferred.reply
    [waiting] = read_queue(delivery.spool.folder)
    assert waiting.pending == ["customer@example.com"] and "connect to" in waiting.last_error
    upstream.start()

    delivered = await delivery.wait_status(queue_id, "delivered")
    assert delivered.attempts >= 2
    assert len(upstream.messages) == 1


async def test_a_451_is_retried_after_the_backoff(delivery: Delivery, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    started = time.time()
    queue_id = await delivery.commit("customer@example.com")

    deferred = await delivery.wait_status(queue_id, "deferred")
    delivered = await delivery.wait_status(queue_id, "delivered")

    assert deferred.reply == "451 4.3.0 try again later"
    assert deferred.next_attempt is not None and deferred.next_attempt >= started + FAST["min_backoff"]
    assert delivered.attempts == 2
    assert len(upstream.messages) == 1


async def test_a_550_for_one_recipient_delivers_to_the_others_and_bounces_to_the_sender(
    delivery: Delivery, upstream: Upstream
) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    queue_id = await delivery.commit("customer@example.com", "gone@example.com")

    detail = await delivery.wait_status(queue_id, "partially failed")
    assert detail.delivered.keys() == {"customer@example.com"}
    assert detail.failed == {"gone@example.com": "550 5.1.1 no such user"}
    assert detail.dsn_id is not None
    await delivery.wait_status(detail.dsn_id, "delivered")

    original, bounce = upstream.messages
    assert original.recipients == ("customer@example.com",)
    assert (bounce.sender, bounce.recipients) == ("", (SENDER,))
    _, gone = status_fields(bounce.data)
    assert gone["Final-Recipient"] == "rfc822; gone@example.com"
    assert gone["Status"] == "5.1.1"
    assert gone["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user"
    assert b"Message-ID: <42@shop.example>" in bounce.data
    assert delivery.statuses_of(queue_id) == ["partially failed"]


async def test_the_null_sender_gets_no_bounce(delivery: Delivery, upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    queue_id = await delivery.commit("gone@example.com", sender="")

    detail = await delivery.wait_status(queue_id, "failed")

    assert detail.dsn_id is None
    assert read_queue(delivery.spool.folder) == []
    assert upstream.messages == []
    assert [r.queue_id for r in delivery.reports] == [queue_id]


async def test_a_bounce_that_bounces_is_not_bounced_again(delivery: Delivery, upstream: Upstream) -> None:
    upstream.reply_rcpt("gone@example.com", "550 5.1.1 no such user")
    upstream.reply_rcpt(SENDER, "550 5.1.1 the sender does not exist either")
    queue_id = await delivery.commit("gone@example.com")

    detail = await delivery.wait_status(queue_id, "failed")
    bounce = await delivery.wait_status(detail.dsn_id or "", "failed")

    assert bounce.dsn_id is None
    assert read_queue(delivery.spool.folder) == []
    assert upstream.messages == []
    assert len(delivery.reports) == 2


async def test_a_plain_function_can_take_the_status_reports(tmp_path: Path, upstream: Upstream) -> None:
    seen: list[tuple[str, str, int]] = []
    spool = Spool(tmp_path / "spool")
    pool = UpstreamPool(UpstreamConfig(upstream.host, upstream.port, timeout=5.0))
    scheduler = Scheduler(
        spool,
        pool,
        policy=RetryPolicy(**FAST),
        on_status=lambda message, status, reply, dsn_id: seen.append((message.queue_id, status, message.attempts)),
        reporting_mta="delivery.test",
    )
    await scheduler.start()
    try:
        queue_id = await spool.commit(QueuedMessage("", SENDER, ("customer@example.com",)), MESSAGE)
        await wait_until(lambda: seen)
    finally:
        await scheduler.stop()
        await spool.close()

    assert seen == [(queue_id, "delivered", 1)]


async def test_a_recipient_still_deferred_when_the_lifetime_ends_expires_with_a_bounce(
    tmp_path: Path, upstream: Upstream
) -> None:
    upstream.reply_rcpt("slow@example.com", "451 4.2.0 greylisted, try later")
    delivery = await start_delivery(tmp_path / "spool", upstream, max_lifetime=1.0)
    try:
        queue_id = await delivery.commit("slow@example.com")

        detail = await delivery.wait_status(queue_id, "expired")
        await delivery.wait_status(detail.dsn_id or "", "delivered")
    finally:
        await delivery.close()

    assert detail.attempts >= 2
    [bounce] = upstream.messages
    _, slow = status_fields(bounce.data)
    # RFC 3463 4.4.7 "delivery time expired"; the last temporary reply is the diagnostic.
    assert (slow["Action"], slow["Status"]) == ("failed", "4.4.7")
    assert slow["Diagnostic-Code"] == "smtp; 451 4.2.0 greylisted, try later"
    assert b"retry period ended" in bounce.data


async def test_after_a_restart_nothing_accepted_is_sent_again(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_rcpt("later@example.com", "451 4.3.0 not now")
    first = await start_delivery(tmp_path / "spool", upstream)
    queue_id = await first.commit("now@example.com", "later@example.com")
    await first.wait_status(queue_id, "deferred")
    await first.close()

    upstream.clear_rules()
    second = await start_delivery(tmp_path / "spool", upstream)
    try:
        detail = await second.wait_status(queue_id, "delivered")
    finally:
        await second.close()

    assert [m.recipients for m in upstream.messages] == [("now@example.com",), ("later@example.com",)]
    assert detail.delivered.keys() == {"now@example.com", "later@example.com"}


async def test_queued_messages_share_one_upstream_connection(tmp_path: Path, upstream: Upstream) -> None:
    delivery = await start_delivery(tmp_path / "spool", upstream, concurrency=1)
    try:
        ids = [await delivery.commit(f"customer{n}@example.com") for n in range(5)]
        for queue_id in ids:
            await delivery.wait_status(queue_id, "delivered")
    finally:
        await delivery.close()

    assert len(upstream.messages) == 5
    assert upstream.connections == 1


async def test_retry_now_from_another_process_makes_a_deferred_message_due(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    delivery = await start_delivery(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        queue_id = await delivery.commit("customer@example.com")
        await delivery.wait_status(queue_id, "deferred")

        request_retry_now(delivery.spool.folder)

        await delivery.wait_status(queue_id, "delivered", timeout=5)
        assert list((delivery.spool.folder / "control").iterdir()) == []
    finally:
        await delivery.close()


async def test_delete_from_another_process_stops_delivery(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("451 4.3.0 try again later", times=1)
    delivery = await start_delivery(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        queue_id = await delivery.commit("customer@example.com")
        await delivery.wait_status(queue_id, "deferred")

        request_delete(delivery.spool.folder, queue_id)

        await delivery.wait_status(queue_id, "deleted", timeout=5)
        assert read_queue(delivery.spool.folder) == []
        request_retry_now(delivery.spool.folder)
        await wait_until(lambda: not list((delivery.spool.folder / "control").iterdir()))
    finally:
        await delivery.close()

    assert upstream.messages == []
    assert delivery.statuses_of(queue_id) == ["deferred", "deleted"]


async def test_commands_given_while_the_relay_was_down_apply_when_it_starts(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_rcpt("a@example.com", "451 4.3.0 not now")
    upstream.reply_rcpt("b@example.com", "451 4.3.0 not now")
    first = await start_delivery(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    doomed = await first.commit("a@example.com")
    waiting = await first.commit("b@example.com")
    await first.wait_status(doomed, "deferred")
    await first.wait_status(waiting, "deferred")
    await first.close()

    upstream.clear_rules()
    request_delete(tmp_path / "spool", doomed)
    request_retry_now(tmp_path / "spool")
    second = await start_delivery(tmp_path / "spool", upstream, min_backoff=3600, max_backoff=3600)
    try:
        await second.wait_status(doomed, "deleted")
        await second.wait_status(waiting, "delivered")
    finally:
        await second.close()

    assert [m.recipients for m in upstream.messages] == [("b@example.com",)]


async def test_stop_abandons_a_stalled_attempt_and_keeps_the_message(tmp_path: Path, upstream: Upstream) -> None:
    upstream.reply_data("250 2.0.0 too late", delay=30)
    delivery = await start_delivery(tmp_path / "spool", upstream)
    queue_id = await delivery.commit("customer@example.com")
    await wait_until(lambda: upstream.stalled)

    started = time.monotonic()
    await delivery.close(timeout=0.2)

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
    original = await spool.commit(QueuedMessage("", SENDER, ("ok@example.com", "gone@example.com")), MESSAGE)
    reports = {"gone@example.com": Failure(Reply(550, "5.1.1 no such user"))}
    dsn = await spool.commit(
        QueuedMessage("", "", (SENDER,), dsn_for=original, dsn_reports=reports), b"Subject: bounce\r\n\r\n"
    )
    await spool.close()

    delivery = await start_delivery(tmp_path / "spool", upstream)
    try:
        detail = await delivery.wait_status(original, "partially failed")
        await delivery.wait_status(dsn, "delivered")
    finally:
        await delivery.close()

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


async def test_a_message_whose_bounce_cannot_be_written_still_leaves_the_queue(
    tmp_path: Path, upstream: Upstream
) -> None:
    # A sender that is not valid UTF-8 (an earlier relay let such through):
    # it cannot be written to the upstream, nor into a bounce.
    delivery = await start_delivery(tmp_path / "spool", upstream)
    try:
        queue_id = await delivery.commit("customer@example.com", sender="\udcff\udcfe@b.example")
        report = await delivery.wait_status(queue_id, "failed")
        await wait_until(lambda: read_queue(delivery.spool.folder) == [])
    finally:
        await delivery.close()

    assert report.dsn_id is None
    assert "5.1.7" in report.failed["customer@example.com"]
    assert upstream.messages == []


class _Broken:
    """A deliverer with a fault of its own: every attempt raises, or answers nonsense."""

    concurrency = 1
    remote_name = None

    def __init__(self, fault: str) -> None:
        self.fault = fault

    async def deliver(self, *args, **kwargs):
        if self.fault == "raises":
            raise RuntimeError("something inside broke")
        return None  # the scheduler itself trips over this

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("fault", ["raises", "nonsense"])
async def test_an_exception_in_every_attempt_still_ends_in_expiry(tmp_path: Path, fault: str) -> None:
    spool = Spool(tmp_path / "spool")
    reports: list[tuple[str, str, int]] = []
    scheduler = Scheduler(
        spool,
        _Broken(fault),
        policy=RetryPolicy(min_backoff=0.05, max_backoff=0.1, max_lifetime=0.5),
        on_status=lambda message, status, reply, dsn_id: reports.append((message.queue_id, status, message.attempts)),
        reporting_mta="relay.test",
        control_interval=0.05,
    )
    await scheduler.start()
    try:
        queue_id = await spool.commit(QueuedMessage("", SENDER, ("customer@example.com",)), MESSAGE)
        await wait_until(lambda: any(q == queue_id and s == "expired" for q, s, _ in reports), timeout=15)
    finally:
        await scheduler.stop()
        await spool.close()

    mine = [(s, n) for q, s, n in reports if q == queue_id]
    assert mine[-1][0] == "expired" and mine[-1][1] >= 2
    assert all(s == "deferred" for s, _ in mine[:-1])
