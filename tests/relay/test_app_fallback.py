"""Fallback upstreams (``serve --upstream A --upstream B``), as Postfix's smtp_fallback_relay.

Two real upstreams on ephemeral ports; the relay runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry

from contacts_tui.core.mail import relay_log as maillog
from relay.ops import metrics

from ..waiting import wait_until
from .helpers import ACME, ACME_BILLING, SENDER, logged, message, parsed, relay_config, running, seed, send


def two(tmp_path, first, second, **changes):
    return relay_config(tmp_path, first, upstreams=((first.host, first.port), (second.host, second.port)), **changes)


async def test_the_fallback_takes_the_mail_while_the_first_upstream_is_down(
    sqlite_directory, make_upstream, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    seed(sqlite_directory)
    first, second = make_upstream(), make_upstream()
    first.stop()
    # The first upstream is passed over for --min-backoff (3 s here) after it failed: long enough
    # for the three messages even on a busy machine.
    async with running(two(tmp_path, first, second, min_backoff=3, max_backoff=6), sqlite_directory) as relay:
        replies = [await send(relay.port, [ACME], message(subject=f"down {n}")) for n in range(3)]
        assert [reply.code for reply in replies] == [250] * 3
        got = await second.wait_for(3)
        for reply in replies:
            row = await logged(reply.queue_id)
            assert row.attempts == 1 and row.last_error == ""
        # Passed over meanwhile, as Postfix marks a dead host.
        assert relay.upstreams is not None and relay.upstreams._skipped(0) is not None
        first.start()
        # Once the mark runs out, the first upstream has the mail again.
        await wait_until(lambda: relay.upstreams is not None and relay.upstreams._skipped(0) is None, 20)
        later = await send(relay.port, [ACME], message(subject="back"))
        [back] = await first.wait_for(1)
        await logged(later.queue_id)
    assert sorted(parsed(m.data)["Subject"] for m in got) == ["down 0", "down 1", "down 2"]
    assert all(sorted(m.recipients) == sorted([ACME, *ACME_BILLING]) for m in got)
    assert parsed(back.data)["Subject"] == "back" and len(second.messages) == 3
    said = [r.getMessage() for r in caplog.records if r.name == "relay.delivery.fallback"]
    assert any(
        line.startswith(f"upstream 127.0.0.1:{first.port} cannot be reached: 4.4.1 connect to")
        and f"mail goes to 127.0.0.1:{second.port} meanwhile" in line
        for line in said
    ), said
    assert f"upstream 127.0.0.1:{first.port} takes mail again" in said


async def test_a_4xx_moves_on_to_the_fallback_and_a_5xx_from_the_first_is_final(
    sqlite_directory, make_upstream, tmp_path
):
    seed(sqlite_directory)
    first, second = make_upstream(), make_upstream()
    first.reply_rcpt("books@acme.example", "452 4.2.2 Mailbox full")
    first.reply_rcpt("gone@acme.example", "550 5.1.1 No such user")
    async with running(two(tmp_path, first, second), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message(message_id="<split@shop.example>"))
        row = await logged(reply.queue_id, "partially failed")
        # The bounce for gone@ goes out through the first upstream, which takes the sender.
        await wait_until(lambda: len(first.messages) == 2)
    at_first, dsn = first.messages
    [at_second] = second.messages
    assert sorted(at_first.recipients) == sorted([ACME, "boss@acme.example"])
    assert at_second.recipients == ("books@acme.example",)  # deferred by the first, taken by the second
    assert "gone@acme.example" not in at_second.recipients  # 5xx: never tried elsewhere
    assert dsn.recipients == (SENDER,) and b"550 5.1.1 No such user" in dsn.data
    assert row.attempts == 1 and "550 5.1.1" in row.last_error


async def test_mail_every_upstream_defers_waits_in_the_spool_and_goes_when_one_is_back(
    sqlite_directory, make_upstream, tmp_path
):
    seed(sqlite_directory)
    first, second = make_upstream(), make_upstream()
    first.reply_data("451 4.3.0 Try later")
    second.stop()
    async with running(two(tmp_path, first, second), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message())
        row = await wait_until(
            lambda: (r := maillog.log_for_queue_id(reply.queue_id)) and r.attempts >= 2 and r,
            describe=lambda: maillog.log_for_queue_id(reply.queue_id),
        )
        assert row.status == "deferred"
        # The reason is the last upstream's: the second was tried after the first's 451.
        assert f"127.0.0.1:{second.port}" in row.last_error and "Connection refused" in row.last_error
        second.start()
        [got] = await second.wait_for(1)
        await logged(reply.queue_id)
    assert first.messages == [] and sorted(got.recipients) == sorted([ACME, *ACME_BILLING])


async def test_replies_are_counted_by_upstream(sqlite_directory, make_upstream, tmp_path):
    seed(sqlite_directory)
    first, second = make_upstream(), make_upstream()
    first.stop()
    registry = CollectorRegistry()
    saved, metrics.current = metrics.current, metrics.Metrics(registry)
    try:
        async with running(two(tmp_path, first, second), sqlite_directory) as relay:
            reply = await send(relay.port, [ACME], message())
            await logged(reply.queue_id)
    finally:
        metrics.current = saved

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    one, other = f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"
    assert sample("contacts_relay_delivery_replies_total", reply_class="local", upstream=one) == 4
    assert sample("contacts_relay_delivery_replies_total", reply_class="2xx", upstream=other) == 4
    assert sample("contacts_relay_upstream_up", upstream=one) == 0
    assert sample("contacts_relay_upstream_up", upstream=other) == 1


async def test_the_rate_limit_is_never_exceeded_and_nothing_is_refused(sqlite_directory, make_upstream, tmp_path):
    from relay.delivery.rate import Rate

    seed(sqlite_directory)
    upstream = make_upstream()
    # Each message goes to the customer and three contact persons: 4 recipients, so 2 messages a second.
    config = relay_config(tmp_path, upstream, upstream_rate=Rate.parse("8/s"), upstream_connections=4)
    async with running(config, sqlite_directory) as relay:
        replies = await asyncio.gather(*(send(relay.port, [ACME], message(subject=f"r{n}")) for n in range(8)))
        assert [reply.code for reply in replies] == [250] * 8
        got = await upstream.wait_for(8, timeout=20)
    times = sorted(m.mail_at for m in got)
    # Recipients in any half second, as the upstream saw them arrive: half a second of slack
    # for a busy machine's scheduling, while a relay without the limit sends all 32 at once.
    worst = max(sum(4 for t in times if start <= t < start + 0.5) for start in times)
    assert worst <= 8, times
    assert times[-1] - times[0] >= 2.5  # 8 messages at 2 a second: the last goes 3 s after the first
