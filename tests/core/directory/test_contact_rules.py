"""The contact person rules, through the directory, on SQLite and PostgreSQL:
name, email, uniqueness, the primary email, the limit, roles and categories."""

from __future__ import annotations

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DirectoryError, LimitReached, NotFound, ValidationError
from contacts_tui.core.records import ContactInput, CustomerInput

from ..helpers import active_emails, new_customer, person

# -- names -------------------------------------------------------------------


def test_name_is_trimmed(directory, acme):
    added = directory.add_contact(acme.id, person("  Eve Example \t", "eve@acme.example"))
    assert added.name == "Eve Example"


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_name_is_required(directory, acme, name):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person(name, "eve@acme.example"))
    assert caught.value.for_field("name") == ["Name is required"]
    assert directory.list_contacts(acme.id) == []


@pytest.mark.parametrize(
    "name",
    [
        "Eve\r\nBcc: mallory@evil.example",
        "Eve\nBcc: mallory@evil.example",
        "Eve\rX-Injected: 1",
        "Eve\x00Null",
        "Eve\tTab",
        "Eve\x7fDel",
        "Eve\x85Next line",
        "Eve\u2028Line separator",
        "Eve\u202efdp.exe",  # right-to-left override: shows as 'Eveexe.pdf'
        "Eve\u2066isolate\u2069",
    ],
)
def test_name_with_line_breaks_or_control_characters_is_refused(directory, acme, name):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person(name, "eve@acme.example"))
    assert caught.value.for_field("name") == ["Name may not contain line breaks or control characters"]
    assert directory.list_contacts(acme.id) == []


def test_names_in_right_to_left_scripts_and_emoji_with_joiners_are_kept(directory, acme):
    for name, email in [
        ("محمد علي", "m@acme.example"),
        ("שרה כהן", "s@acme.example"),
        ("Ana 👩\u200d💻", "a@acme.example"),
    ]:
        assert directory.add_contact(acme.id, person(name, email)).name == name


def test_header_injection_in_an_edit_is_refused_and_the_old_name_stays(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    with pytest.raises(ValidationError, match="line breaks"):
        directory.update_contact(eve.id, person("Eve\r\nBcc: x@y.example", "eve@acme.example"))
    assert directory.get_contact(eve.id).name == "Eve"


def test_name_longer_than_200_characters_is_refused(directory, acme):
    with pytest.raises(ValidationError, match="too long"):
        directory.add_contact(acme.id, person("x" * 201, "eve@acme.example"))


def test_every_bad_field_is_reported_at_once(directory, acme):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, ContactInput("", "not-an-address", "call me", "Chief"))
    fields = {error.field for error in caught.value.errors}
    assert fields == {"name", "email", "phone", "role"}


# -- emails ------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "",
        "eve",
        "eve@",
        "@acme.example",
        "eve@acme",
        "eve@@acme.example",
        "eve smith@acme.example",
        "eve@acme..example",
        "eve.@acme.example",
        "eve@-acme.example",
        "Eve <eve@acme.example>",
        "eve@acme.example\r\nBcc: mallory@evil.example",
        "eve@acme.example,mallory@evil.example",
    ],
)
def test_invalid_email_is_refused_and_named(directory, acme, email):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Eve", email))
    assert caught.value.for_field("email"), caught.value.errors
    assert directory.list_contacts(acme.id) == []


def test_email_needs_no_dns_and_keeps_the_local_part_case(directory, acme):
    # .example never resolves: a DNS check would refuse it.
    added = directory.add_contact(acme.id, person("Eve", "Eve.Smith+Bills@ACME.Example"))
    assert added.email == "Eve.Smith+Bills@acme.example"


def test_international_address_is_accepted(directory, acme):
    added = directory.add_contact(acme.id, person("Jürgen", "jürgen@münchen.example"))
    assert added.email == "jürgen@münchen.example"


def test_same_email_in_different_case_is_refused_per_customer(directory, acme):
    directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Eve again", "EVE@Acme.Example"))
    assert caught.value.for_field("email") == [
        "EVE@acme.example is already a contact person of this customer (as eve@acme.example)"
    ]
    assert active_emails(directory, acme.id) == ["eve@acme.example"]


def test_idna_and_unicode_domain_are_the_same_address(directory, acme):
    directory.add_contact(acme.id, person("Jürgen", "j@münchen.example"))
    with pytest.raises(ValidationError, match="already a contact person"):
        directory.add_contact(acme.id, person("Jürgen", "j@xn--mnchen-3ya.example"))


def test_same_email_at_another_customer_is_fine(directory, acme):
    other = new_customer(directory, "owner@globex.example", "Globex")
    directory.add_contact(acme.id, person("Eve", "eve@shared.example"))
    directory.add_contact(other.id, person("Eve", "EVE@shared.example"))
    assert active_emails(directory, other.id) == ["eve@shared.example"]


@pytest.mark.parametrize("email", ["owner@acme.example", "OWNER@ACME.EXAMPLE", "Owner@Acme.Example"])
def test_customers_own_primary_email_is_refused_as_contact(directory, acme, email):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Owner", email))
    assert "this customer's primary email" in caught.value.for_field("email")[0]
    assert directory.list_contacts(acme.id) == []


def test_editing_a_contact_to_the_primary_email_is_refused(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    with pytest.raises(ValidationError, match="primary email"):
        directory.update_contact(eve.id, person("Eve", "OWNER@acme.example"))
    assert directory.get_contact(eve.id).email == "eve@acme.example"


def test_editing_a_contact_to_another_contacts_email_is_refused(directory, acme):
    directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    bob = directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    with pytest.raises(ValidationError, match="already a contact person"):
        directory.update_contact(bob.id, person("Bob", "Eve@acme.example"))
    assert directory.get_contact(bob.id).email == "bob@acme.example"


def test_changing_only_the_case_of_a_contacts_own_email_is_allowed(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    assert directory.update_contact(eve.id, person("Eve", "Eve@acme.example")).email == "Eve@acme.example"


# -- the limit ---------------------------------------------------------------


def test_eleventh_contact_is_refused_with_a_readable_message(directory, acme):
    for i in range(10):
        directory.add_contact(acme.id, person(f"Person {i}", f"p{i}@acme.example"))
    with pytest.raises(LimitReached) as caught:
        directory.add_contact(acme.id, person("Bookkeeper", "books@acme.example"))
    assert str(caught.value) == "Bookkeeper: this customer already has 10 contact persons — remove one first"
    assert directory.get_customer(acme.id).contact_count == 10
    assert len(directory.list_contacts(acme.id)) == 10


def test_deleted_contacts_do_not_count_towards_the_limit(directory, acme):
    added = [directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example")) for i in range(10)]
    directory.delete_contact(added[0].id)
    directory.add_contact(acme.id, person("Bookkeeper", "books@acme.example"))
    assert directory.get_customer(acme.id).contact_count == 10


def test_limit_is_configurable(db_url):
    from contacts_tui.core.db import open_database

    database = open_database(db_url)
    try:
        small = Directory(database, DEFAULT_CATALOG, max_contacts=3)
        customer = new_customer(small)
        for i in range(3):
            small.add_contact(customer.id, person(f"P{i}", f"p{i}@acme.example"))
        with pytest.raises(LimitReached, match="already has 3 contact persons"):
            small.add_contact(customer.id, person("Fourth", "p3@acme.example"))
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()


def test_a_lowered_limit_keeps_existing_contacts_but_refuses_more(directory, acme):
    added = [directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example")) for i in range(5)]
    directory.delete_contact(added[0].id)
    lower = Directory(directory.database, DEFAULT_CATALOG, max_contacts=3)
    assert len(lower.list_contacts(acme.id)) == 4
    with pytest.raises(LimitReached, match="already has 3 contact persons"):
        lower.add_contact(acme.id, person("New", "new@acme.example"))
    with pytest.raises(LimitReached):
        lower.undelete_contact(added[0].id)
    # Editing someone who is already there needs no room.
    assert lower.update_contact(added[1].id, person("P1 renamed", "p1@acme.example")).name == "P1 renamed"
    lower.make_primary(added[2].id)
    assert lower.get_customer(acme.id).contact_count == 4


def test_limit_below_one_is_refused(directory):
    with pytest.raises(DirectoryError, match="the contact person limit must be at least 1"):
        Directory(directory.database, DEFAULT_CATALOG, max_contacts=0)


# -- roles and categories ----------------------------------------------------


def test_role_defaults_to_general(directory, acme):
    assert directory.add_contact(acme.id, person("Eve", "eve@acme.example")).role == "General"


@pytest.mark.parametrize(
    "typed, stored", [("bookkeeping", "Bookkeeping"), ("BILLING", "Billing"), (" technical ", "Technical")]
)
def test_role_is_accepted_in_any_case(directory, acme, typed, stored):
    assert directory.add_contact(acme.id, person("Eve", "eve@acme.example", role=typed)).role == stored


def test_unknown_role_is_refused_with_the_choices(directory, acme):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Eve", "eve@acme.example", role="Chief"))
    assert caught.value.for_field("role") == [
        "Unknown role 'Chief'; choose one of General, Billing, Bookkeeping, Technical, Management, Support"
    ]


def test_categories_are_stored_in_catalog_order(directory, acme):
    added = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("Account", "billing")))
    assert added.categories == ("billing", "account")
    assert directory.get_contact(added.id).categories == ("billing", "account")


def test_unknown_category_is_refused(directory, acme):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing", "gossip")))
    assert caught.value.for_field("categories") == ["Unknown category 'gossip'; the catalog has billing, account"]
    with pytest.raises(ValidationError, match="Unknown category"):
        directory.set_category(1, "gossip", True)


def test_a_type_key_is_not_a_category_to_opt_in_to(directory, acme):
    with pytest.raises(ValidationError, match="Unknown category") as caught:
        directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("invoice.created",)))
    assert caught.value.for_field("categories")[0].endswith(
        "'invoice.created' is an email type of billing: opt in to billing"
    )


@pytest.mark.parametrize("typed, meant", [("acount", "account"), ("biling", "billing"), ("ACCOUNTS", "account")])
def test_a_misspelt_category_gets_a_did_you_mean(directory, acme, typed, meant):
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=(typed,)))
    assert caught.value.for_field("categories") == [
        f"Unknown category {typed!r}; the catalog has billing, account. Did you mean {meant!r}?"
    ]


def test_toggle_category_switches_one_category(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    assert directory.toggle_category(eve.id, "account").categories == ("billing", "account")
    assert directory.toggle_category(eve.id, "BILLING").categories == ("account",)
    assert directory.get_contact(eve.id).categories == ("account",)


def test_set_category_twice_keeps_one_opt_in(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.set_category(eve.id, "billing", True)
    assert directory.set_category(eve.id, "billing", True).categories == ("billing",)


def test_receive_all_is_switched_on_and_off(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    assert directory.set_receive_all(eve.id, True).receive_all is True
    assert directory.get_contact(eve.id).receive_all is True
    assert directory.set_receive_all(eve.id, False).receive_all is False


def test_an_edit_replaces_the_categories(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    edited = directory.update_contact(
        eve.id, person("Eve", "eve@acme.example", categories=("account",), receive_all=True)
    )
    assert (edited.categories, edited.receive_all) == (("account",), True)


# -- missing records ---------------------------------------------------------


def test_missing_customer_and_contact_are_not_found(directory, acme):
    with pytest.raises(NotFound, match="customer 999"):
        directory.add_contact(999, person("Eve", "eve@acme.example"))
    with pytest.raises(NotFound, match="customer 999"):
        directory.get_customer(999)
    with pytest.raises(NotFound, match="customer 999"):
        directory.list_contacts(999)
    with pytest.raises(NotFound, match="customer 999"):
        directory.update_customer(999, CustomerInput("Nobody", "nobody@acme.example"))
    with pytest.raises(NotFound, match="customer 999"):
        directory.set_customer_active(999, False)
    for call in (
        lambda: directory.get_contact(999),
        lambda: directory.update_contact(999, person("Eve", "eve@acme.example")),
        lambda: directory.delete_contact(999),
        lambda: directory.undelete_contact(999),
        lambda: directory.make_primary(999),
        lambda: directory.toggle_category(999, "billing"),
        lambda: directory.set_receive_all(999, True),
    ):
        with pytest.raises(NotFound, match="contact person 999"):
            call()


def test_one_save_reports_an_empty_name_and_a_duplicate_email_together(directory, acme):
    bea = directory.add_contact(acme.id, person("Bea", "bea@acme.example"))
    with pytest.raises(ValidationError) as caught:
        directory.add_contact(acme.id, person("", "BEA@acme.example", phone="not a phone"))
    assert caught.value.for_field("name") == ["Name is required"]
    assert caught.value.for_field("email") == [
        "BEA@acme.example is already a contact person of this customer (as bea@acme.example)"
    ]
    assert caught.value.for_field("phone")
    with pytest.raises(ValidationError) as caught:
        directory.update_contact(bea.id, person("", "owner@acme.example"))
    assert caught.value.for_field("name") == ["Name is required"]
    assert caught.value.for_field("email") == [
        "owner@acme.example is this customer's primary email, which gets every notification already"
    ]
