"""The history: every write of the directory records one change, with who,
through which channel and what changed, field by field; deleting keeps it.
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from contacts_tui.core.directory.history import Actor, admin_actor, import_actor, parse_since
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.models import utcnow
from contacts_tui.core.records import CustomerInput

from ..helpers import new_customer, person

CUSTOMER = Actor("owner@acme.example", "web")


def actions(directory, customer_id=None):
    return [(c.action, c.who, c.channel) for c in reversed(directory.history(customer_id))]


def test_each_write_is_recorded_once_with_its_author_channel_and_fields(directory, acme):
    admin = admin_actor().who
    portal = directory.as_actor(CUSTOMER)
    ann = portal.add_contact(acme.id, person("Ann", "ann@acme.example", categories=("billing",)))
    portal.update_contact(ann.id, person("Anne", "ann@acme.example", phone="+31 6 1234", categories=("billing",)))
    portal.toggle_category(ann.id, "account")
    portal.set_receive_all(ann.id, True)
    portal.delete_contact(ann.id)
    portal.undelete_contact(ann.id)
    directory.update_customer(acme.id, CustomerInput("Acme BV", acme.email))
    directory.set_customer_active(acme.id, False)
    directory.make_primary(ann.id)

    assert actions(directory, acme.id) == [
        ("customer added", admin, "tui"),
        ("contact added", "owner@acme.example", "web"),
        ("contact edited", "owner@acme.example", "web"),
        ("categories changed", "owner@acme.example", "web"),
        ("receive all changed", "owner@acme.example", "web"),
        ("contact deleted", "owner@acme.example", "web"),
        ("contact restored", "owner@acme.example", "web"),
        ("customer edited", admin, "tui"),
        ("customer deactivated", admin, "tui"),
        ("made primary", admin, "tui"),
    ]
    newest = directory.history(acme.id)
    by_action = {c.action: c for c in newest}
    edited = by_action["contact edited"]
    # Only what changed, before and after.
    assert edited.changes == (("name", "Ann", "Anne"), ("phone", "", "+31 6 1234"))
    assert edited.contact_id == ann.id and edited.contact_email == "ann@acme.example"
    assert by_action["categories changed"].changes == (("categories", ["billing"], ["billing", "account"]),)
    assert by_action["customer edited"].changes == (("name", "Acme Ltd", "Acme BV"),)
    assert by_action["made primary"].changes == (("primary email", "owner@acme.example", "ann@acme.example"),)
    assert by_action["made primary"].customer_email == "ann@acme.example"
    assert 'name "Ann" -> "Anne"' in edited.describe()
    assert directory.history(acme.id)[0].action == "made primary"  # newest first


def test_a_write_that_changes_nothing_records_nothing(directory, acme):
    ann = directory.add_contact(acme.id, person("Ann", "ann@acme.example", categories=("billing",)))
    before = len(directory.history(acme.id))
    directory.update_contact(ann.id, person("Ann", "ann@acme.example", categories=("billing",)))
    directory.set_category(ann.id, "billing", True)
    directory.set_receive_all(ann.id, False)
    directory.set_customer_active(acme.id, True)
    directory.set_portal_access(acme.id, True)
    assert len(directory.history(acme.id)) == before


def test_a_refused_write_records_nothing(directory, acme):
    directory.add_contact(acme.id, person("Ann", "ann@acme.example"))
    before = len(directory.history(acme.id))
    with pytest.raises(ValidationError):
        directory.add_contact(acme.id, person("Ann again", "ANN@acme.example"))
    assert len(directory.history(acme.id)) == before


def test_the_history_of_a_deleted_contact_person_stays(directory, acme):
    ann = directory.add_contact(acme.id, person("Ann", "ann@acme.example"))
    directory.delete_contact(ann.id)
    history = directory.history(acme.id)
    assert [c.action for c in history] == ["contact deleted", "contact added", "customer added"]
    assert all(c.contact_email == "ann@acme.example" for c in history[:2])


def test_an_edit_applied_everywhere_shows_in_each_customers_history(directory, acme):
    other = new_customer(directory, "owner@other.example", "Other")
    ann = directory.add_contact(acme.id, person("Ann", "ann@acme.example"))
    there = directory.add_contact(other.id, person("Ann", "ann@acme.example"))
    directory.update_contact(ann.id, person("Ann Smith", "ann@acme.example"), apply_to_all=True)
    (change,) = [c for c in directory.history(other.id) if c.action == "contact edited"]
    assert change.contact_id == there.id and change.changes == (("name", "Ann", "Ann Smith"),)
    assert change.customer_email == "owner@other.example"


def test_portal_access_is_recorded_and_a_sign_in_only_noted(directory, acme):
    assert directory.get_customer(acme.id).portal_enabled
    disabled = directory.set_portal_access(acme.id, False)
    assert disabled.portal_disabled_at is not None and not disabled.portal_enabled
    assert directory.get_customer(acme.id).portal_disabled_at == disabled.portal_disabled_at
    enabled = directory.set_portal_access(acme.id, True)
    assert enabled.portal_disabled_at is None
    assert [c.action for c in directory.history(acme.id)][:2] == ["portal enabled", "portal disabled"]

    before = len(directory.history())
    signed = directory.record_sign_in(acme.id, "ssh")
    assert signed.last_sign_in_channel == "ssh" and signed.last_sign_in_at is not None
    assert directory.get_customer(acme.id).last_sign_in_channel == "ssh"
    assert len(directory.history()) == before
    with pytest.raises(ValidationError):
        directory.record_sign_in(acme.id, "tui")


def test_history_of_all_customers_since_a_time_and_limited(directory, acme):
    new_customer(directory, "owner@other.example", "Other")
    assert {c.customer_email for c in directory.history()} == {"owner@acme.example", "owner@other.example"}
    assert len(directory.history(limit=1)) == 1
    assert directory.history(since=utcnow() + dt.timedelta(minutes=1)) == []
    assert len(directory.history(since=utcnow() - dt.timedelta(minutes=1))) == 2


def test_an_actor_says_who_in_words_and_through_a_known_channel():
    assert admin_actor().who.startswith("admin ")
    assert admin_actor("cli").channel == "cli"
    assert import_actor("/home/me/contacts.csv") == Actor("contacts.csv", "import")
    assert import_actor("-").who == "standard input"
    with pytest.raises(ValueError):
        Actor("someone", "telnet")
    with pytest.raises(ValueError):
        Actor("evil\nline", "web")


def test_dates_people_type_are_read_in_their_zone(local_zone):
    local_zone("Europe/Amsterdam")
    assert parse_since("2026-12-01") == dt.datetime(2026, 11, 30, 23, 0)
    assert parse_since("2026-12-01T10:00:00Z") == dt.datetime(2026, 12, 1, 10, 0)
    with pytest.raises(ValueError, match="not a date"):
        parse_since("yesterday")


def test_an_import_records_each_changed_customer_and_contact_once_as_the_file(directory, acme):
    from ..helpers import csv_text, import_text

    ann = directory.add_contact(acme.id, person("Ann", "ann@acme.example"))
    gone = directory.add_contact(acme.id, person("Gone", "gone@acme.example"))
    old = directory.add_contact(acme.id, person("Old", "old@acme.example"))
    directory.delete_contact(old.id)
    before = {c.id for c in directory.history()}
    data = csv_text(
        "owner@acme.example,Acme Ltd,Ann,ann@acme.example,+31 20 123,Billing,billing",
        "owner@acme.example,Acme Ltd,Old,old@acme.example,,,",
        "owner@new.example,New Co,Bea,bea@new.example,,,all",
    )
    assert import_text(directory, data, dry_run=True).rows == 3
    assert {c.id for c in directory.history()} == before  # a dry run records nothing

    import_text(directory, data, sync=True, source="/tmp/contacts-2026.csv")
    recorded = [c for c in reversed(directory.history()) if c.id not in before]
    assert {(c.who, c.channel) for c in recorded} == {("contacts-2026.csv", "import")}
    assert sorted((c.customer_email, c.action, c.contact_email) for c in recorded) == [
        ("owner@acme.example", "contact deleted", "gone@acme.example"),
        ("owner@acme.example", "contact edited", "ann@acme.example"),
        ("owner@acme.example", "contact restored", "old@acme.example"),
        ("owner@new.example", "contact added", "bea@new.example"),
        ("owner@new.example", "customer added", ""),
    ]
    by_action = {c.action: c for c in recorded}
    assert by_action["contact edited"].contact_id == ann.id
    assert by_action["contact edited"].changes == (
        ("phone", "", "+31 20 123"),
        ("role", "General", "Billing"),
        ("categories", [], ["billing"]),
    )
    assert by_action["contact deleted"].contact_id == gone.id
    assert ("receive all", None, True) in by_action["contact added"].changes
    new = directory.find_customer("owner@new.example")
    assert {c.action for c in directory.history(new.id)} == {"customer added", "contact added"}

    # The same file again changes nothing, so records nothing.
    count = len(directory.history())
    import_text(directory, data, sync=True, source="contacts-2026.csv")
    assert len(directory.history()) == count
