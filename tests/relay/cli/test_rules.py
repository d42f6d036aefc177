"""`contacts-relay rules`: an admin writes a rule, tries it on last week's mail, turns it on."""

from __future__ import annotations

import json

import pytest

from contacts_tui.core.models import RelayLog, TaggingRuleRow
from contacts_tui.core.tagging import store

from ...notifications import SENDER as PAYREQUEST
from ...notifications import dutch_invoice, english_invoice, newsletter, payment_reminder
from ..helpers import ACME, ACME_BILLING, BETA, cc_of, logged, relay_config, run_cli, running, seed, send


def rules(capsys, db_url, *args, ok=True):
    code, out, err = run_cli(capsys, "rules", *args, "--db", db_url)
    assert (code == 0) == ok, (out, err)
    return out if ok else err


@pytest.fixture
def no_rules(capsys, sqlite_directory, sqlite_url):
    """The test's database as a program first opens it (which stores the catalog and gives it
    the catalog's example rules), without those examples."""
    rules(capsys, sqlite_url, "list")
    TaggingRuleRow.delete().execute()


def numbers(db_url, capsys) -> list[tuple[int, bool, str]]:
    out = rules(capsys, db_url, "list", "--json")
    return [(r["number"], r["enabled"], r["description"]) for r in map(json.loads, out.splitlines())]


async def test_an_admin_writes_a_rule_tries_it_on_last_week_and_turns_it_on(
    capsys, directory, db_url, upstream, tmp_path
):
    seed(directory)
    async with running(relay_config(tmp_path, upstream), directory) as relay:
        past = [dutch_invoice(ACME), dutch_invoice(BETA, "F2026-0043"), newsletter(ACME), english_invoice(ACME)]
        for data in past:
            reply = await send(relay.port, [ACME if b"acme@" in data else BETA], data, sender=PAYREQUEST)
            assert reply.code == 250
        await upstream.wait_for(len(past))
        await logged(reply.queue_id)
        assert all(cc_of(m.data) == [] for m in upstream.messages)  # no header, no rule: nobody was copied

        out = rules(
            capsys, db_url, "add", "--category", "billing", "--subject", "Factuur", "--from", "*@payrequest.example"
        )
        # The six example rules of the payrequest catalog come first, disabled.
        assert "Added rule 7: From *@payrequest.example and Subject contains 'Factuur' -> billing (disabled)." in out
        out = rules(capsys, db_url, "try", "7")
        # ACME copies three people on billing, Beta two (its receive-all Mia is also at ACME: counted per message).
        assert "This rule would have tagged 2 of last week's 4 untagged messages, adding 5 copies." in out
        assert "Factuur F2026-0042 van Bakkerij de Vries – € 1.210,00" in out  # the subject as people read it

        out = rules(capsys, db_url, "enable", "7")
        assert "Rule 7 enabled" in out and "relays use it from their next message" in out
        reply = await send(relay.port, [ACME], dutch_invoice(ACME, "F2026-0044"), sender=PAYREQUEST)
        arrived = (await upstream.wait_for(len(past) + 1))[-1]
        assert sorted(cc_of(arrived.data)) == sorted(ACME_BILLING)
        row = await logged(reply.queue_id)
        assert row.reason.startswith(
            "tagged billing by rule 7: From *@payrequest.example and Subject contains 'Factuur'"
        )

    code, out, err = run_cli(capsys, "log", "--db", db_url, "--limit", "1")
    assert "tagged billing by rule 7" in out


def test_rules_are_listed_moved_switched_and_removed_by_number(capsys, no_rules, sqlite_url):
    rules(capsys, sqlite_url, "add", "--category", "billing", "--subject", "Factuur")
    rules(capsys, sqlite_url, "add", "--category", "account", "--header", "X-Mailer: Shop 2", "--enable")
    rules(
        capsys, sqlite_url, "add", "--category", "payment.reminder", "--subject-pattern", r"herinnering\b", "--at", "1"
    )
    assert numbers(sqlite_url, capsys) == [
        (1, False, "Subject matches /herinnering\\b/"),
        (2, False, "Subject contains 'Factuur'"),
        (3, True, "X-Mailer contains 'Shop 2'"),
    ]
    rules(capsys, sqlite_url, "move", "3", "1")
    rules(capsys, sqlite_url, "disable", "1")
    rules(capsys, sqlite_url, "edit", "2", "--subject", "", "--recipient-domain", "customer.example")
    rules(capsys, sqlite_url, "remove", "3")
    assert numbers(sqlite_url, capsys) == [
        (1, False, "X-Mailer contains 'Shop 2'"),
        (2, False, "recipient at customer.example"),
    ]
    out = rules(capsys, sqlite_url, "list")
    assert out.splitlines()[1].split() == ["1", "off", "account", "X-Mailer", "contains", "'Shop", "2'"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("add", "--category", "billing", "--subject-pattern", "Factuur (\\d+"),
            "--subject-pattern: The Subject pattern cannot be used: a ( is not closed at character 9",
        ),
        (
            ("add", "--category", "billing", "--subject-pattern", "(?<!Re: )Invoice"),
            "--subject-pattern: The Subject pattern cannot be used: lookahead and lookbehind are not supported",
        ),
        (("add", "--category", "nope", "--subject", "x"), "--category: 'nope' is not in the catalog"),
        (("add", "--category", "billing"), "Give at least one condition"),
        (("add", "--category", "billing", "--header", "X-Mailer"), "--header takes 'NAME: TEXT'"),
        (("enable", "4"), "there is no tagging rule 4: there are no rules"),
        (("try",), "give a saved rule's number, or --new"),
    ],
)
def test_what_cannot_be_saved_is_refused_with_the_option_and_where(capsys, no_rules, sqlite_url, args, error):
    err = rules(capsys, sqlite_url, *args, ok=False)
    assert error in err
    assert store.current_rules() == []


def test_rules_test_says_which_rule_tags_a_file_and_whom_it_copies(
    capsys, sqlite_directory, no_rules, sqlite_url, tmp_path
):
    seed(sqlite_directory)
    eml = tmp_path / "reminder.eml"
    eml.write_bytes(payment_reminder(ACME))
    rules(capsys, sqlite_url, "add", "--category", "billing", "--subject", "factuur", "--enable")
    rules(capsys, sqlite_url, "add", "--category", "payment.reminder", "--subject-pattern", r"herinnering\b")
    out = rules(capsys, sqlite_url, "test", str(eml))
    assert "No X-Notification-Category header: tagged billing by rule 1: Subject contains 'factuur'." in out
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out
    assert "Rule 2 (Subject matches /herinnering\\b/ -> payment.reminder) matches too, but it is disabled." in out
    rules(capsys, sqlite_url, "disable", "1")
    out = rules(capsys, sqlite_url, "test", str(eml))
    assert "No X-Notification-Category header: the message would pass unchanged." in out


async def test_rules_try_reads_captured_messages_the_log_no_longer_has(capsys, directory, db_url, tmp_path):
    seed(directory)
    async with running(relay_config(tmp_path), directory) as relay:  # capture mode
        for data in (dutch_invoice(ACME), english_invoice(ACME)):
            reply = await send(relay.port, [ACME], data, sender=PAYREQUEST)
        await logged(reply.queue_id, "captured")
    RelayLog.delete().execute()  # as the log's retention would, while the captures stay
    out = rules(capsys, db_url, "try", "--new", "--category", "billing", "--header", "X-Mailer: PayRequest")
    assert "This rule would have tagged 2 of last week's 2 untagged messages, adding 6 copies." in out
    out = rules(
        capsys, db_url, "try", "--new", "--category", "billing", "--subject", "Factuur", "--since", "2000-01-01"
    )
    assert "This rule would have tagged 1 of the 2 untagged messages since 2000-01-01" in out
