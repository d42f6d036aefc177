"""A message for several customers: one copy per customer, so no customer sees another's contact persons.

Through a real relay and the recording upstream: each copy's envelope and Cc,
bodies and other headers untouched, DKIM still verifying, and what the relay
log and the captured messages say about the split.
"""

from __future__ import annotations

import io

from contacts_tui.core.csv.importer import import_csv
from contacts_tui.core.mail import relay_log

from .helpers import (
    ACME,
    ACME_BILLING,
    BETA,
    QUIET,
    cc_of,
    header_lines,
    log_json,
    logged,
    message,
    relay_config,
    run_cli,
    running,
    send,
    split,
)
from .helpers.dkim import sign, verifies

STRANGER = "someone@elsewhere.example"
UNDISCLOSED = "undisclosed-recipients:;"
# Bea is Beta's own; Mia (boss@acme.example) is a contact of both and gets ACME's copy.
BETA_BILLING = ["bea@beta.example"]


def _by_first_recipient(messages) -> dict[str, object]:
    return {got.recipients[0]: got for got in messages}


def _others(data: bytes) -> list[bytes]:
    """Header fields but the relay's Received trace and Cc: the same in every copy."""
    return [f for f in header_lines(data)[1:] if not f.lower().startswith(b"cc:")]


async def test_two_customers_and_a_stranger_get_three_copies_each_with_only_its_own_people(
    sqlite_directory, people, upstream, tmp_path, capsys, sqlite_url
):
    original = message(to=UNDISCLOSED, body=b"Your statement is attached.\r\n")
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME, BETA, STRANGER], original)
        assert reply.code == 250 and "and 2 more copies" in reply.text, reply
        got = _by_first_recipient(await upstream.wait_for(3))
        await logged(reply.queue_id, "delivered")
        rows = log_json(capsys, sqlite_url, "--search", reply.queue_id)

    assert len(upstream.messages) == 3
    acme, beta, stranger = got[ACME], got[BETA], got[STRANGER]
    assert sorted(acme.recipients) == sorted([ACME, *ACME_BILLING])
    assert sorted(cc_of(acme.data)) == sorted(ACME_BILLING)
    assert sorted(beta.recipients) == sorted([BETA, *BETA_BILLING])
    assert cc_of(beta.data) == BETA_BILLING
    assert stranger.recipients == (STRANGER,) and cc_of(stranger.data) == []
    for copy in (acme, beta, stranger):
        assert split(copy.data)[1] == split(original)[1]
        assert _others(copy.data) == header_lines(original)
        # Each copy names its own queue id and recipient in its trace.
        assert header_lines(copy.data)[0].startswith(b"Received: ")
    assert b"for <someone@elsewhere.example>" in header_lines(stranger.data)[0]

    # Three log entries, one per copy, found by the queue id of the first.
    assert [row["copy_number"] for row in sorted(rows, key=lambda r: r["copy_number"])] == [1, 2, 3]
    by_copy = {row["copy_number"]: row for row in rows}
    assert {row["copy_of"] for row in rows} == {reply.queue_id}
    assert {row["copy_count"] for row in rows} == {3}
    assert by_copy[1]["queue_id"] == reply.queue_id
    assert (by_copy[1]["recipients"], by_copy[1]["customers"]) == ([ACME], [ACME])
    assert sorted(a["email"] for a in by_copy[1]["added"]) == sorted(ACME_BILLING)
    assert (by_copy[2]["recipients"], by_copy[2]["customers"]) == ([BETA], [BETA])
    assert [a["email"] for a in by_copy[2]["added"]] == BETA_BILLING
    assert "boss@acme.example is a contact person of ACME GmbH too" in by_copy[2]["reason"]
    assert (by_copy[3]["recipients"], by_copy[3]["customers"], by_copy[3]["added"]) == ([STRANGER], [], [])
    assert by_copy[3]["decision"] == "unchanged"
    assert f"{STRANGER}: no customer's primary email" in by_copy[3]["reason"]

    code, out, _ = run_cli(capsys, "log", "--db", sqlite_url, "--search", reply.queue_id)
    assert code == 0
    assert out.count(f"one per customer (every copy: --search {reply.queue_id})") == 3
    assert "copy 2 of 3" in out


async def test_a_recipient_the_sender_addressed_who_is_a_customers_own_contact_shares_its_copy(
    sqlite_directory, people, upstream, tmp_path
):
    original = message(
        to=f"ACME <{ACME}>, Joerg <books@acme.example>", headers=[("Cc", "Office <office@acme.example>")]
    )
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        await send(relay.port, [ACME, "books@acme.example", "office@acme.example"], original)
        got = _by_first_recipient(await upstream.wait_for(2))
    acme, office = got[ACME], got["office@acme.example"]
    assert sorted(acme.recipients) == sorted([ACME, *ACME_BILLING])
    assert cc_of(acme.data) == ["office@acme.example", "boss@acme.example", "gone@acme.example"]
    # The office is not in the directory: it gets the message as sent.
    assert office.recipients == ("office@acme.example",)
    assert cc_of(office.data) == ["office@acme.example"]


async def test_customers_that_add_nobody_share_the_copy_of_the_strangers(
    sqlite_directory, people, upstream, tmp_path, capsys, sqlite_url
):
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        reply = await send(relay.port, [QUIET, ACME, STRANGER], message(to=UNDISCLOSED))
        got = _by_first_recipient(await upstream.wait_for(2))
        await logged(reply.queue_id, "delivered")
    assert sorted(got[ACME].recipients) == sorted([ACME, *ACME_BILLING])
    assert got[QUIET].recipients == (QUIET, STRANGER)
    assert cc_of(got[QUIET].data) == []
    rows = log_json(capsys, sqlite_url, "--search", reply.queue_id)
    [shared] = [row for row in rows if row["copy_number"] == 2]
    assert shared["customers"] == [QUIET]
    assert "nobody at Quiet Co is opted in to billing" in shared["reason"]


async def test_150_customers_get_150_copies_and_nobody_sees_another_customers_people(
    sqlite_directory, upstream, tmp_path
):
    rows = ["customer_email,customer_name,contact_name,contact_email,phone,role,categories"]
    for n in range(150):
        rows += [
            f"c{n}@customers.example,Customer {n},Person {n}-{k},p{n}-{k}@people.example,,,billing" for k in range(10)
        ]
    import_csv(sqlite_directory, io.BytesIO("\n".join(rows).encode()))
    customers = [f"c{n}@customers.example" for n in range(150)]
    async with running(relay_config(tmp_path, upstream, upstream_connections=8), sqlite_directory) as relay:
        reply = await send(relay.port, customers, message(to=UNDISCLOSED))
        assert reply.code == 250, reply
        received = await upstream.wait_for(150, timeout=60)
    assert len(received) == 150
    seen = set()
    for got in received:
        [customer] = [r for r in got.recipients if r.endswith("@customers.example")]
        n = customer.removeprefix("c").split("@")[0]
        mine = sorted(f"p{n}-{k}@people.example" for k in range(10))
        assert sorted(cc_of(got.data)) == mine
        assert sorted(got.recipients) == sorted([customer, *mine])
        seen.add(customer)
    assert seen == set(customers)


async def test_each_copy_of_a_signed_message_keeps_verifying(sqlite_directory, people, upstream, tmp_path, dkim_keys):
    without_cc = sign(message(to=UNDISCLOSED), dkim_keys, [b"from", b"to", b"subject", b"message-id"])
    over_cc = sign(message(to=UNDISCLOSED), dkim_keys, [b"from", b"to", b"cc", b"subject", b"message-id"])
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        await send(relay.port, [ACME, BETA, STRANGER], without_cc)
        first = _by_first_recipient(await upstream.wait_for(3))
        await send(relay.port, [ACME, BETA, STRANGER], over_cc)
        second = _by_first_recipient((await upstream.wait_for(6))[3:])
    for copies, cc_allowed in ((first, True), (second, False)):
        assert set(copies) == {ACME, BETA, STRANGER}
        for got in copies.values():
            assert verifies(got.data, dkim_keys), got.recipients
        # Over Cc: the people go in the envelope only, each in its own customer's copy.
        assert sorted(copies[ACME].recipients) == sorted([ACME, *ACME_BILLING])
        assert sorted(copies[BETA].recipients) == sorted([BETA, *BETA_BILLING])
        assert bool(cc_of(copies[ACME].data)) is cc_allowed


async def test_capture_mode_keeps_each_copy_and_shows_the_split(sqlite_directory, people, tmp_path, capsys, sqlite_url):
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        reply = await send(relay.port, [ACME, BETA, STRANGER], message(to=UNDISCLOSED, subject="Statement S-7"))
    assert reply.code == 250 and "and 2 more copies" in reply.text, reply
    records = sorted(relay_log.captured_messages(10), key=lambda r: r.copy_number)
    assert [(r.copy_number, r.copy_count, r.copy_of) for r in records] == [(n, 3, reply.queue_id) for n in (1, 2, 3)]
    assert [r.recipients for r in records] == [(ACME,), (BETA,), (STRANGER,)]
    assert sorted(records[0].envelope) == sorted([ACME, *ACME_BILLING])
    assert records[1].envelope == [BETA, *BETA_BILLING]
    assert records[2].envelope == [STRANGER] and records[2].added == ()
    _, _, beta = relay_log.captured_message(records[1].id)
    assert cc_of(beta) == BETA_BILLING

    code, out, _ = run_cli(capsys, "messages", "list", "--db", sqlite_url)
    assert code == 0
    lines = out.splitlines()
    assert "Copy" in lines[0]
    assert {line.split()[-3] for line in lines[1:]} == {"1/3", "2/3", "3/3"}

    code, out, _ = run_cli(capsys, "messages", "show", str(records[1].id), "--db", sqlite_url)
    assert code == 0
    assert "Copy:     2 of 3, one per customer: each sees only its own contact persons" in out
    assert f"  1: message {records[0].id}, to {ACME}, +3 cc" in out
    assert f"  3: message {records[2].id}, to {STRANGER}, nobody added" in out
    assert "Cc:       Bea Billing <bea@beta.example>" in out
