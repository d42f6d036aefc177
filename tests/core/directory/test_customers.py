"""Customers, and the same person at several customers, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.errors import ValidationError
from contacts_tui.core.records import CustomerInput

from ..helpers import new_customer, person


def test_customer_is_created_trimmed_and_active(directory):
    customer = directory.create_customer(CustomerInput("  Acme Ltd ", " Owner@ACME.example ", " +31 20 123 4567 "))
    assert (customer.name, customer.email, customer.phone) == ("Acme Ltd", "Owner@acme.example", "+31 20 123 4567")
    assert customer.active and customer.contact_count == 0
    assert directory.get_customer(customer.id) == customer


def test_customer_fields_are_checked_together(directory):
    with pytest.raises(ValidationError) as caught:
        directory.create_customer(CustomerInput("Acme\r\nBcc: x@y.example", "nope", "abc"))
    assert {e.field for e in caught.value.errors} == {"name", "email", "phone"}
    assert directory.counts() == (0, 0)


def test_customer_email_is_unique_case_insensitively(directory, acme):
    with pytest.raises(ValidationError) as caught:
        directory.create_customer(CustomerInput("Acme copy", "OWNER@Acme.Example"))
    assert caught.value.for_field("email") == ["OWNER@acme.example is already the primary email of customer 'Acme Ltd'"]
    assert directory.counts() == (1, 0)


def test_find_customer_ignores_case(directory, acme):
    assert directory.find_customer("OWNER@acme.EXAMPLE").id == acme.id
    assert directory.find_customer("nobody@acme.example") is None


def test_update_customer_changes_name_email_and_phone(directory, acme):
    updated = directory.update_customer(acme.id, CustomerInput("Acme Group", "billing@acme.example", "020 555"))
    assert (updated.name, updated.email, updated.phone) == ("Acme Group", "billing@acme.example", "020 555")
    assert directory.find_customer("billing@acme.example").id == acme.id
    assert [c.id for c in directory.search_customers("acme group").rows] == [acme.id]
    assert directory.search_customers("owner@acme").total == 0


def test_update_customer_to_another_customers_email_is_refused(directory, acme):
    new_customer(directory, "owner@globex.example", "Globex")
    with pytest.raises(ValidationError, match="already the primary email of customer 'Globex'"):
        directory.update_customer(acme.id, CustomerInput("Acme Ltd", "Owner@Globex.example"))
    assert directory.get_customer(acme.id).email == "owner@acme.example"


def test_update_customer_keeping_its_own_email_in_another_case_is_fine(directory, acme):
    assert (
        directory.update_customer(acme.id, CustomerInput("Acme Ltd", "OWNER@acme.example")).email
        == "OWNER@acme.example"
    )


def test_update_customer_email_to_one_of_its_contacts_is_refused(directory, acme):
    directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    with pytest.raises(ValidationError) as caught:
        directory.update_customer(acme.id, CustomerInput("Acme Ltd", "EVE@acme.example"))
    assert caught.value.for_field("email") == [
        "EVE@acme.example is a contact person of this customer; use 'make primary' to swap them"
    ]
    assert directory.get_customer(acme.id).email == "owner@acme.example"


def test_deactivated_customer_keeps_its_contacts_and_is_found(directory, acme):
    directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    assert directory.set_customer_active(acme.id, False).active is False
    assert directory.get_customer(acme.id).active is False
    assert len(directory.list_contacts(acme.id)) == 1
    assert [c.id for c in directory.search_customers("acme").rows] == [acme.id]
    assert directory.set_customer_active(acme.id, True).active is True


def test_counts_are_customers_and_active_contacts(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    directory.delete_contact(eve.id)
    new_customer(directory, "owner@globex.example", "Globex")
    assert directory.counts() == (2, 1)


# -- the same person at several customers ------------------------------------


@pytest.fixture
def eve_everywhere(directory, acme):
    """Eve is a contact at Acme, Globex and Initech (there in upper case)."""
    globex = new_customer(directory, "owner@globex.example", "Globex")
    initech = new_customer(directory, "owner@initech.example", "Initech")
    at_acme = directory.add_contact(acme.id, person("Eve", "eve@shared.example", phone="111"))
    directory.add_contact(globex.id, person("Eve S.", "eve@shared.example", phone="222", role="Billing"))
    directory.add_contact(initech.id, person("E. Smith", "EVE@shared.example"))
    return at_acme, globex, initech


def test_memberships_list_every_customer_of_an_address(directory, acme, eve_everywhere):
    _, globex, initech = eve_everywhere
    found = directory.memberships("Eve@Shared.Example")
    assert [(m.customer_name, m.name) for m in found] == [
        ("Acme Ltd", "Eve"),
        ("Globex", "Eve S."),
        ("Initech", "E. Smith"),
    ]
    assert {m.customer_email for m in found} == {"owner@acme.example", "owner@globex.example", "owner@initech.example"}


def test_memberships_leave_out_deleted_records(directory, acme, eve_everywhere):
    at_acme, _, _ = eve_everywhere
    directory.delete_contact(at_acme.id)
    assert [m.customer_name for m in directory.memberships("eve@shared.example")] == ["Globex", "Initech"]


def test_apply_to_all_copies_name_and_phone_to_every_record(directory, acme, eve_everywhere):
    at_acme, globex, initech = eve_everywhere
    directory.update_contact(at_acme.id, person("Evelyn Smith", "eve@shared.example", phone="999"), apply_to_all=True)
    found = directory.memberships("eve@shared.example")
    assert {(m.name, m.phone) for m in found} == {("Evelyn Smith", "999")}
    # Only name and phone travel: Globex's role stays, each search text follows.
    at_globex = directory.list_contacts(globex.id)[0]
    assert at_globex.role == "Billing"
    assert sorted(c.id for c in directory.search_customers("evelyn").rows) == sorted([acme.id, globex.id, initech.id])


def test_an_edit_without_apply_to_all_changes_one_record(directory, acme, eve_everywhere):
    at_acme, globex, _ = eve_everywhere
    directory.update_contact(at_acme.id, person("Evelyn Smith", "eve@shared.example", phone="999"))
    assert directory.list_contacts(globex.id)[0].name == "Eve S."
    assert [c.id for c in directory.search_customers("evelyn").rows] == [acme.id]


def test_apply_to_all_with_a_new_address_follows_the_old_one(directory, acme, eve_everywhere):
    at_acme, globex, _ = eve_everywhere
    directory.update_contact(at_acme.id, person("Eve Smith", "eve.smith@shared.example"), apply_to_all=True)
    at_globex = directory.list_contacts(globex.id)[0]
    # The other records keep their address; only name and phone are copied.
    assert (at_globex.name, at_globex.email) == ("Eve Smith", "eve@shared.example")


def test_apply_to_all_refuses_bad_input_everywhere(directory, acme, eve_everywhere):
    at_acme, globex, _ = eve_everywhere
    with pytest.raises(ValidationError):
        directory.update_contact(at_acme.id, person("Eve\nBcc: x@y.example", "eve@shared.example"), apply_to_all=True)
    assert directory.list_contacts(globex.id)[0].name == "Eve S."


def test_one_save_reports_an_empty_name_and_a_taken_email_together(directory):
    directory.create_customer(CustomerInput("Acme", "owner@acme.example"))
    with pytest.raises(ValidationError) as caught:
        directory.create_customer(CustomerInput(" ", "OWNER@acme.example"))
    assert caught.value.for_field("name") == ["Name is required"]
    assert caught.value.for_field("email") == ["OWNER@acme.example is already the primary email of customer 'Acme'"]
