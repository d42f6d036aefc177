"""Bulk changes: a bulk change is the same changes one by one (the same
rules, the same records, the same history), planned before anything is
written; refusals name their records; undo puts back exactly what changed.
On SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.directory.bulk import steps
from contacts_tui.core.directory.bulk.actions import (
    ACTIVATE,
    DEACTIVATE,
    DELETE,
    RECEIVE_ALL_OFF,
    RECEIVE_ALL_ON,
    RESTORE,
    SWITCH_OFF,
    SWITCH_ON,
    BulkAction,
    Selection,
    refusals_text,
)
from contacts_tui.core.directory.filters import Filter
from contacts_tui.core.directory.history import Actor
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.interrupt import Stop
from contacts_tui.core.models import ALL_MODELS, ContactPerson, Customer
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.core.validate import ROLES

ADMIN = Actor("admin tester", "tui")
LIMIT = 4
SEEDS = (1, 2, 3, 4, 5)

ACTIONS = [
    BulkAction(SWITCH_ON, "billing"),
    BulkAction(SWITCH_OFF, "billing"),
    BulkAction(SWITCH_ON, "account"),
    BulkAction(SWITCH_OFF, "account"),
    BulkAction(RECEIVE_ALL_ON),
    BulkAction(RECEIVE_ALL_OFF),
    BulkAction(DELETE),
    BulkAction(RESTORE),
    BulkAction(DEACTIVATE),
    BulkAction(ACTIVATE),
]


def use(directory: Directory) -> Directory:
    """Bind the models to this directory's database: peewee binds them to one at a time."""
    directory.database.bind(ALL_MODELS, bind_refs=False, bind_backrefs=False)
    return directory


def limited(directory: Directory) -> Directory:
    """The directory with a small contact limit, so restores run into it."""
    return Directory(directory.database, max_contacts=LIMIT).as_actor(ADMIN)


def populate(directory: Directory, seed: int) -> None:
    """Customers at two domains with contact persons of every kind: roles,
    categories, receive-all, deleted, a deleted address that is taken again."""
    rng = random.Random(seed)
    for c in range(10):
        domain = "acme.example" if c % 2 else "globex.example"
        customer = directory.create_customer(CustomerInput(f"Customer {c}", f"owner{c}@{domain}"))
        people = []
        for p in range(rng.randint(0, LIMIT)):
            categories = tuple(rng.sample(["billing", "account"], rng.randint(0, 2)))
            data = ContactInput(
                f"Person {c}.{p}",
                f"p{p}@{rng.choice(['acme.example', 'ledger.example'])}",
                role=rng.choice(ROLES[:3]),
                categories=categories,
                receive_all=rng.random() < 0.2,
            )
            people.append(directory.add_contact(customer.id, data))
        for contact in people:
            if rng.random() < 0.35:
                directory.delete_contact(contact.id)
        if people and not people[0].active or (people and rng.random() < 0.3):
            # The deleted address taken by a new record: restoring the old one is refused.
            first = people[0]
            directory.delete_contact(first.id)
            if directory.get_customer(customer.id).contact_count < LIMIT:
                directory.add_contact(customer.id, ContactInput("Again", first.email))


def state(directory: Directory) -> tuple:
    use(directory)
    customers = sorted(
        (c.id, c.active, c.contact_count, c.search_text) for c in Customer.select().order_by(Customer.id)
    )
    contacts = []
    for row in ContactPerson.select().order_by(ContactPerson.id):
        record = directory.get_contact(row.id)
        contacts.append((record.id, record.active, record.receive_all, record.categories))
    return customers, contacts


def recorded(directory: Directory) -> list[tuple]:
    """The history without ids and times, oldest first."""
    use(directory)
    return [
        (c.customer_id, c.customer_email, c.contact_id, c.contact_email, c.who, c.channel, c.action, c.changes)
        for c in reversed(directory.history(limit=100_000))
    ]


def one_by_one(directory: Directory, action: BulkAction, pairs: list[tuple[int, int]]) -> tuple[set, set]:
    """The action through the single calls, record by record; (changed, refused) ids."""
    use(directory)
    changed, refused = set(), set()
    for record_id, _ in pairs:
        before = len(directory.history(limit=100_000))
        try:
            if action.verb in (SWITCH_ON, SWITCH_OFF):
                directory.set_category(record_id, action.category, action.on)
            elif action.verb in (RECEIVE_ALL_ON, RECEIVE_ALL_OFF):
                directory.set_receive_all(record_id, action.on)
            elif action.verb == DELETE:
                directory.delete_contact(record_id)
            elif action.verb == RESTORE:
                directory.undelete_contact(record_id)
            else:
                directory.set_customer_active(record_id, action.on)
        except ValidationError:
            refused.add(record_id)
            continue
        if len(directory.history(limit=100_000)) > before:
            changed.add(record_id)
    return changed, refused


def pairs_of(directory: Directory, action: BulkAction, selection: Selection) -> list[tuple[int, int]]:
    use(directory)
    batches = steps.customer_batches if action.on_customers else steps.contact_batches
    return [pair for batch in batches(directory.database, selection, LIMIT) for pair in batch]


@pytest.fixture
def twin(directory, second_db_url):
    """A second database on the same backend, for the one-by-one side."""
    database = open_database(second_db_url)
    yield Directory(database)
    database.close_all() if hasattr(database, "close_all") else database.close()


@pytest.mark.parametrize("batch", [steps.BATCH, 3])
@pytest.mark.parametrize("seed", SEEDS)
def test_a_bulk_change_is_the_same_changes_one_by_one(directory, twin, seed, batch, monkeypatch):
    monkeypatch.setattr(steps, "BATCH", batch)  # small batches: customers at their edges are never split
    bulk, single = limited(directory), limited(twin)
    populate(use(single), seed)
    populate(use(bulk), seed)
    assert state(bulk) == state(single)
    rng = random.Random(seed)
    customer_ids = [c.id for c in Customer.select(Customer.id)]
    for step in range(14):
        action = rng.choice(ACTIONS)
        use(bulk)
        contact_ids = [row.id for row in ContactPerson.select(ContactPerson.id)]
        if action.on_customers:
            selection = Selection.of_customers(rng.sample(customer_ids, rng.randint(1, len(customer_ids))))
        elif rng.random() < 0.5:
            selection = Selection.of_contacts(rng.sample(contact_ids, rng.randint(1, len(contact_ids))))
        else:
            flt = rng.choice(
                [Filter(), Filter(role="Billing"), Filter(domain="acme.example"), Filter(status="deleted")]
            )
            selection = Selection.shown_by(rng.choice(["", "customer 3", "acme"]), flt)
        where = f"seed {seed}, step {step}: {action} on {selection}"
        pairs = pairs_of(single, action, selection)
        plan = use(bulk).plan_bulk(selection, action)
        assert state(bulk) == state(single), f"{where}: the plan wrote something"
        result = use(bulk).apply_bulk(plan)
        changed, refused = one_by_one(single, action, pairs)
        assert set(result.changed) == changed == set(plan.ids), where
        assert {r.id for r in plan.refused} == refused, where
        assert plan.refused_count == len(refused) and plan.unchanged == len(pairs) - len(changed) - len(refused)
        assert plan.customers == len({owner for record, owner in pairs if record in changed}), where
        assert state(bulk) == state(single), where
        assert recorded(bulk) == recorded(single), where


def test_the_plan_says_how_many_at_how_many_customers_and_writes_nothing(directory):
    admin = directory.as_actor(ADMIN)
    acme = admin.create_customer(CustomerInput("Acme", "owner@acme.example"))
    globex = admin.create_customer(CustomerInput("Globex", "info@globex.example"))
    ann = admin.add_contact(acme.id, ContactInput("Ann", "ann@acme.example", categories=("account",)))
    admin.add_contact(acme.id, ContactInput("Bob", "bob@acme.example"))
    admin.add_contact(globex.id, ContactInput("Cid", "cid@globex.example"))
    entries = len(admin.history())
    plan = admin.plan_bulk(Selection.of_customers([acme.id, globex.id]), BulkAction(SWITCH_ON, "account"))
    assert (plan.count, plan.customers, plan.unchanged, plan.refused_count) == (2, 2, 1, 0)
    assert ann.id not in plan.ids
    labels = {c.key: c.label for c in admin.catalog.categories}
    assert plan.action.question(plan.count, plan.customers, labels) == (
        "Switch Account on for 2 contact persons at 2 customers?"
    )
    assert plan.action.unchanged(labels) == "opted in to Account already"
    assert len(admin.history()) == entries
    assert BulkAction(DEACTIVATE).question(3, 3) == "Deactivate 3 customers?"
    assert BulkAction(DELETE).question(1, 1) == "Delete 1 contact person at 1 customer?"


def test_a_refusal_names_the_record_and_the_rest_can_be_applied(directory):
    admin = limited(directory)
    acme = admin.create_customer(CustomerInput("Acme", "owner@acme.example"))
    people = [admin.add_contact(acme.id, ContactInput(f"P{n}", f"p{n}@acme.example")) for n in range(LIMIT)]
    for contact in people[:2]:
        admin.delete_contact(contact.id)
    admin.add_contact(acme.id, ContactInput("New", "new@acme.example"))
    # Three active of four: one of the two deleted fits back in, the other not.
    plan = admin.plan_bulk(Selection.of_contacts([p.id for p in people[:2]]), BulkAction(RESTORE))
    assert plan.count == 1 and plan.refused_count == 1
    (refusal,) = plan.refused
    assert refusal.id == people[1].id
    assert refusal.describe() == "P1 <p1@acme.example> at Acme: Acme already has 4 contact persons — remove one first"
    assert refusals_text(plan.refused, plan.refused_count) == refusal.describe()
    # Declining changes nothing; applying the rest restores the one that fits.
    result = admin.apply_bulk(plan)
    assert list(result.changed) == [people[0].id]
    assert admin.get_contact(people[0].id).active and not admin.get_contact(people[1].id).active


def test_a_deleted_person_is_refused_a_switch(directory):
    admin = directory.as_actor(ADMIN)
    acme = admin.create_customer(CustomerInput("Acme", "owner@acme.example"))
    gone = admin.add_contact(acme.id, ContactInput("Gone", "gone@acme.example"))
    admin.delete_contact(gone.id)
    plan = admin.plan_bulk(Selection.of_contacts([gone.id]), BulkAction(SWITCH_ON, "billing"))
    assert plan.count == 0
    # In the words of the single change's refusal.
    with pytest.raises(ValidationError) as single:
        admin.set_category(gone.id, "billing", True)
    assert (
        plan.refused[0].reason == str(single.value) == "Gone is deleted: restore this contact person before changing it"
    )


def test_apply_checks_each_record_again(directory):
    """Planned while there was room; another admin fills it before the apply."""
    admin = limited(directory)
    acme = admin.create_customer(CustomerInput("Acme", "owner@acme.example"))
    gone = admin.add_contact(acme.id, ContactInput("Gone", "gone@acme.example"))
    admin.delete_contact(gone.id)
    plan = admin.plan_bulk(Selection.of_contacts([gone.id]), BulkAction(RESTORE))
    assert plan.count == 1
    for n in range(LIMIT):
        admin.add_contact(acme.id, ContactInput(f"P{n}", f"p{n}@acme.example"))
    result = admin.apply_bulk(plan)
    assert result.count == 0 and result.refused_count == 1
    assert "already has 4 contact persons" in result.refused[0].reason
    assert not admin.get_contact(gone.id).active


def test_the_done_when_flow_in_the_core(directory):
    """Every bookkeeper of customers at acme.example not opted in to account:
    switched on, one history entry each; undone by switching off the same ones."""
    admin = directory.as_actor(ADMIN)
    expected = set()
    for c in range(6):
        domain = "acme.example" if c < 4 else "globex.example"
        customer = admin.create_customer(CustomerInput(f"C{c}", f"owner{c}@{domain}"))
        keeper = admin.add_contact(
            customer.id, ContactInput(f"Keeper {c}", f"books{c}@ledger.example", role="Bookkeeping")
        )
        admin.add_contact(customer.id, ContactInput(f"Tech {c}", f"tech{c}@{domain}", role="Technical"))
        if c == 0:
            admin.set_category(keeper.id, "account", True)  # opted in already: left alone
        elif domain == "acme.example":
            expected.add(keeper.id)
    flt = admin.clean_filter(role="bookkeeping", not_category="account", domain="acme.example")
    plan = admin.plan_bulk(Selection.shown_by("", flt), BulkAction(SWITCH_ON, "account"))
    assert set(plan.ids) == expected and plan.customers == 3
    before = len(admin.history())
    result = admin.apply_bulk(plan)
    new = admin.history(limit=len(admin.history()) - before)
    assert sorted(c.contact_id for c in new) == sorted(expected)
    assert {c.action for c in new} == {"categories changed"} and len({c.at for c in new}) == 1
    assert all(c.changes == (("categories", [], ["account"]),) for c in new)
    assert admin.plan_bulk(Selection.shown_by("", flt), BulkAction(SWITCH_ON, "account")).count == 0
    # Undo: switch off those it switched on, not C0's keeper who had it before.
    action, selection = result.undo()
    undone = admin.apply_bulk(admin.plan_bulk(selection, action))
    assert set(undone.changed) == expected
    assert (
        "account"
        in admin.list_contacts(Customer.get(Customer.name == "C0").id, filter=Filter(role="Bookkeeping"))[0].categories
    )
    assert admin.plan_bulk(Selection.shown_by("", flt), BulkAction(SWITCH_ON, "account")).count == 3


def test_stopping_keeps_what_was_done_and_undo_puts_it_back(directory, monkeypatch):
    monkeypatch.setattr(steps, "BATCH", 2)
    admin = directory.as_actor(ADMIN)
    ids = []
    for c in range(5):
        customer = admin.create_customer(CustomerInput(f"C{c}", f"owner{c}@acme.example"))
        ids.append(admin.add_contact(customer.id, ContactInput(f"P{c}", f"p{c}@acme.example")).id)
    stop = Stop()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done >= 2:
            stop.stop()

    plan = admin.plan_bulk(Selection.of_contacts(ids), BulkAction(RECEIVE_ALL_ON))
    result = admin.apply_bulk(plan, progress=progress, stop=stop)
    assert result.stopped and result.count == 2 and seen == [(2, 5)]
    assert [admin.get_contact(i).receive_all for i in ids] == [True, True, False, False, False]
    action, selection = result.undo()
    admin.apply_bulk(admin.plan_bulk(selection, action))
    assert not any(admin.get_contact(i).receive_all for i in ids)


def test_the_last_bulk_change_of_an_actor_from_the_history(directory):
    cli = directory.as_actor(Actor("admin ops", "cli"))
    acme = cli.create_customer(CustomerInput("Acme", "owner@acme.example"))
    globex = cli.create_customer(CustomerInput("Globex", "info@globex.example"))
    assert cli.last_bulk_change() is None
    cli.apply_bulk(cli.plan_bulk(Selection.of_customers([acme.id, globex.id]), BulkAction(DEACTIVATE)))
    assert cli.last_bulk_change() == (BulkAction(DEACTIVATE), Selection.of_customers([acme.id, globex.id]))
    ann = cli.add_contact(acme.id, ContactInput("Ann", "ann@acme.example", categories=("billing",)))
    cli.apply_bulk(cli.plan_bulk(Selection.of_contacts([ann.id]), BulkAction(SWITCH_OFF, "billing")))
    assert cli.last_bulk_change() == (BulkAction(SWITCH_OFF, "billing"), Selection.of_contacts([ann.id]))
    # Another admin's, or the TUI's, are not this one's.
    assert directory.as_actor(Actor("admin ops", "tui")).last_bulk_change() is None


def test_wrong_actions_are_refused(directory):
    admin = directory.as_actor(ADMIN)
    with pytest.raises(ValidationError, match="Unknown category"):
        admin.plan_bulk(Selection.of_contacts([1]), BulkAction(SWITCH_ON, "nonsense"))
    with pytest.raises(ValidationError, match="choose customers"):
        admin.plan_bulk(Selection.of_contacts([1]), BulkAction(DEACTIVATE))
    with pytest.raises(ValueError):
        BulkAction(SWITCH_ON)


def test_a_batch_that_fails_keeps_the_batches_before_it_and_says_why(sqlite_directory, monkeypatch):
    monkeypatch.setattr(steps, "BATCH", 2)
    admin = sqlite_directory.as_actor(ADMIN)
    ids = []
    for c in range(5):
        customer = admin.create_customer(CustomerInput(f"C{c}", f"owner{c}@acme.example"))
        ids.append(admin.add_contact(customer.id, ContactInput(f"P{c}", f"p{c}@acme.example")).id)
    plan = admin.plan_bulk(Selection.of_contacts(ids), BulkAction(RECEIVE_ALL_ON))
    # The database itself refuses the write of the fourth record (a disk, a permission: not a rule).
    admin.database.execute_sql(
        f"CREATE TRIGGER refuse BEFORE UPDATE ON contact_person WHEN NEW.id = {ids[3]} "
        "BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
    )
    result = admin.apply_bulk(plan)
    assert result.stopped and result.count == 2 and "the disk said no" in result.error
    assert [admin.get_contact(i).receive_all for i in ids] == [True, True, False, False, False]
    assert result.summary().startswith("Stopped after 2 of 5 by an error: ")
    assert result.summary().endswith("Switched receive all on for 2 contact persons at 2 customers.")
    assert len([c for c in admin.history() if c.action == "receive all changed"]) == 2
