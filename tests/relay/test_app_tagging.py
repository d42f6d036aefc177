"""Tagging rules in the running relay: real-looking notifications without a
category header, through a real relay to the recording upstream."""

from __future__ import annotations

import asyncio
import threading

import pytest

from contacts_tui.core.directory.history import Actor
from contacts_tui.core.mail import relay_log
from contacts_tui.core.models import RelayLog, utcnow
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.kept import read_kept
from contacts_tui.core.tagging.rule import PATTERN, RuleInput
from contacts_tui.core.tagging.trial import past_messages, try_rule

from ..notifications import SENDER as PAYREQUEST
from ..notifications import dutch_invoice, english_invoice, newsletter, payment_reminder, sepa_mandate
from .helpers import (
    ACME,
    ACME_ACCOUNT,
    ACME_BILLING,
    BETA,
    RawSession,
    cc_of,
    logged,
    message,
    relay_config,
    running,
    send,
    split,
    worst_reply_time,
)

ADMIN = Actor("admin alice", "cli")


def rule(directory, number=None, enabled=True, **fields):
    return store.add_rule(RuleInput(enabled=enabled, **fields), directory.catalog, ADMIN, number=number)


@pytest.fixture
async def relay(directory, upstream, tmp_path):
    from .helpers import seed

    seed(directory)
    async with running(relay_config(tmp_path, upstream), directory) as running_relay:
        yield running_relay


async def test_notifications_without_a_header_get_the_contacts_their_rule_says(directory, relay, upstream):
    rule(directory, category="payment.reminder", subject=r"herinnering\b", subject_match=PATTERN)
    rule(directory, category="mandate.requested", subject="mandate")
    rule(directory, category="invoice.created", sender="*@payrequest.example", subject="Factuur")
    rule(directory, category="invoice.created", subject="Invoice", header_name="X-Mailer", header_value="PayRequest")
    sent = {
        "dutch invoice": dutch_invoice(ACME),
        "english invoice": english_invoice(ACME),
        "reminder": payment_reminder(ACME),
        "mandate": sepa_mandate(ACME),
        "newsletter": newsletter(ACME),
    }
    replies = {name: await send(relay.port, [ACME], data, sender=PAYREQUEST) for name, data in sent.items()}
    assert all(reply.code == 250 for reply in replies.values()), replies
    got = {split(m.data)[1]: m for m in await upstream.wait_for(len(sent))}
    for name, data in sent.items():
        arrived = got[split(data)[1]]  # the body, byte for byte
        expected = [] if name == "newsletter" else ACME_BILLING
        assert sorted(cc_of(arrived.data)) == sorted(expected), name
        assert sorted(arrived.recipients) == sorted([ACME, *expected]), name

    rows = {name: await logged(reply.queue_id) for name, reply in replies.items()}
    assert rows["dutch invoice"].tagged_by == "rule 3: From *@payrequest.example and Subject contains 'Factuur'"
    assert rows["dutch invoice"].reason.startswith(
        "tagged invoice.created by rule 3: From *@payrequest.example and Subject contains 'Factuur'; "
    )
    assert rows["dutch invoice"].category == "invoice.created" and rows["dutch invoice"].category_key == "billing"
    assert rows["english invoice"].tagged_by == "rule 4: Subject contains 'Invoice' and X-Mailer contains 'PayRequest'"
    assert rows["reminder"].tagged_by == "rule 1: Subject matches /herinnering\\b/"
    assert rows["mandate"].tagged_by == "rule 2: Subject contains 'mandate'"
    assert rows["newsletter"].tagged_by == "" and rows["newsletter"].decision == "unchanged"
    assert rows["newsletter"].reason == "no notification category header, and none of the 4 tagging rules matched"

    # What `rules try` reads later: the headers, decoded later, and nothing of the body.
    kept = RelayLog.get(RelayLog.queue_id == replies["reminder"].queue_id).kept_headers
    fields = dict(read_kept(kept).fields)
    assert fields["x-mailer"] == "PayRequest Mailer 4.2"
    assert fields["subject"].startswith("=?utf-8?b?") and "?= =?utf-8?b?" in fields["subject"]  # unfolded
    assert "vervallen" not in kept and "nog niet ontvangen" not in kept and "received" not in fields


async def test_a_category_header_always_wins_over_every_rule(directory, relay, upstream):
    rule(directory, category="billing", subject="Invoice")
    reply = await send(relay.port, [ACME], message(category="account", subject="Invoice INV-7"))
    [got] = await upstream.wait_for(1)
    assert sorted(cc_of(got.data)) == sorted(ACME_ACCOUNT)
    row = await logged(reply.queue_id)
    assert row.tagged_by == "" and "tagged" not in row.reason
    assert RelayLog.get(RelayLog.queue_id == reply.queue_id).kept_headers == ""


async def test_the_relays_header_option_names_the_header_that_wins(directory, upstream, tmp_path):
    """--header (RELAY_HEADER) keeps working: the header it names wins over every rule, and a
    message without it is asked the rules, whatever other category header it carries."""
    from .helpers import seed

    seed(directory)
    rule(directory, category="billing", subject="Invoice")
    async with running(relay_config(tmp_path, upstream, category_header="X-Billing-Type"), directory) as relay:
        named = message(category=None, subject="Invoice INV-8", headers=[("X-Billing-Type", "account")])
        other = message(category="account", subject="Invoice INV-9")  # X-Notification-Category, not the one named
        first = await send(relay.port, [ACME], named)
        second = await send(relay.port, [ACME], other)
        got = {m.data.split(b"Subject: ")[1][:13]: m for m in await upstream.wait_for(2)}
    assert sorted(cc_of(got[b"Invoice INV-8"].data)) == sorted(ACME_ACCOUNT)
    assert sorted(cc_of(got[b"Invoice INV-9"].data)) == sorted(ACME_BILLING)
    first_row, second_row = await logged(first.queue_id), await logged(second.queue_id)
    assert first_row.category == "account" and first_row.tagged_by == ""
    assert second_row.category == "billing" and second_row.tagged_by == "rule 1: Subject contains 'Invoice'"


async def test_a_tagged_message_for_two_customers_is_one_message_of_the_past(directory, relay, upstream):
    """One copy per customer, each logged with the rule; `rules try` counts the message once."""
    factuur = rule(directory, category="billing", subject="Factuur")
    reply = await send(relay.port, [ACME, BETA], dutch_invoice(ACME), sender=PAYREQUEST)
    arrived = await upstream.wait_for(2)
    assert sorted(len(cc_of(m.data)) for m in arrived) == [1, len(ACME_BILLING)]
    await logged(reply.queue_id)
    rows = list(RelayLog.select().where(RelayLog.tagged_by != ""))
    assert len(rows) == 2 and {row.copy_count for row in rows} == {2}
    assert all(row.tagged_by == "rule 1: Subject contains 'Factuur'" for row in rows)
    since = utcnow().replace(year=2000)
    [past] = past_messages(since)
    assert sorted(past.recipients) == sorted([ACME, BETA])
    trial = try_rule(factuur, [factuur], [past], directory.resolve, since=since)
    assert trial is not None and len(trial.hits) == 1 and trial.copies == len(ACME_BILLING) + 1


async def test_a_rule_change_reaches_every_worker_on_the_next_message(directory, upstream, tmp_path):
    from .helpers import seed

    seed(directory)
    factuur = rule(directory, enabled=False, category="billing", subject="Factuur")
    # Two relays on one database, as two workers (or two hosts) are.
    async with (
        running(relay_config(tmp_path / "one", upstream), directory) as one,
        running(relay_config(tmp_path / "two", upstream), directory) as two,
    ):
        for port in (one.port, two.port):
            await send(port, [ACME], dutch_invoice(ACME), sender=PAYREQUEST)
        for arrived in await upstream.wait_for(2):
            assert cc_of(arrived.data) == []
        store.set_enabled(factuur.id, True, ADMIN)
        for port in (one.port, two.port):
            await send(port, [ACME], dutch_invoice(ACME), sender=PAYREQUEST)
        for arrived in (await upstream.wait_for(4))[2:]:
            assert sorted(cc_of(arrived.data)) == sorted(ACME_BILLING)
        store.set_enabled(factuur.id, False, ADMIN)
        for port in (one.port, two.port):
            await send(port, [ACME], dutch_invoice(ACME), sender=PAYREQUEST)
        for arrived in (await upstream.wait_for(6))[4:]:
            assert cc_of(arrived.data) == []


async def test_a_pathological_pattern_does_not_hold_up_other_sessions(directory, relay, upstream, capsys):
    rule(directory, category="billing", subject="(a+)+$", subject_match=PATTERN)
    done = threading.Event()
    watcher = asyncio.create_task(asyncio.to_thread(worst_reply_time, relay.port, done))
    replies = []
    try:

        def hostile() -> list:
            session = RawSession(relay.port)
            try:
                found = []
                for tail in ("", "!") * 5:
                    data = message(category=None, subject=_folded_words("a" * 50_000 + tail))
                    found.append(session.send_message(b"billing@shop.example", [ACME.encode()], data)[-1])
                return found
            finally:
                session.close()

        replies = await asyncio.to_thread(hostile)
    finally:
        done.set()
        worst = await watcher
    with capsys.disabled():
        print(f"\n(a+)+$ against 50,000 a's, 10 messages: another session's slowest reply {worst * 1000:.1f} ms")
    assert [code for code, _ in replies] == [250] * 10
    arrived = await upstream.wait_for(10)
    assert sum(1 for m in arrived if cc_of(m.data)) == 5  # tagged where the pattern matches, and only there
    # Generous: the figure above is the measurement (a few ms here); this only catches a stalled loop.
    assert worst < 1.0


def _folded_words(text: str) -> str:
    """``text`` as encoded-words of 64 characters, one per folded line: a line may not
    pass 998 characters, and decoded, adjacent words join into one text again."""
    words = [f"=?utf-8?q?{text[start : start + 64]}?=" for start in range(0, len(text), 64)]
    return "\r\n ".join(words)


async def test_the_log_finds_a_message_by_the_rule_that_tagged_it(directory, relay, upstream):
    rule(directory, category="billing", subject="Factuur")
    reply = await send(relay.port, [ACME], dutch_invoice(ACME), sender=PAYREQUEST)
    await upstream.wait_for(1)
    await logged(reply.queue_id)
    assert [entry.queue_id for entry in relay_log.recent_log(search="rule 1")] == [reply.queue_id]


async def test_rules_that_cannot_be_read_hold_the_message_back_with_451(pg_url, tmp_path, upstream):
    """A message without a header waits (451) while the database does not answer: sent
    without the rules, it would go out without the contacts a rule gives it."""
    from urllib.parse import urlsplit

    from contacts_tui.core.catalog import DEFAULT_CATALOG
    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.service import Directory
    from tests.conftest import pg_url_via

    from .helpers import seed
    from .helpers.faults import StallingProxy

    parts = urlsplit(pg_url)
    with StallingProxy(parts.hostname, parts.port or 5432) as proxy:
        database = open_database(pg_url_via(pg_url, "127.0.0.1", proxy.port))
        directory = Directory(database, DEFAULT_CATALOG)
        seed(directory)
        rule(directory, category="billing", subject="Factuur")
        try:
            async with running(relay_config(tmp_path, upstream, lookup_timeout=1.0), directory) as relay:

                def one() -> int:
                    session = RawSession(relay.port)
                    try:
                        data = dutch_invoice(ACME)
                        return session.send_message(PAYREQUEST.encode(), [ACME.encode()], data)[-1][0]
                    finally:
                        session.close()

                assert await asyncio.to_thread(one) == 250
                proxy.stall()
                assert await asyncio.to_thread(one) == 451
                proxy.resume()
                assert await asyncio.to_thread(one) == 250
                arrived = await upstream.wait_for(2)
        finally:
            database.close_all()
    assert all(sorted(cc_of(m.data)) == sorted(ACME_BILLING) for m in arrived)


async def test_messages_a_rule_tagged_are_counted(directory, upstream, tmp_path):
    from prometheus_client import CollectorRegistry

    from relay.ops import metrics

    from .helpers import seed

    seed(directory)
    rule(directory, category="billing", subject="Factuur")
    registry = CollectorRegistry()
    saved, metrics.current = metrics.current, metrics.Metrics(registry)
    try:
        async with running(relay_config(tmp_path, upstream), directory) as relay:
            for data in (dutch_invoice(ACME), newsletter(ACME), message(category="billing", subject="Factuur")):
                await send(relay.port, [ACME], data, sender=PAYREQUEST)
            await upstream.wait_for(3)
    finally:
        metrics.current = saved

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    assert sample("contacts_relay_messages_tagged_total") == 1
    assert sample("contacts_relay_messages_unchanged_total", reason="no_category") == 1
    assert sample("contacts_relay_messages_rewritten_total", added_to="cc") == 2
