"""Delivery as an operator sees it: an upstream that is down, busy or refusing,
bounces to the sender, and ``contacts-relay queue`` against a running relay.

The relay runs in the test's loop with retries after 0.05 to 0.2 s (or, where a
test must be the one to trigger the retry, after 300 s).
"""

from __future__ import annotations

import json
import logging

from contacts_tui.core.mail import relay_log

from ..waiting import wait_until
from .helpers import ACME, ACME_BILLING, SENDER, logged, message, parsed, relay_config, run_cli, running, seed, send


async def test_upstream_down_for_a_while_then_up_everything_is_delivered_once(
    sqlite_directory, upstream, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="relay.app")
    seed(sqlite_directory)
    upstream.stop()
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        replies = [await send(relay.port, [ACME], message(subject=f"while down {i}")) for i in range(5)]
        assert all(r.code == 250 for r in replies)
        # Retried a few times while the upstream is away, and the log says why.
        for reply in replies:
            await wait_until(
                lambda q=reply.queue_id: (row := relay_log.log_for_queue_id(q)) and row.attempts >= 2,
                describe=lambda q=reply.queue_id: relay_log.log_for_queue_id(q),
            )
        row = relay_log.log_for_queue_id(replies[0].queue_id)
        assert row.status == "deferred" and "Connection refused" in row.last_error
        assert upstream.messages == []

        upstream.start()
        await upstream.wait_for(5)
        for reply in replies:
            row = await logged(reply.queue_id)
            assert row.last_error == ""
    subjects = sorted(parsed(m.data)["Subject"] for m in upstream.messages)
    assert subjects == [f"while down {i}" for i in range(5)]
    # The operator's log tells each step (one line per attempt).
    lines = [r.getMessage() for r in caplog.records if r.name == "relay.app"]
    first = replies[0].queue_id
    assert any(
        line.startswith(f"{first} deferred after attempt 1, next at ") and "Connection refused" in line
        for line in lines
    ), lines
    assert any(line.startswith(f"{first} delivered to acme@customer.example, ") for line in lines), lines
    assert all(sorted(m.recipients) == sorted([ACME, *ACME_BILLING]) for m in upstream.messages)


async def test_upstream_answering_451_then_250_delivers_on_the_retry(sqlite_directory, upstream, tmp_path):
    seed(sqlite_directory)
    upstream.reply_data("451 4.3.0 Greylisted, please try again", times=1)
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message())
        [got] = await upstream.wait_for(1)
        row = await logged(reply.queue_id)
    assert upstream.refusals == [("data", "", "451 4.3.0 Greylisted, please try again")]
    assert row.attempts == 2
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])


async def test_550_for_one_recipient_delivers_the_others_and_bounces_to_the_sender(
    sqlite_directory, upstream, tmp_path, caplog
):
    seed(sqlite_directory)
    upstream.reply_rcpt("books@acme.example", "550 5.1.1 <books@acme.example>: no such user")
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message(message_id="<inv-550@shop.example>"))
        first, dsn = await upstream.wait_for(2)
        row = await logged(reply.queue_id, "partially failed")
        bounce = await wait_until(lambda: [r for r in relay_log.recent_log(10) if r.decision == "bounce"])

    assert sorted(first.recipients) == sorted([ACME, "boss@acme.example", "gone@acme.example"])
    assert (dsn.sender, dsn.recipients) == ("", (SENDER,))
    report = parsed(dsn.data)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    text = dsn.data.decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; books@acme.example" in text
    assert "Status: 5.1.1" in text
    assert "550 5.1.1 <books@acme.example>: no such user" in text
    assert "<inv-550@shop.example>" in text  # the original's headers travel with it
    assert "boss@acme.example" not in text.split("message/delivery-status", 1)[1].split("--", 1)[0]

    assert "550 5.1.1" in row.last_error
    assert bounce[0].recipients == (SENDER,) and "books@acme.example" in bounce[0].reason
    warning = f"{reply.queue_id} partially failed: books@acme.example: 550 5.1.1 <books@acme.example>: no such user"
    assert any(r.getMessage().startswith(warning) and "bounce" in r.getMessage() for r in caplog.records)


async def test_queue_lists_a_deferred_message_and_retry_now_and_delete_act_on_the_running_relay(
    sqlite_directory, upstream, tmp_path, capsys
):
    seed(sqlite_directory)
    upstream.stop()
    spool = str(tmp_path / "spool")
    # Retries only when asked: a 5-minute backoff.
    config = relay_config(tmp_path, upstream, min_backoff=300, max_backoff=600)
    async with running(config, sqlite_directory) as relay:
        keep = await send(relay.port, [ACME], message(subject="keep me"))
        drop = await send(relay.port, [ACME], message(subject="drop me"))
        for reply in (keep, drop):
            await logged(reply.queue_id, "deferred")

        code, out, _ = run_cli(capsys, "queue", "--spool", spool)
        assert code == 0
        assert keep.queue_id in out and drop.queue_id in out
        assert f"from {SENDER}" in out
        assert "1 attempt(s)" in out
        assert "last error: 4.4.1 connect to 127.0.0.1:" in out and "Connection refused" in out
        code, out, _ = run_cli(capsys, "queue", "--spool", spool, "--json")
        listed = {item["queue_id"]: item for item in map(json.loads, out.splitlines())}
        assert set(listed) == {keep.queue_id, drop.queue_id}
        assert sorted(listed[keep.queue_id]["pending"]) == sorted([ACME, *ACME_BILLING])

        code, out, _ = run_cli(capsys, "queue", "--spool", spool, "--delete", drop.queue_id.lower())
        assert code == 0 and drop.queue_id in out
        await logged(drop.queue_id, "deleted")
        code, out, _ = run_cli(capsys, "queue", "--spool", spool)
        assert keep.queue_id in out and drop.queue_id not in out

        upstream.start()
        code, out, _ = run_cli(capsys, "queue", "--spool", spool, "--retry-now")
        assert code == 0
        await logged(keep.queue_id, "delivered")
        code, out, _ = run_cli(capsys, "queue", "--spool", spool)
        assert "is empty" in out
    [got] = upstream.messages
    assert parsed(got.data)["Subject"] == "keep me"


async def test_queue_delete_of_an_unknown_id_and_a_missing_spool_say_so(tmp_path, capsys):
    code, _, err = run_cli(capsys, "queue", "--spool", str(tmp_path / "nowhere"))
    assert code == 1 and "no spool" in err
    (tmp_path / "spool").mkdir()
    code, _, err = run_cli(capsys, "queue", "--spool", str(tmp_path / "spool"), "--delete", "not-an-id")
    assert code == 1 and "no message NOT-AN-ID in the queue" in err


async def test_a_recipient_still_deferred_at_max_lifetime_expires_with_a_bounce(sqlite_directory, upstream, tmp_path):
    seed(sqlite_directory)
    upstream.reply_rcpt(ACME, "451 4.2.1 Mailbox busy, try later")
    config = relay_config(tmp_path, upstream, max_lifetime=1.0)
    async with running(config, sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message(message_id="<inv-expired@shop.example>"))
        copies, dsn = await upstream.wait_for(2, timeout=15)
        row = await logged(reply.queue_id, "partially failed")

    assert sorted(copies.recipients) == sorted(ACME_BILLING)  # the contacts got theirs at once
    assert (dsn.sender, dsn.recipients) == ("", (SENDER,))
    text = dsn.data.decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; acme@customer.example" in text
    assert "Action: failed" in text
    assert "451 4.2.1 Mailbox busy, try later" in text
    assert "<inv-expired@shop.example>" in text
    assert row.attempts >= 2 and "451 4.2.1" in row.last_error


async def test_a_contact_with_a_utf8_address_does_not_cost_the_customer_the_notification(
    sqlite_directory, make_upstream, tmp_path
):
    seed(sqlite_directory)
    upstream = make_upstream(smtputf8=False)  # e.g. an older Exchange or a smarthost without RFC 6531
    customer = "kundin@xn--bcher-kva.example"  # the ASCII form of kundin@bücher.example
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [customer], message(to=customer))
        await logged(reply.queue_id, ["delivered", "partially failed", "failed"])
        await wait_until(lambda: upstream.messages)
    copies = [m for m in upstream.messages if m.sender == SENDER]
    # The ASCII recipients get the notification, ida@bücher.example in its xn-- form, in Cc too;
    # only zoë@bücher.example cannot be reached this way.
    assert copies and set(copies[0].recipients) == {customer, "lukasz@buecher.example", "ida@xn--bcher-kva.example"}
    assert "ida@xn--bcher-kva.example" in parsed(copies[0].data)["Cc"]
    row = await logged(reply.queue_id, ["partially failed"])
    assert ("ida@bücher.example", "ida@xn--bcher-kva.example") in [(a.email, a.sent) for a in row.added]
    assert "ida@bücher.example written as ida@xn--bcher-kva.example" in row.reason


async def test_a_pooled_connection_the_upstream_dropped_is_replaced_without_a_deferral(
    sqlite_directory, upstream, tmp_path
):
    seed(sqlite_directory)
    async with running(relay_config(tmp_path, upstream, min_backoff=300, max_backoff=600), sqlite_directory) as relay:
        first = await send(relay.port, [ACME], message(subject="before the restart"))
        await logged(first.queue_id)
        upstream.stop()  # cuts the relay's idle pooled connection
        upstream.start()
        second = await send(relay.port, [ACME], message(subject="after the restart"))
        row = await logged(second.queue_id)  # a deferral would wait 300 s
    assert row.attempts == 1
    assert [parsed(m.data)["Subject"] for m in upstream.messages] == ["before the restart", "after the restart"]
    assert upstream.connections == 2
