"""Soft delete, show inactive, undelete and make primary, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.errors import LimitReached, ValidationError
from contacts_tui.core.records import CustomerInput

from ..helpers import active_emails, new_customer, person

# -- soft delete and undelete ------------------------------------------------


def test_delete_is_soft_and_shown_with_inactive(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    bob = directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    deleted = directory.delete_contact(eve.id)
    assert deleted.active is False and deleted.deleted_at is not None
    assert [c.name for c in directory.list_contacts(acme.id)] == ["Bob"]
    everyone = directory.list_contacts(acme.id, include_deleted=True)
    assert [(c.name, c.active) for c in everyone] == [("Bob", True), ("Eve", False)]
    assert directory.get_customer(acme.id).contact_count == 1
    assert directory.get_contact(bob.id).active


def test_deleting_twice_keeps_the_first_deletion_time(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    first = directory.delete_contact(eve.id)
    assert directory.delete_contact(eve.id).deleted_at == first.deleted_at


def test_deletion_stops_the_resolver_at_once(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    before = directory.resolve(["owner@acme.example"], "invoice.created")
    assert [a.email for a in before.additions] == ["eve@acme.example"]
    directory.delete_contact(eve.id)
    after = directory.resolve(["owner@acme.example"], "invoice.created")
    assert after.additions == ()


def test_undelete_restores_the_contact_with_its_opt_ins(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    directory.delete_contact(eve.id)
    restored = directory.undelete_contact(eve.id)
    assert restored.active and restored.categories == ("billing",)
    assert directory.get_customer(acme.id).contact_count == 1
    assert [a.email for a in directory.resolve(["owner@acme.example"], "billing").additions] == ["eve@acme.example"]


def test_undelete_is_refused_when_the_address_was_added_again(directory, acme):
    first = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.delete_contact(first.id)
    directory.add_contact(acme.id, person("Eve (new)", "EVE@acme.example"))
    with pytest.raises(ValidationError, match="already a contact person"):
        directory.undelete_contact(first.id)
    assert directory.get_contact(first.id).active is False
    assert directory.get_customer(acme.id).contact_count == 1


def test_undelete_is_refused_at_the_limit(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.delete_contact(eve.id)
    for i in range(10):
        directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example"))
    with pytest.raises(LimitReached, match="Eve: this customer already has 10 contact persons"):
        directory.undelete_contact(eve.id)
    assert directory.get_contact(eve.id).active is False


def test_undelete_is_refused_when_the_address_became_the_primary(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.delete_contact(eve.id)
    directory.update_customer(acme.id, CustomerInput("Acme Ltd", "Eve@Acme.example"))
    with pytest.raises(ValidationError, match="primary email"):
        directory.undelete_contact(eve.id)


def test_several_deleted_records_of_one_address_may_exist(directory, acme):
    for _ in range(3):
        eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
        directory.delete_contact(eve.id)
    assert len(directory.list_contacts(acme.id, include_deleted=True)) == 3
    directory.undelete_contact(eve.id)
    assert active_emails(directory, acme.id) == ["eve@acme.example"]


def test_a_deleted_contact_is_read_only_until_it_is_restored(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    directory.delete_contact(eve.id)
    before, changes = directory.get_contact(eve.id), len(directory.history(acme.id))
    refused = "Eve is deleted: restore this contact person before changing it"
    for change in (
        lambda: directory.update_contact(eve.id, person("Eve Changed", "eve.changed@acme.example")),
        lambda: directory.update_contact(eve.id, person("Eve", "eve@acme.example", phone="+31 6 1")),
        lambda: directory.update_contact(eve.id, person("", "not an address")),  # refused as deleted first
        lambda: directory.set_category(eve.id, "account", True),
        lambda: directory.toggle_category(eve.id, "billing"),
        lambda: directory.set_receive_all(eve.id, True),
    ):
        with pytest.raises(ValidationError) as raised:
            change()
        assert str(raised.value) == refused
    assert directory.get_contact(eve.id) == before
    assert len(directory.history(acme.id)) == changes
    # Restored, it is an ordinary contact person again.
    directory.undelete_contact(eve.id)
    edited = directory.update_contact(eve.id, person("Eve Changed", "eve.changed@acme.example"))
    assert (edited.name, edited.email, edited.active) == ("Eve Changed", "eve.changed@acme.example", True)


def test_a_deleted_contact_cannot_be_crafted_into_the_primary_and_brought_back(directory, acme):
    """The exploit: delete a contact, edit its address to the primary email (it
    was accepted and vanished from both lists), then a make primary brought the
    crafted record back as the old primary's contact person."""
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    bob = directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    directory.delete_contact(eve.id)
    with pytest.raises(ValidationError, match="Eve is deleted: restore this contact person before changing it"):
        directory.update_contact(eve.id, person("Crafted", "owner@acme.example", phone="+1 555", role="Management"))
    assert directory.get_contact(eve.id).email == "eve@acme.example"
    directory.make_primary(bob.id)
    (old_primary,) = [c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example"]
    assert (old_primary.name, old_primary.phone) == ("Acme Ltd", "")  # the customer's own, as before


def test_apply_to_all_leaves_deleted_records_as_they_were(directory, acme):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    at_acme = directory.add_contact(acme.id, person("Eve", "eve@shared.example"))
    at_globex = directory.add_contact(globex.id, person("Eve G.", "eve@shared.example"))
    directory.delete_contact(at_globex.id)
    directory.update_contact(at_acme.id, person("Evelyn", "eve@shared.example"), apply_to_all=True)
    assert directory.get_contact(at_globex.id).name == "Eve G."
    assert [c.action for c in directory.history(globex.id)][:1] == ["contact deleted"]


# -- make primary ------------------------------------------------------------


def test_make_primary_swaps_the_addresses(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "Eve@acme.example", categories=("billing",)))
    directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    customer = directory.make_primary(eve.id)
    assert customer.email == "Eve@acme.example"
    assert directory.get_customer(acme.id).email == "Eve@acme.example"
    assert directory.find_customer("eve@ACME.example").id == acme.id
    assert directory.find_customer("owner@acme.example") is None
    contacts = directory.list_contacts(acme.id, include_deleted=True)
    assert sorted(c.email for c in contacts) == ["bob@acme.example", "owner@acme.example"]
    old = next(c for c in contacts if c.email == "owner@acme.example")
    assert old.active and old.receive_all and old.name == "Acme Ltd"
    assert directory.get_customer(acme.id).contact_count == 2
    assert customer.contact_count == 2


def test_make_primary_moves_mail_to_the_new_primary(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example", categories=("billing",)))
    directory.make_primary(eve.id)
    by_old = directory.resolve(["owner@acme.example"], "billing")
    assert by_old.customers == ()
    by_new = directory.resolve(["eve@acme.example"], "billing")
    assert [a.email for a in by_new.additions] == ["owner@acme.example"]


def test_make_primary_at_the_limit_keeps_the_count(directory, acme):
    added = [directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example")) for i in range(10)]
    directory.make_primary(added[3].id)
    assert directory.get_customer(acme.id).contact_count == 10
    assert len(directory.list_contacts(acme.id)) == 10


def test_make_primary_back_restores_the_earlier_record(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.make_primary(eve.id)
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    directory.make_primary(owner.id)
    assert directory.get_customer(acme.id).email == "owner@acme.example"
    assert active_emails(directory, acme.id) == ["eve@acme.example"]
    assert directory.get_customer(acme.id).contact_count == 1


def test_make_primary_back_gives_the_person_their_own_details_again(directory, acme):
    eve = directory.add_contact(
        acme.id, person("Eve Example", "eve@acme.example", phone="+49 2", role="Bookkeeping", categories=("billing",))
    )
    directory.make_primary(eve.id)
    assert all(c.email != "eve@acme.example" for c in directory.list_contacts(acme.id, include_deleted=True))
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    directory.make_primary(owner.id)
    back = directory.get_contact(eve.id)
    assert (back.name, back.email, back.phone, back.role, back.categories) == (
        "Eve Example",
        "eve@acme.example",
        "+49 2",
        "Bookkeeping",
        ("billing",),
    )
    # Exactly as she was: the swap gave her nothing she had not chosen.
    assert back.active and not back.receive_all
    assert directory.list_contacts(acme.id) == [back]


def test_make_primary_and_back_never_adds_a_category(directory, acme):
    fenna = directory.add_contact(acme.id, person("Fenna", "fenna@acme.example", categories=("billing",)))
    directory.make_primary(fenna.id)
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    directory.make_primary(owner.id)
    back = directory.get_contact(fenna.id)
    assert (back.receive_all, back.categories) == (False, ("billing",))
    assert [a.email for a in directory.resolve(["owner@acme.example"], "account").additions] == []
    # Nobody's "receive all" or categories changed, so the history says no such thing.
    swaps = [change for change in directory.history(acme.id) if not change.action.endswith(" added")]
    fields = [f for change in swaps for f, _, _ in change.changes]
    assert fields == ["primary email", "primary email"]
    assert "receive all" not in fields and "categories" not in fields


def test_make_primary_again_gives_the_old_primary_its_own_choice_back(directory, acme):
    fenna = directory.add_contact(acme.id, person("Fenna", "fenna@acme.example", categories=("billing",)))
    directory.make_primary(fenna.id)
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    # Met for the first time as a contact person, the old primary gets everything ...
    assert owner.receive_all
    # ... until an admin narrows it down; swapping twice more keeps that choice.
    directory.set_receive_all(owner.id, False)
    directory.set_category(owner.id, "account", True)
    directory.make_primary(owner.id)
    directory.make_primary(fenna.id)
    again = directory.get_contact(owner.id)
    assert again.active and (again.receive_all, again.categories) == (False, ("account",))


def test_make_primary_reuses_a_deleted_record_of_the_old_primary(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.make_primary(eve.id)
    owner = next(c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example")
    directory.delete_contact(owner.id)
    bob = directory.add_contact(acme.id, person("Bob", "bob@acme.example"))
    directory.make_primary(bob.id)
    # eve@ is a contact again; owner@ stays deleted, bob@ is gone as a contact.
    assert active_emails(directory, acme.id) == ["eve@acme.example"]
    assert directory.get_customer(acme.id).contact_count == 1


def test_make_primary_refuses_another_customers_primary_address(directory, acme):
    globex = new_customer(directory, "owner@globex.example", "Globex")
    shared = directory.add_contact(acme.id, person("Globex owner", "OWNER@globex.example"))
    with pytest.raises(ValidationError, match="already the primary email of customer 'Globex'"):
        directory.make_primary(shared.id)
    assert directory.get_customer(acme.id).email == "owner@acme.example"
    assert directory.get_customer(globex.id).email == "owner@globex.example"
    assert directory.get_contact(shared.id).active


def test_make_primary_refuses_a_deleted_contact(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve", "eve@acme.example"))
    directory.delete_contact(eve.id)
    with pytest.raises(ValidationError, match="restore this contact person before making it primary"):
        directory.make_primary(eve.id)
    assert directory.get_customer(acme.id).email == "owner@acme.example"


def test_the_primary_email_is_no_contact_and_cannot_be_deleted_as_one(directory, acme):
    assert all(c.email != "owner@acme.example" for c in directory.list_contacts(acme.id, include_deleted=True))
    assert directory.memberships("owner@acme.example") == []


def test_make_primary_keeps_search_in_step(directory, acme):
    eve = directory.add_contact(acme.id, person("Eve Zander", "eve.zander@acme.example"))
    directory.make_primary(eve.id)
    assert [c.id for c in directory.search_customers("eve.zander").rows] == [acme.id]
    assert [c.id for c in directory.search_customers("owner@acme").rows] == [acme.id]
