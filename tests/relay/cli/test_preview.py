"""`contacts-relay preview`: who would be added and why, without sending anything."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.history import Actor
from contacts_tui.core.mail import relay_log
from contacts_tui.core.tagging import store
from contacts_tui.core.tagging.rule import RuleInput

from ...notifications import dutch_invoice
from ..helpers import ACME, BETA, UTF8_CUSTOMER, message, run_cli, seed
from ..helpers.dkim import sign


@pytest.fixture
def eml(sqlite_directory, tmp_path):
    seed(sqlite_directory)

    def write(data: bytes, name: str = "notification.eml") -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write


def preview(capsys, sqlite_url, *args):
    code, out, err = run_cli(capsys, "preview", *args, "--db", sqlite_url)
    assert code == 0, err
    return out


def test_preview_lists_who_is_added_and_why_and_the_headers_after(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message(subject="Invoice INV-9")))
    assert "Envelope recipients: acme@customer.example" in out
    assert "Category: billing\n" in out
    assert "Customer: ACME GmbH <acme@customer.example>" in out
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out
    assert "  + Mia Manager <boss@acme.example>: receives all notifications" in out
    assert "otto@acme.example" not in out and "it@acme.example" not in out
    headers = out.split("Headers after the rewrite (the relay also puts a Received header on top):\n\n", 1)[1]
    assert headers.startswith("From: Shop Billing <billing@shop.example>\n")
    assert "Cc: =?utf-8?" in headers and "<books@acme.example>" in headers
    assert "Subject: Invoice INV-9\n" in headers
    assert "Received:" not in headers  # nothing was received


def test_preview_sends_and_logs_nothing(capsys, sqlite_url, eml, upstream):
    preview(capsys, sqlite_url, eml(message()))
    assert relay_log.recent_log(5) == []
    assert upstream.messages == []


def test_a_type_key_names_its_category(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message(category="Invoice.Overdue")))
    assert "Category: Invoice.Overdue (an email type of billing)" in out
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out


def test_an_unknown_category_adds_nobody_and_says_why(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message(category="newsletter")))
    assert "Category: newsletter (unknown)" in out
    assert "Decision: unchanged: unknown notification category 'newsletter'\n" in out
    assert "Cc:" not in out


def test_no_category_header_passes_unchanged(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message(category=None)))
    assert "No X-Notification-Category header: the message would pass unchanged." in out
    assert "+" not in out


def test_rcpt_replaces_the_addresses_of_the_header(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message()), "--rcpt", BETA, "--rcpt", "someone@else.example")
    assert "Envelope recipients: beta@customer.example, someone@else.example" in out
    assert "Customer: Beta Ltd <beta@customer.example>" in out
    assert "  + Bea Billing <bea@beta.example>: opted in to billing" in out
    assert "books@acme.example" not in out


def test_someone_already_in_to_is_listed_as_skipped(capsys, sqlite_url, eml):
    out = preview(capsys, sqlite_url, eml(message(to=f"{ACME}, Joerg <books@acme.example>")))
    assert "  - books@acme.example: already in To" in out


def test_a_dkim_signature_over_cc_is_pointed_out(capsys, sqlite_url, eml, dkim_keys):
    signed = sign(message(), dkim_keys, [b"from", b"to", b"cc", b"subject"])
    out = preview(capsys, sqlite_url, eml(signed))
    assert "; a DKIM signature covers Cc, so they were added to the envelope only" in out
    assert "Decision: envelope-only: " in out
    assert "\nCc:" not in out


def test_the_message_can_come_from_standard_input_and_the_header_name_can_change(capsys, sqlite_url, eml):
    data = message(category=None, headers=[("X-Mail-Kind", "billing")])
    code, out, err = run_cli(capsys, "preview", "-", "--header", "X-Mail-Kind", "--db", sqlite_url, stdin=data.decode())
    assert code == 0, err
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out


def test_a_missing_file_is_an_error_with_its_name(capsys, sqlite_url, eml, tmp_path):
    code, out, err = run_cli(capsys, "preview", str(tmp_path / "nope.eml"), "--db", sqlite_url)
    assert code == 1
    assert f"cannot read {tmp_path / 'nope.eml'}: No such file or directory" in err


def test_the_header_name_comes_from_relay_header_as_for_serve(capsys, sqlite_url, eml, monkeypatch):
    monkeypatch.setenv("RELAY_HEADER", "X-Mail-Kind")
    out = preview(capsys, sqlite_url, eml(message(category=None, headers=[("X-Mail-Kind", "billing")])))
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out


def test_utf8_addresses_are_previewed_for_a_sender_with_or_without_smtputf8(capsys, sqlite_url, eml):
    path = eml(message(to=UTF8_CUSTOMER))
    out = preview(capsys, sqlite_url, path)
    assert "  + Ida Idn <ida@bücher.example>: opted in to billing\n" in out
    assert "written as" not in out and "envelope only" not in out
    assert "a sender that does not use it gets them differently (--no-smtputf8)" in out

    out = preview(capsys, sqlite_url, path, "--no-smtputf8")
    assert "  + Ida Idn <ida@bücher.example>: opted in to billing\n" in out
    decision = out.split("Decision: ", 1)[1].split("\n", 1)[0]
    assert "ida@bücher.example written as ida@xn--bcher-kva.example: the sender did not use SMTPUTF8" in decision
    assert (
        "zoë@bücher.example added to the envelope only: the address needs SMTPUTF8, which the sender did not use"
        in decision
    )
    headers = out.split("on top):\n\n", 1)[1]
    assert "ida@xn--bcher-kva.example" in headers and "zoë" not in headers


def test_a_message_for_two_customers_and_a_stranger_previews_as_three_copies(capsys, sqlite_url, eml):
    path = eml(message(to="undisclosed-recipients:;"))
    out = preview(capsys, sqlite_url, path, "--rcpt", ACME, "--rcpt", BETA, "--rcpt", "someone@else.example")
    assert "It would go out as 3 copies, one per customer, so that no customer sees another's contact persons." in out
    acme, beta, stranger = out.split("\nCopy ")[1:4]
    assert acme.startswith("1 of 3, to acme@customer.example (ACME GmbH):")
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in acme
    assert "bea@beta.example" not in acme
    assert beta.startswith("2 of 3, to beta@customer.example (Beta Ltd):")
    assert "  + Bea Billing <bea@beta.example>: opted in to billing" in beta
    assert "boss@acme.example is a contact person of ACME GmbH too and gets that customer's copy" in beta
    assert stranger.startswith("3 of 3, to someone@else.example:\nDecision: unchanged: someone@else.example:")
    headers = out.split("Headers of copy ")[1:]
    assert [h.split(" ", 1)[0] for h in headers] == ["1", "2", "3"]
    assert "<books@acme.example>" in headers[0] and "bea@beta.example" not in headers[0]
    assert "<bea@beta.example>" in headers[1] and "books@acme.example" not in headers[1]
    assert "Cc:" not in headers[2]


def test_a_message_without_the_header_is_tagged_as_the_relay_would(capsys, sqlite_url, sqlite_directory, eml):
    path = eml(dutch_invoice(ACME))
    out = preview(capsys, sqlite_url, path)
    assert "No X-Notification-Category header: the message would pass unchanged." in out
    rule = RuleInput(category="invoice.created", subject="Factuur", enabled=True)
    store.add_rule(rule, sqlite_directory.catalog, Actor("admin ann", "cli"), number=1)
    out = preview(capsys, sqlite_url, path)
    assert "No X-Notification-Category header: tagged invoice.created by rule 1: Subject contains 'Factuur'." in out
    assert "Category: invoice.created (an email type of billing)" in out
    assert "  + Jörg Buchhalter <books@acme.example>: opted in to billing" in out
    out = preview(capsys, sqlite_url, eml(message(category="account", subject="Factuur")))
    assert "tagged" not in out and "Category: account" in out  # a header wins over every rule


def test_the_header_named_by_header_wins_over_the_rules_and_its_absence_asks_them(
    capsys, sqlite_url, sqlite_directory, eml
):
    rule = RuleInput(category="billing", subject="Factuur", enabled=True)
    saved = store.add_rule(rule, sqlite_directory.catalog, Actor("admin ann", "cli"), number=1)
    named = eml(message(category=None, subject="Factuur 12", headers=[("X-Mail-Kind", "account")]), "named.eml")
    out = preview(capsys, sqlite_url, named, "--header", "X-Mail-Kind")
    assert "tagged" not in out and "Category: account" in out
    other = eml(message(category="account", subject="Factuur 13"), "other.eml")  # not the header named
    out = preview(capsys, sqlite_url, other, "--header", "X-Mail-Kind")
    assert "No X-Mail-Kind header: tagged billing by rule 1: Subject contains 'Factuur'." in out
    assert "Category: billing" in out
    store.set_enabled(saved.id, False, Actor("admin ann", "cli"))
    out = preview(capsys, sqlite_url, other, "--header", "X-Mail-Kind")
    assert "No X-Mail-Kind header: the message would pass unchanged." in out
