"""`contacts-relay log`: what the relay did with recent messages, as text and JSON;
and `contacts-relay queue`: what still waits in a spool.

The entries are made by a real relay in front of the recording upstream
(SQLite and PostgreSQL, whose searches differ: LIKE and ILIKE):
a rewritten billing notice to ACME, a payment reminder to Beta, a message
without a category, and a mail loop refused with 554.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from contacts_tui.core.mail import relay_log
from relay.cli import main

from ...waiting import wait_until
from ..helpers import ACME, BETA, log_json, logged, message, relay_config, run_cli, running, seed, send

# Each entry starts with its local time and zone: "2026-01-05 11:00:00 CET  ".
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:[A-Z]{3,5}|[+-]\d{4})  ", re.MULTILINE)


@pytest.fixture
async def history(directory, upstream, tmp_path):
    seed(directory)
    hops = [("Received", f"from hop{i}.example by relay.example; Mon, 23 Nov 2026 08:00:00 +0000") for i in range(3)]
    async with running(relay_config(tmp_path, upstream, max_received=2), directory) as relay:
        acme = await send(relay.port, [ACME], message(subject="Invoice A-1"))
        beta = await send(relay.port, [BETA], message(to=BETA, subject="Reminder B-1", category="payment.reminder"))
        plain = await send(relay.port, ["stranger@elsewhere.example"], message(category=None, subject="Hello"))
        loop = await send(relay.port, [ACME], message(hops, subject="Looping"))
        assert [acme.code, beta.code, plain.code, loop.code] == [250, 250, 250, 554]
        for reply in (acme, beta, plain):
            await logged(reply.queue_id)
        await wait_until(lambda: len(relay_log.recent_log(10)) == 4)
    return {"acme": acme, "beta": beta, "plain": plain}


def entries(out: str) -> list[str]:
    starts = [m.start() for m in ENTRY.finditer(out)]
    return [out[a:b] for a, b in zip(starts, starts[1:] + [len(out)], strict=True)]


async def test_log_shows_newest_first_with_status_decision_and_who_was_added(history, capsys, db_url, local_zone):
    local_zone("UTC")
    code, out, _ = run_cli(capsys, "log", "--db", db_url)
    assert code == 0
    looping, plain, beta, acme = entries(out)
    assert "refused" in looping and "Too many hops (3 Received headers): a mail loop?" in looping
    assert history["plain"].queue_id in plain and "unchanged" in plain and "no notification category header" in plain
    assert history["beta"].queue_id in beta and "payment.reminder" in beta
    assert "added: bea@beta.example, boss@acme.example" in beta
    first = acme.splitlines()[0].split()
    assert first[2:] == ["UTC", history["acme"].queue_id, "delivered", "rewritten", "billing"]
    assert "from billing@shop.example to acme@customer.example; added: books@acme.example," in acme
    assert re.search(
        r"\n    customer\(s\): acme@customer\.example; delivered \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n", acme
    )
    assert "\n    customer(s): beta@customer.example; delivered " in beta
    # No category, so nobody was looked up: it says when it was delivered, not that no customer matched.
    assert "\n    delivered " in plain and "no customer matched" not in plain
    # A refusal came before any lookup.
    assert "no customer matched" not in looping
    assert "3 contact person(s) of ACME GmbH opted in to billing" in acme


async def test_limit_json_search_and_status(history, capsys, db_url):
    code, out, _ = run_cli(capsys, "log", "--limit", "2", "--db", db_url)
    assert len(entries(out)) == 2

    rows = log_json(capsys, db_url)
    assert [r["subject"] for r in rows] == ["Looping", "Hello", "Reminder B-1", "Invoice A-1"]
    assert rows[2]["category_key"] == "billing" and rows[2]["customers"] == [BETA]
    assert rows[0]["status"] == "refused" and rows[0]["queue_id"] == ""
    assert all(r["received_at"].endswith("Z") for r in rows)

    def search(*words):
        return [r["subject"] for r in log_json(capsys, db_url, "--search", " ".join(words))]

    assert search("B-1") == ["Reminder B-1"]
    assert search("bea@beta.example") == ["Reminder B-1"]  # a contact who was added
    assert search("Jörg") == ["Invoice A-1"]
    assert search(history["acme"].queue_id.lower()) == ["Invoice A-1"]
    assert search("stranger@elsewhere.example") == ["Hello"]
    assert search("Invoice", "acme@customer.example") == ["Invoice A-1"]

    statuses = [r["subject"] for r in log_json(capsys, db_url, "--status", "refused")]
    assert statuses == ["Looping"]
    assert len(log_json(capsys, db_url, "--status", "delivered")) == 3

    code, out, _ = run_cli(capsys, "log", "--search", "no-such-thing", "--db", db_url)
    assert out == "No relay log entries match.\n"


async def test_search_by_category_finds_entries_tagged_with_its_email_types(directory, tmp_path, capsys, db_url):
    seed(directory)
    async with running(relay_config(tmp_path), directory) as relay:
        order = await send(relay.port, [ACME], message(subject="Order 7", category="order.confirmed"))
        await send(relay.port, [ACME], message(subject="Invoice A-1"))
    assert order.code == 250
    assert [r["subject"] for r in log_json(capsys, db_url, "--search", "account")] == ["Order 7"]


async def test_times_are_local_and_say_their_zone(history, capsys, db_url, local_zone):
    local_zone("Europe/Berlin")
    stored = {r["subject"]: r for r in log_json(capsys, db_url)}["Invoice A-1"]
    code, out, _ = run_cli(capsys, "log", "--search", "A-1", "--db", db_url)
    berlin = ZoneInfo("Europe/Berlin")
    received = dt.datetime.fromisoformat(stored["received_at"]).astimezone(berlin)
    delivered = dt.datetime.fromisoformat(stored["delivered_at"]).astimezone(berlin)
    assert out.startswith(received.strftime("%Y-%m-%d %H:%M:%S %Z  "))
    assert received.strftime("%Z") in ("CET", "CEST")
    assert f"; delivered {delivered:%Y-%m-%d %H:%M:%S %Z}\n" in out


def test_an_empty_log_says_so(sqlite_directory, capsys, sqlite_url):
    code, out, _ = run_cli(capsys, "log", "--db", sqlite_url)
    assert (code, out) == (0, "The relay log is empty.\n")


def test_a_limit_below_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["log", "--limit", "0"])
    assert exit_info.value.code == 2
    assert "'0' is not a whole number of at least 1" in capsys.readouterr().err


def test_a_mistyped_database_is_an_error_not_an_empty_log(capsys, tmp_path):
    typo = tmp_path / "relay-typo.db"
    for command in (["log"], ["messages", "list"]):
        code, out, err = run_cli(capsys, *command, "--db", f"sqlite:///{typo}")
        assert (code, out) == (1, "")
        assert f"there is no database at {typo}" in err
    assert not typo.exists()


# -- queue: what still waits in a spool ------------------------------------------


async def test_queue_says_when_no_relay_runs_and_dates_a_retry_that_is_not_today(
    sqlite_directory, upstream, tmp_path, capsys, local_zone
):
    local_zone("UTC")
    seed(sqlite_directory)
    upstream.stop()
    spool = str(tmp_path / "spool")
    # The first retry in two to three days: not today, whatever the hour.
    config = relay_config(tmp_path, upstream, min_backoff=200_000, max_backoff=250_000)
    async with running(config, sqlite_directory) as relay:
        reply = await send(relay.port, [ACME], message(subject="waits"))
        await logged(reply.queue_id, "deferred")
        code, out, _ = run_cli(capsys, "queue", "--spool", spool, "--retry-now")
        assert (code, out) == (0, "Asked the relay to retry every waiting message now.\n")
    # The relay has stopped; the message stays in its spool.
    code, out, _ = run_cli(capsys, "queue", "--spool", spool, "--retry-now")
    assert (code, out) == (0, f"No relay is running on {spool}; the messages are retried when it starts.\n")
    code, out, _ = run_cli(capsys, "queue", "--spool", spool)
    due = re.search(r"next at (\S+) (\S+) (\S+)\n", out)
    assert due, out
    assert dt.date.fromisoformat(due.group(1)) > dt.date.today() and due.group(3) == "UTC"


def test_entries_written_late_take_their_place_in_time(directory, capsys, db_url, local_zone):
    # While the database was away the relay held its refusals back; written
    # when it came back, they come after newer entries by id, not by time.
    from contacts_tui.core.mail.relay_log import LogEntry
    from contacts_tui.core.models import RelayLog

    local_zone("UTC")
    base = dt.datetime(2026, 12, 4, 9, 0, 0)
    for minute, subject in [(30, "sent after the outage"), (5, "refused during the outage"), (0, "before")]:
        entry = LogEntry(
            sender="billing@shop.example",
            recipients=(ACME,),
            subject=subject,
            received_at=base + dt.timedelta(minutes=minute),
        )
        RelayLog.insert(**entry.row()).execute()

    subjects = [row["subject"] for row in log_json(capsys, db_url)]
    assert subjects == ["sent after the outage", "refused during the outage", "before"]
