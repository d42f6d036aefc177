"""The one function that tags: which rule gives a message without a category header its category."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.tagging.engine import KeptHeaders, RuleSet
from contacts_tui.core.tagging.rule import PATTERN, RuleInput, check_rule


def rule(number: int = 1, enabled: bool = True, **fields):
    return replace(check_rule(RuleInput(**fields), DEFAULT_CATALOG), number=number, enabled=enabled)


def headers(**fields: str) -> KeptHeaders:
    return KeptHeaders(tuple((name.replace("_", "-").lower(), value) for name, value in fields.items()))


def test_an_encoded_word_subject_is_matched_as_people_read_it():
    rules = RuleSet([rule(category="billing", subject="Factuur")])
    tag = rules.tag(headers(Subject="=?utf-8?q?Uw_factuur_2026-0042?="), "", ["owner@acme.example"])
    assert tag is not None and tag.category == "billing"
    assert tag.describe() == "tagged billing by rule 1: Subject contains 'Factuur'"


def test_a_base64_subject_in_two_words_and_a_pattern():
    rules = RuleSet([rule(category="payment.reminder", subject=r"herinnering\b.*\d{4}", subject_match=PATTERN)])
    subject = "=?utf-8?b?QmV0YWxpbmdzaGVyaW5uZXJpbmcg?= =?utf-8?b?ZmFjdHV1ciAyMDI2LTAwNDI=?="
    assert rules.tag(headers(Subject=subject), "", ["a@b.example"]).category == "payment.reminder"
    assert rules.tag(headers(Subject="Herinnering zonder nummer"), "", ["a@b.example"]) is None


def test_the_first_rule_that_matches_wins_and_disabled_rules_are_left_out():
    rules = RuleSet(
        [
            rule(1, enabled=False, category="account", subject="Invoice"),
            rule(2, category="payment.reminder", subject="reminder"),
            rule(3, category="invoice.created", subject="Invoice"),
        ]
    )
    assert rules.tag(headers(Subject="Invoice 7"), "", []).rule.number == 3
    assert rules.tag(headers(Subject="Payment reminder: invoice 7"), "", []).rule.number == 2
    assert len(rules) == 2


def test_every_condition_must_hold():
    rules = RuleSet(
        [rule(category="billing", sender="*@shop.example", subject="Invoice", recipient_domain="acme.example")]
    )
    message = headers(Subject="Invoice 7", From="Shop <billing@shop.example>")
    assert rules.tag(message, "", ["owner@acme.example"]) is not None
    assert rules.tag(message, "", ["owner@other.example"]) is None
    assert rules.tag(headers(Subject="Invoice 7", From="x@elsewhere.example"), "", ["owner@acme.example"]) is None
    assert rules.tag(headers(Subject="Receipt", From="billing@shop.example"), "", ["owner@acme.example"]) is None


def test_the_sender_is_the_envelope_sender_or_an_address_of_from():
    rules = RuleSet([rule(category="billing", sender="billing@shop.example")])
    assert rules.tag(headers(From="Someone <x@y.example>"), "BILLING@Shop.Example", []) is not None
    assert rules.tag(headers(From="=?utf-8?q?Shop_B=2EV=2E?= <billing@shop.example>"), "bounce@mailer.example", [])
    assert rules.tag(headers(From="other@shop.example"), "bounce@mailer.example", []) is None


def test_another_header_by_name_any_of_its_fields():
    rules = RuleSet([rule(category="billing", header_name="X-Mailer", header_value="PayRequest")])
    message = KeptHeaders((("x-mailer", "Something"), ("x-mailer", "payrequest/3.1")))
    assert rules.tag(message, "", []) is not None
    assert rules.tag(headers(X_Mailer="Other"), "", []) is None


def test_a_hundred_rules_answer_in_one_pass():
    many = [rule(n, category="billing", subject=f"Invoice-{n:03}") for n in range(1, 101)]
    rules = RuleSet(many)
    assert rules.tag(headers(Subject="Your Invoice-100"), "", []).rule.number == 100
    assert rules.tag(headers(Subject="Your Invoice-042 and Invoice-100"), "", []).rule.number == 42
    assert rules.tag(headers(Subject="nothing"), "", []) is None


def test_a_pathological_pattern_runs_in_linear_time():
    rules = RuleSet([rule(category="billing", subject="(a+)+$", subject_match=PATTERN)])
    started = time.perf_counter()
    assert rules.tag(headers(Subject="a" * 50_000), "", []) is not None
    assert rules.tag(headers(Subject="a" * 50_000 + "!"), "", []) is None
    # Backtracking engines take longer than the age of the universe here; a
    # generous bound only catches an engine that is not linear.
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("pattern", "problem", "position"),
    [
        ("Factuur (\\d+", "a ( is not closed", 9),
        ("(?=Invoice)Factuur", "lookahead and lookbehind are not supported", 1),
        ("(Factuur) \\1", "backreferences", 11),
        ("[z-a]", "a character range runs backwards", 2),
        ("a{2000}", "over 1,000", 2),
    ],
)
def test_a_pattern_re2_does_not_take_is_refused_when_saved_with_where(pattern, problem, position):
    with pytest.raises(ValidationError) as caught:
        check_rule(RuleInput(category="billing", subject=pattern, subject_match=PATTERN), DEFAULT_CATALOG)
    (error,) = caught.value.errors
    assert error.field == "subject"
    assert problem in error.message
    assert error.message.endswith(f"at character {position}")


def test_what_cannot_be_saved_names_its_field():
    def fields(**given):
        with pytest.raises(ValidationError) as caught:
            check_rule(RuleInput(**given), DEFAULT_CATALOG)
        return {error.field for error in caught.value.errors}

    assert fields(category="nothing", subject="x") == {"category"}
    assert fields(category="billing") == {None}  # no condition at all
    assert fields(category="billing", sender="not an address") == {"sender"}
    assert fields(category="billing", header_name="X-Mailer") == {"header_value"}
    assert fields(category="billing", header_name="Bad Name", header_value="x") == {"header_name"}
    assert fields(category="billing", subject="line\nbreak") == {"subject"}
    assert fields(category="billing", recipient_domain="a@b") == {"recipient_domain"}


def test_from_fields_as_mailers_write_them():
    rules = RuleSet([rule(category="billing", sender="*@shop.example")])
    for value in (
        "billing@Shop.example",
        "Shop Billing <billing@shop.example>",
        '"Shop, Billing" <billing@shop.example>',
        "=?utf-8?q?Bakkerij_de_Vries?= <noreply@shop.example>",
        "billing@shop.example (Shop Billing)",
    ):
        assert rules.tag(headers(From=value), "", []) is not None, value
    assert rules.tag(headers(From="Shop <billing@shop.example.evil>"), "", []) is None


def test_the_headers_kept_of_a_message_read_back_as_the_relay_read_them():
    from contacts_tui.core.tagging.kept import keep, read_kept

    fields = [
        ("received", b"Received: from a\r\n by b; Mon, 7 Dec 2026\r\n"),
        ("subject", b"Subject: =?utf-8?q?Factuur_F2026-0042?=\r\n =?utf-8?q?_van_Bakkerij?=\r\n"),
        ("from", b"From: Shop <billing@shop.example>\r\n"),
        ("x-mailer", b"X-Mailer: " + b"x" * 2000 + b"\r\n"),
    ]
    kept = read_kept(keep(fields))
    assert kept.texts("received") == []
    assert kept.texts("subject") == ["=?utf-8?q?Factuur_F2026-0042?= =?utf-8?q?_van_Bakkerij?="]
    assert len(kept.texts("x-mailer")[0]) < 1000
    rules = RuleSet([rule(category="billing", subject="factuur F2026-0042 van bakkerij", sender="*@shop.example")])
    assert rules.tag(kept, "", []) is not None
