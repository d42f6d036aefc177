"""The relay's question, through the directory: whom to copy on a message."""

from __future__ import annotations

import pytest

from ..helpers import new_customer, person


@pytest.fixture
def acme_people(directory, acme):
    """Acme: Bea (billing), Tom (account), Ann (receive all), Ned (nothing)."""
    directory.add_contact(acme.id, person("Bea", "bea@acme.example", categories=("billing",)))
    directory.add_contact(acme.id, person("Tom", "tom@acme.example", categories=("account",)))
    directory.add_contact(acme.id, person("Ann", "ann@acme.example", receive_all=True))
    directory.add_contact(acme.id, person("Ned", "ned@acme.example"))
    return acme


def added(resolution):
    return sorted(a.email for a in resolution.additions)


def test_category_key_adds_those_opted_in_and_receive_all(directory, acme_people):
    result = directory.resolve(["owner@acme.example"], "billing")
    assert result.category == "billing"
    assert added(result) == ["ann@acme.example", "bea@acme.example"]
    assert [c.email for c in result.customers] == ["owner@acme.example"]


@pytest.mark.parametrize("header", ["invoice.created", "Payment.Received", "  MANDATE.ACTIVATED  ", "BILLING"])
def test_type_key_or_category_in_any_case_resolves_to_its_category(directory, acme_people, header):
    result = directory.resolve(["owner@acme.example"], header)
    assert result.category == "billing"
    assert added(result) == ["ann@acme.example", "bea@acme.example"]


def test_account_types_reach_the_account_category(directory, acme_people):
    assert added(directory.resolve(["owner@acme.example"], "subscription.suspended")) == [
        "ann@acme.example",
        "tom@acme.example",
    ]


def test_recipient_matches_the_primary_email_in_any_case(directory, acme_people):
    assert added(directory.resolve(["OWNER@Acme.Example"], "billing")) == ["ann@acme.example", "bea@acme.example"]


def test_additions_say_why(directory, acme_people):
    reasons = {a.email: a.reason for a in directory.resolve(["owner@acme.example"], "billing").additions}
    assert reasons == {"ann@acme.example": "receives all notifications", "bea@acme.example": "opted in to billing"}


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_category_header_adds_nobody(directory, acme_people, header):
    result = directory.resolve(["owner@acme.example"], header)
    assert (result.category, result.additions) == (None, ())
    assert result.reason == "no notification category header"


def test_unknown_category_adds_nobody_and_says_so(directory, acme_people):
    result = directory.resolve(["owner@acme.example"], "newsletter")
    assert (result.category, result.additions) == (None, ())
    assert result.reason == "unknown notification category 'newsletter'"


def test_recipient_that_is_no_customer_adds_nobody(directory, acme_people):
    result = directory.resolve(["bea@acme.example", "stranger@else.example"], "billing")
    assert (result.customers, result.additions) == ((), ())
    assert result.reason == "no recipient is a customer's primary email"


def test_nobody_opted_in_is_a_reason_not_an_error(directory, acme):
    directory.add_contact(acme.id, person("Ned", "ned@acme.example"))
    result = directory.resolve(["owner@acme.example"], "billing")
    assert result.additions == ()
    assert result.reason == "nobody at Acme Ltd is opted in to billing"
    assert [c.name for c in result.customers] == ["Acme Ltd"]


def test_several_customers_in_one_call(directory, acme_people):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    directory.add_contact(globex.id, person("Hank", "hank@globex.example", categories=("billing",)))
    result = directory.resolve(["owner@acme.example", "Owner@Globex.example", "x@else.example"], "billing")
    assert {c.name for c in result.customers} == {"Acme Ltd", "Globex"}
    assert added(result) == ["ann@acme.example", "bea@acme.example", "hank@globex.example"]
    assert {a.email: a.customer_email for a in result.additions}["hank@globex.example"] == "owner@globex.example"


def test_an_address_at_two_matched_customers_is_added_once(directory, acme_people):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    directory.add_contact(globex.id, person("Bea", "BEA@acme.example", receive_all=True))
    result = directory.resolve(["owner@acme.example", "owner@globex.example"], "billing")
    assert [a.email.lower() for a in result.additions].count("bea@acme.example") == 1


def test_inactive_customer_adds_nobody_with_a_note(directory, acme_people):
    directory.set_customer_active(acme_people.id, False)
    result = directory.resolve(["owner@acme.example"], "billing")
    assert result.additions == ()
    assert [c.active for c in result.customers] == [False]
    # The one real cause: not "nobody is opted in" (Ann and Bea are).
    assert result.reason == "customer Acme Ltd <owner@acme.example> is inactive: no contact persons added"
    assert result.notes == ()


def test_each_matched_customer_gets_its_own_cause(directory, acme_people):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    new_customer(directory, "owner@initech.example", "Initech")
    directory.add_contact(globex.id, person("Hank", "hank@globex.example", receive_all=True))
    directory.set_customer_active(globex.id, False)
    both = directory.resolve(["owner@globex.example", "owner@initech.example"], "billing")
    assert both.reason == (
        "customer Globex <owner@globex.example> is inactive: no contact persons added; "
        "nobody at Initech is opted in to billing"
    )
    everyone = directory.resolve(["owner@acme.example", "owner@globex.example", "owner@initech.example"], "billing")
    assert everyone.reason == "2 contact person(s) of Acme Ltd opted in to billing"
    assert everyone.notes == (
        "customer Globex <owner@globex.example> is inactive: no contact persons added",
        "nobody at Initech is opted in to billing",
    )


def test_a_customer_whose_contact_came_through_another_is_not_said_to_have_nobody(directory, acme_people):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    directory.add_contact(globex.id, person("Bea", "bea@acme.example", receive_all=True))
    result = directory.resolve(["owner@acme.example", "owner@globex.example"], "billing")
    assert result.reason == "2 contact person(s) of Acme Ltd opted in to billing"
    assert result.notes == ("bea@acme.example is a contact person of Acme Ltd too and gets that customer's copy",)
    (_, rest) = result.audiences
    assert rest.reason == "everyone opted in at Globex is added to another customer's copy"


def test_inactive_customer_does_not_stop_an_active_one(directory, acme_people):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    directory.add_contact(globex.id, person("Hank", "hank@globex.example", receive_all=True))
    directory.set_customer_active(acme_people.id, False)
    result = directory.resolve(["owner@acme.example", "owner@globex.example"], "account")
    assert added(result) == ["hank@globex.example"]


def test_soft_deleted_contact_is_not_added(directory, acme_people):
    ann = next(c for c in directory.list_contacts(acme_people.id) if c.name == "Ann")
    directory.delete_contact(ann.id)
    assert added(directory.resolve(["owner@acme.example"], "billing")) == ["bea@acme.example"]


def test_opting_out_takes_effect_with_the_next_message(directory, acme_people):
    bea = next(c for c in directory.list_contacts(acme_people.id) if c.name == "Bea")
    directory.toggle_category(bea.id, "billing")
    assert added(directory.resolve(["owner@acme.example"], "billing")) == ["ann@acme.example"]


def test_receive_all_also_covers_categories_added_later(db_url):
    from contacts_tui.core.catalog import parse_catalog
    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.service import Directory

    database = open_database(db_url)
    try:
        old = Directory(database, parse_catalog({"categories": {"billing": {"types": ["invoice.created"]}}}))
        customer = new_customer(old)
        old.add_contact(customer.id, person("Ann", "ann@acme.example", receive_all=True))
        new = Directory(
            database, parse_catalog({"categories": {"billing": {}, "outages": {"types": ["outage.started"]}}})
        )
        assert added(new.resolve(["owner@acme.example"], "outage.started")) == ["ann@acme.example"]
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()


def test_recipient_with_an_ascii_idna_domain_matches_the_unicode_primary(directory):
    # Senders without SMTPUTF8 write the domain as xn--…; it is the same address.
    customer = new_customer(directory, "info@münchen.example", "Münchner Kunde")
    directory.add_contact(customer.id, person("Bea", "bea@münchen.example", receive_all=True))
    result = directory.resolve(["INFO@xn--mnchen-3ya.example"], "billing")
    assert [c.id for c in result.customers] == [customer.id]
    assert added(result) == ["bea@münchen.example"]
