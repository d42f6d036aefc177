"""Property tests: no sequence of operations breaks a directory rule.

A state machine drives one customer (limit 3, so the limit is hit often)
with addresses from a small pool in random case, including its own primary
email and a second customer's. It keeps a model of what each operation should
do, checks the directory agreed (done or refused, and why), and after every
step reads the database to check the rules, the stored count and search.
On SQLite and PostgreSQL: the locks and constraints behind the rules differ.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from peewee import SqliteDatabase

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import LimitReached, ValidationError
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.core.validate import clean_name

LIMIT = 3
# No local part is a substring of another, so a search for one finds only it.
LOCALS = ("alice", "bob", "carol", "dave", "erin", "owner-a", "owner-b")
CATEGORIES = ("billing", "account")
_runs = itertools.count()


def random_case(text: str, flips: list[bool]) -> str:
    return "".join(ch.upper() if flip else ch for ch, flip in zip(text, flips + [False] * len(text), strict=False))


cased = st.builds(random_case, st.sampled_from(LOCALS), st.lists(st.booleans(), max_size=12))


@pytest.fixture
def database(db_url):
    database = open_database(db_url)
    yield database
    database.close_all() if hasattr(database, "close_all") else database.close()


@pytest.mark.slow  # a property test: hundreds of generated cases
def test_no_sequence_of_operations_breaks_a_rule(database):
    directory = Directory(database, DEFAULT_CATALOG, max_contacts=LIMIT)

    class OneCustomer(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            # A fresh domain per run keeps runs apart in one database; x1y is
            # no substring of x11y, so searches stay within the run.
            self.domain = f"x{next(_runs)}y.example"
            self.a = directory.create_customer(CustomerInput("Customer A", self.address("owner-a")))
            self.b = directory.create_customer(CustomerInput("Customer B", self.address("owner-b")))
            self.primary = self.key("owner-a")
            # The model: contact id -> [email key, active, receive_all, categories].
            self.contacts: dict[int, list] = {}

        def address(self, local: str) -> str:
            return f"{local}@{self.domain}"

        def key(self, local: str) -> str:
            return self.address(local).lower()

        def active_keys(self, exclude: int | None = None) -> list[str]:
            return [c[0] for cid, c in self.contacts.items() if c[1] and cid != exclude]

        def pick(self, index: int, active: bool | None = None) -> int:
            ids = sorted(cid for cid, c in self.contacts.items() if active is None or c[1] == active)
            return ids[index % len(ids)]

        def has(self, active: bool) -> bool:
            return any(c[1] == active for c in self.contacts.values())

        # -- operations --------------------------------------------------

        @initialize(locals_=st.lists(cased, max_size=LIMIT + 2), deleted=st.sets(st.integers(0, LIMIT + 1)))
        def start_near_the_limit(self, locals_, deleted):
            # Most interesting states sit at the limit with deleted records
            # around; start there instead of hoping random steps get there.
            for local in locals_:
                self.add(local, False, set())
            for index in deleted:
                if self.has(active=True):
                    self.delete(index)

        @rule(local=cased, receive_all=st.booleans(), categories=st.sets(st.sampled_from(CATEGORIES)))
        def add(self, local, receive_all, categories):
            key = self.address(local).lower()
            conflict = key == self.primary or key in self.active_keys()
            full = len(self.active_keys()) >= LIMIT
            try:
                added = directory.add_contact(
                    self.a.id,
                    ContactInput(f"Person {local}", self.address(local), "", "General", receive_all, tuple(categories)),
                )
            except LimitReached:
                assert full and not conflict
            except ValidationError:
                assert conflict
            else:
                assert not conflict and not full
                self.contacts[added.id] = [key, True, receive_all, set(categories)]

        @precondition(lambda self: self.has(active=True))
        @rule(index=st.integers(0, 50))
        def delete(self, index):
            cid = self.pick(index, active=True)
            assert directory.delete_contact(cid).active is False
            self.contacts[cid][1] = False

        @precondition(lambda self: self.has(active=False))
        @rule(index=st.integers(0, 50))
        def undelete(self, index):
            cid = self.pick(index, active=False)
            key = self.contacts[cid][0]
            conflict = key == self.primary or key in self.active_keys()
            full = len(self.active_keys()) >= LIMIT
            try:
                directory.undelete_contact(cid)
            except LimitReached:
                assert full and not conflict
            except ValidationError:
                assert conflict
            else:
                assert not conflict and not full
                self.contacts[cid][1] = True

        @precondition(lambda self: self.contacts)
        @rule(index=st.integers(0, 50), local=cased)
        def update_email(self, index, local):
            cid = self.pick(index)
            key, active, receive_all, categories = self.contacts[cid]
            new_key = self.address(local).lower()
            # A deleted record is read-only until restored.
            refused = not active or new_key == self.primary or new_key in self.active_keys(exclude=cid)
            data = ContactInput(f"Person {local}", self.address(local), "", "General", receive_all, tuple(categories))
            try:
                directory.update_contact(cid, data)
            except ValidationError:
                assert refused
            else:
                assert not refused
                self.contacts[cid][0] = new_key

        @precondition(lambda self: self.contacts)
        @rule(index=st.integers(0, 50))
        def make_primary(self, index):
            cid = self.pick(index)
            key, active = self.contacts[cid][:2]
            refused = not active or key == self.key("owner-b")
            old = self.primary
            try:
                directory.make_primary(cid)
            except ValidationError:
                assert refused
                return
            assert not refused
            # The promoted record is kept, inactive and hidden while its address is the primary.
            self.contacts[cid][1] = False
            self.primary = key
            # The old primary is a contact person again: its earlier record
            # exactly as it was (no category added), or a new receive-all one.
            back = [c for c in directory.list_contacts(self.a.id) if c.email.lower() == old]
            assert len(back) == 1
            if back[0].id in self.contacts:
                _, _, receive_all, categories = self.contacts[back[0].id]
                assert (back[0].receive_all, set(back[0].categories)) == (receive_all, categories)
                self.contacts[back[0].id][1] = True
            else:
                assert back[0].receive_all and not back[0].categories
                self.contacts[back[0].id] = [old, True, True, set()]

        @precondition(lambda self: self.contacts)
        @rule(index=st.integers(0, 50), category=st.sampled_from(CATEGORIES))
        def toggle(self, index, category):
            cid = self.pick(index)
            if not self.contacts[cid][1]:
                with pytest.raises(ValidationError, match="restore this contact person"):
                    directory.toggle_category(cid, category.upper())
                return
            self.contacts[cid][3] ^= {category}
            assert set(directory.toggle_category(cid, category.upper()).categories) == self.contacts[cid][3]

        @precondition(lambda self: self.contacts)
        @rule(index=st.integers(0, 50), enabled=st.booleans())
        def receive_all(self, index, enabled):
            cid = self.pick(index)
            if not self.contacts[cid][1]:
                with pytest.raises(ValidationError, match="restore this contact person"):
                    directory.set_receive_all(cid, enabled)
                return
            directory.set_receive_all(cid, enabled)
            self.contacts[cid][2] = enabled

        @rule(local=cased)
        def change_primary(self, local):
            key = self.address(local).lower()
            conflict = key in self.active_keys() or key == self.key("owner-b")
            try:
                directory.update_customer(self.a.id, CustomerInput("Customer A", self.address(local)))
            except ValidationError:
                assert conflict
            else:
                assert not conflict
                self.primary = key

        # -- what must hold after every step -----------------------------

        @invariant()
        def rules_hold_in_the_database(self):
            for customer in (self.a, self.b):
                stored = directory.get_customer(customer.id)
                active = directory.list_contacts(customer.id)
                keys = [c.email.lower() for c in active]
                assert len(active) <= LIMIT
                assert len(keys) == len(set(keys)), keys
                assert stored.email.lower() not in keys
                assert stored.contact_count == len(active)

        @invariant()
        def database_agrees_with_the_model(self):
            everyone = directory.list_contacts(self.a.id, include_deleted=True)
            assert {c.id: (c.email.lower(), c.active) for c in everyone} == {
                cid: (c[0], c[1]) for cid, c in self.contacts.items() if c[0] != self.primary
            }
            assert directory.get_customer(self.a.id).email.lower() == self.primary

        @invariant()
        def search_finds_exactly_the_active_addresses(self):
            active = set(self.active_keys()) | {self.primary}
            for local in LOCALS:
                key = self.key(local)
                hits = {c.id for c in directory.search_customers(key).rows}
                expected = {self.a.id} if key in active else set()
                if local == "owner-b":
                    expected.add(self.b.id)
                assert hits == expected, (key, hits)

        @invariant()
        def resolver_adds_who_opted_in(self):
            result = directory.resolve([self.primary.upper()], "invoice.created")
            expected = {c[0] for c in self.contacts.values() if c[1] and (c[2] or "billing" in c[3])}
            assert {a.email.lower() for a in result.additions} == expected

    run_state_machine_as_test(
        OneCustomer,
        settings=settings(
            # PostgreSQL answers each step over a socket: fewer runs, same rules.
            max_examples=60 if isinstance(database, SqliteDatabase) else 20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# -- field cleaning ----------------------------------------------------------


CONTROL = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
def test_an_accepted_name_is_trimmed_and_never_carries_a_line_break(text):
    try:
        name = clean_name(text)
    except ValidationError as exc:
        assert exc.errors[0].field == "name"
        assert not text.strip() or CONTROL & set(text.strip()) or len(text.strip()) > 200
    else:
        assert name == text.strip() and name
        assert not CONTROL & set(name)
