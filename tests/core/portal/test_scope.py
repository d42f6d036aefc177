"""What a signed-in customer may do: its own contact persons only, under
every directory rule, each change recorded as the customer and its channel.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import LimitReached, NotFound, ValidationError
from contacts_tui.core.portal.scope import PortalClosed, PortalScope
from contacts_tui.core.records import ContactInput, CustomerRecord

from ..helpers import new_customer, person


@pytest.fixture
def other(directory: Directory) -> CustomerRecord:
    customer = new_customer(directory, "boss@other.example", "Other Ltd")
    directory.add_contact(customer.id, person("Sam Secret", "sam@other.example"))
    return customer


@pytest.fixture
def scope(directory: Directory, acme: CustomerRecord) -> PortalScope:
    return PortalScope(directory, acme.id, "web")


def test_every_change_is_the_customers_own_and_recorded_as_it(
    directory: Directory, acme: CustomerRecord, scope: PortalScope
) -> None:
    bea = scope.add(person("Bea Bookman", "bea@acme.example"))
    scope.edit(bea.id, ContactInput("Bea Bookman", "bea@acme.example", "+31 6 1234 5678", "Billing"))
    scope.toggle_category(bea.id, "billing")
    scope.set_receive_all(bea.id, True)
    scope.delete(bea.id)
    scope.restore(bea.id)
    (contact,) = scope.contacts()
    assert (contact.phone, contact.role, contact.categories, contact.receive_all, contact.active) == (
        "+31 6 1234 5678",
        "Billing",
        ("billing",),
        True,
        True,
    )
    changes = [c for c in scope.history() if c.contact_id == bea.id]
    assert [c.action for c in reversed(changes)] == [
        "contact added",
        "contact edited",
        "categories changed",
        "receive all changed",
        "contact deleted",
        "contact restored",
    ]
    assert {(c.who, c.channel) for c in changes} == {("owner@acme.example", "web")}


def test_another_customers_contact_is_as_if_it_did_not_exist(
    directory: Directory, other: CustomerRecord, scope: PortalScope
) -> None:
    (sam,) = directory.list_contacts(other.id)
    calls = [
        lambda: scope.edit(sam.id, ContactInput("Taken Over", "sam@other.example")),
        lambda: scope.delete(sam.id),
        lambda: scope.restore(sam.id),
        lambda: scope.toggle_category(sam.id, "billing"),
        lambda: scope.set_receive_all(sam.id, True),
        lambda: scope.edit(10_000, ContactInput("Nobody", "nobody@acme.example")),
        lambda: scope.delete("1 OR 1=1"),
    ]
    for call in calls:
        with pytest.raises(NotFound) as raised:
            call()
        assert "Other" not in str(raised.value) and "sam@" not in str(raised.value)
    assert directory.get_contact(sam.id) == sam
    assert [c.email for c in scope.contacts()] == []
    assert all(c.customer_id != other.id for c in scope.history())


def test_every_directory_rule_holds(directory: Directory, acme: CustomerRecord, scope: PortalScope) -> None:
    with pytest.raises(ValidationError) as own:
        scope.add(person("Me Again", "OWNER@acme.example"))
    assert own.value.errors[0].field == "email"
    scope.add(person("Bea Bookman", "bea@acme.example"))
    with pytest.raises(ValidationError) as twice:
        scope.add(person("Bea Again", "Bea@Acme.example"))
    assert twice.value.errors[0].field == "email"
    with pytest.raises(ValidationError) as control:
        scope.add(person("Eve\r\nBcc: all@acme.example", "eve@acme.example"))
    assert control.value.errors[0].field == "name"
    for number in range(directory.max_contacts - 1):
        scope.add(person(f"Person {number}", f"p{number}@acme.example"))
    with pytest.raises(LimitReached):
        scope.add(person("One Too Many", "many@acme.example"))


def test_a_deleted_contact_cannot_be_changed_until_restored(
    directory: Directory, acme: CustomerRecord, scope: PortalScope
) -> None:
    """The exploit: deleted, its address edited to the primary (it vanished from
    both lists), and a make primary by the admin later brought it back."""
    eve = scope.add(person("Eve", "eve@acme.example"))
    bob = scope.add(person("Bob", "bob@acme.example"))
    scope.delete(eve.id)
    refused = "Eve is deleted: restore this contact person before changing it"
    for change in (
        lambda: scope.edit(eve.id, person("Crafted", "owner@acme.example", phone="+1 555")),
        lambda: scope.toggle_category(eve.id, "billing"),
        lambda: scope.set_receive_all(eve.id, True),
    ):
        with pytest.raises(ValidationError, match=refused):
            change()
    assert [(c.name, c.email, c.active) for c in scope.contacts()] == [
        ("Bob", "bob@acme.example", True),
        ("Eve", "eve@acme.example", False),
    ]
    directory.make_primary(bob.id)
    (old_primary,) = [c for c in directory.list_contacts(acme.id) if c.email == "owner@acme.example"]
    assert old_primary.name == "Acme Ltd"
    # Restored, it can be edited again.
    scope.restore(eve.id)
    assert scope.edit(eve.id, person("Eve Smith", "eve@acme.example")).name == "Eve Smith"


def test_the_record_kept_under_the_primary_email_is_not_the_customers_to_change(
    directory: Directory, acme: CustomerRecord
) -> None:
    bea = directory.add_contact(acme.id, person("Bea Bookman", "bea@acme.example"))
    directory.make_primary(bea.id)  # bea@ is the primary now; her record waits, deleted
    scope = PortalScope(directory, acme.id, "ssh")
    with pytest.raises(NotFound):
        scope.restore(bea.id)
    assert "bea@acme.example" not in [c.email for c in scope.contacts()]
    assert scope.actor.who == "bea@acme.example"


def test_turning_the_portal_off_ends_a_session_at_its_next_step(
    directory: Directory, acme: CustomerRecord, scope: PortalScope
) -> None:
    directory.set_portal_access(acme.id, False)
    with pytest.raises(PortalClosed):
        scope.contacts()
    with pytest.raises(PortalClosed):
        scope.add(person("Bea Bookman", "bea@acme.example"))
    assert directory.list_contacts(acme.id) == []
