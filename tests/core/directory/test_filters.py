"""Filters (core/filters.py) with and without search, on SQLite and
PostgreSQL: what they keep must equal a brute-force filter of the same data,
read the long way, whichever way the search finds its page (a walk down the
sort order, the text index, an index of the filter) and however it counts."""

from __future__ import annotations

import itertools
import random

import pytest

from contacts_tui.core.directory import search
from contacts_tui.core.directory.filters import STATUSES, Filter
from contacts_tui.core.errors import ValidationError
from contacts_tui.core.interrupt import Interrupted, Stop
from contacts_tui.core.models import Customer, utcnow
from contacts_tui.core.validate import ROLES

from ...waiting import poll
from ..helpers import csv_text, import_text

WORDS = ["acme", "north", "pixel", "oy", "q", "é", "books", "example"]
DOMAINS = ["acme.example", "north.example", "ledger.example", "pixel.example.org"]


@pytest.fixture
def town(directory):
    """80 customers with every kind of contact person a filter tells apart, seeded."""
    rng = random.Random(24)
    rows = []
    for number in range(80):
        domain = rng.choice(DOMAINS)
        name = f"{rng.choice(WORDS).title()} {rng.choice(['Oy', 'Ltd', 'Q Co'])} {number}"
        owner = f"c{number}@{domain}"
        people = rng.randrange(0, 4)
        if not people:
            rows.append(f"{owner},{name},,,,,")
        for person in range(people):
            where = rng.choice(DOMAINS)
            categories = rng.choice(["", "billing", "account", "billing;account", "all"])
            rows.append(
                f"{owner},{name},{rng.choice(WORDS).title()} P{person},p{number}x{person}@{where},,"
                f"{rng.choice(ROLES)},{categories}"
            )
    import_text(directory, csv_text(*rows))
    customers = directory.search_customers("", limit=500).rows
    for customer in customers:
        contacts = directory.list_contacts(customer.id)
        if customer.id % 5 == 0 and contacts:
            directory.delete_contact(contacts[0].id)
        if customer.id % 7 == 0:
            directory.set_customer_active(customer.id, False)
        if customer.id % 6 == 0:
            directory.set_portal_access(customer.id, False)
        if customer.id % 4 == 0:
            Customer.update(last_sign_in_at=utcnow(), last_sign_in_channel="ssh").where(
                Customer.id == customer.id
            ).execute()
    return directory


def kept(directory, text: str, flt: Filter) -> list[int]:
    """The customers ``text`` and ``flt`` keep, the long way: every contact person read, in Python."""
    words = text.casefold().split()
    ids = []
    for listed in directory.search_customers("", limit=500).rows:
        customer = directory.get_customer(listed.id)  # with its portal fields, which a page leaves out
        everyone = directory.list_contacts(customer.id, include_deleted=True)
        active = [c for c in everyone if c.active]
        texts = [customer.name, customer.email] + [t for c in active for t in (c.name, c.email)]
        if not all(any(w in t.casefold() for t in texts) for w in words):
            continue
        status = flt.status
        if status == "inactive" and customer.active:
            continue
        if status == "no-contacts" and active:
            continue
        if status == "at-limit" and len(active) < directory.max_contacts:
            continue
        if status == "portal-disabled" and customer.portal_enabled:
            continue
        if status == "never-signed-in" and customer.last_sign_in_at is not None:
            continue
        if flt.on_contacts and not any(meets(flt, customer, c) for c in everyone):
            if not (flt.domain and customer.email.lower().endswith("@" + flt.domain) and only_domain(flt)):
                continue
        ids.append(customer.id)
    return sorted(ids)


def only_domain(flt: Filter) -> bool:
    return not (flt.role or flt.category or flt.status == "deleted")


def meets(flt: Filter, customer, contact) -> bool:
    if (flt.status == "deleted") == contact.active:
        return False
    if flt.role and contact.role != flt.role:
        return False
    if flt.category:
        opted = contact.receive_all or flt.category in contact.categories
        if opted != flt.opted_in:
            return False
    if flt.domain:
        at = "@" + flt.domain
        return contact.email.lower().endswith(at) or customer.email.lower().endswith(at)
    return True


def random_filters(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        category = rng.choice([None, None, "billing", "account"])
        yield (
            rng.choice(["", "", "acme", "oy", "q", "example", "p1", "books north"]),
            Filter(
                role=rng.choice([None, None, *ROLES]),
                category=category,
                opted_in=rng.random() < 0.6 if category else True,
                status=rng.choice([None, None, *STATUSES]),
                domain=rng.choice([None, None, *DOMAINS]),
            ),
        )


def paged(directory, text: str, flt: Filter, sort: str, descending: bool) -> list[int]:
    ids = []
    for offset in itertools.count(0, 7):
        page = directory.search_customers(text, filter=flt, sort=sort, descending=descending, offset=offset, limit=7)
        ids += [c.id for c in page.rows]
        if len(page.rows) < 7:
            return ids


@pytest.mark.parametrize("caps", ["as shipped", "tiny"])
def test_filtered_search_keeps_what_a_brute_force_filter_keeps(town, monkeypatch, caps):
    if caps == "tiny":
        # A probe that stops at 3 matches within 10 customers: every way to a
        # page (estimate and walk, walk that gives up, index gather) runs on 80.
        monkeypatch.setattr(search, "COUNT_CAP", 3)
        monkeypatch.setattr(search, "_PROBE_ROWS", 10)
        monkeypatch.setattr(search, "_ESTIMATE_FROM", 2)
    directory = town
    for number, (text, flt) in enumerate(random_filters(7, 60)):
        expected = kept(directory, text, flt)
        sort, descending = ["name", "email", "contacts", "status"][number % 4], number % 3 == 0
        got = paged(directory, text, flt, sort, descending)
        assert sorted(got) == expected, (text, flt, sort)
        assert len(got) == len(set(got))
        assert directory.count_customers(text, filter=flt) == len(expected), (text, flt)
        first = directory.search_customers(text, filter=flt, sort=sort, descending=descending, limit=500)
        assert [c.id for c in first.rows] == got
        if first.exact:
            assert first.total == len(expected)


def test_an_estimated_total_is_marked_and_the_exact_count_follows(town, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    monkeypatch.setattr(search, "_PROBE_ROWS", 10)
    page = town.search_customers("example")
    assert not page.exact and len(page.rows) == 50
    assert town.count_customers("example") == 80
    assert town.search_customers("zz-nobody").exact


def test_the_contact_persons_a_filter_keeps_on_a_customer(town):
    directory = town
    for text, flt in random_filters(11, 40):
        if not flt.on_contacts:
            continue
        for customer in directory.search_customers(text, filter=flt, limit=500).rows:
            shown = directory.list_contacts(customer.id, filter=flt)
            everyone = directory.list_contacts(customer.id, include_deleted=True)
            assert [c.id for c in shown] == [c.id for c in everyone if meets(flt, customer, c)]


def test_a_filter_names_what_is_wrong_with_it(directory):
    with pytest.raises(ValidationError) as raised:
        directory.clean_filter(role="chief", category="invoices", status="gone", domain="a b")
    fields = {error.field for error in raised.value.errors}
    assert fields == {"role", "category", "status", "domain"}
    chosen = directory.clean_filter(
        role="billing", not_category="Account", status="No contacts", domain="@ACME.example"
    )
    assert chosen == Filter(
        role="Billing", category="account", opted_in=False, status="no-contacts", domain="acme.example"
    )
    assert chosen.describe() == "role Billing, not in account, no-contacts, @acme.example"


def test_a_stopped_read_ends_at_once_and_the_connection_reads_on(directory):
    import threading

    database = directory.database
    stop = Stop()
    outcome: list[object] = []
    # A query that never ends by itself.
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"

    def read() -> None:
        try:
            with stop.reading(database):
                started.set()
                database.execute_sql(endless).fetchone()
        except Interrupted as exc:
            outcome.append(exc)
        finally:
            outcome.append(database.execute_sql("SELECT 42").fetchone()[0])
            database.close()

    started = threading.Event()
    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(10)

    def ended() -> bool:
        # A driver's cancel ends only a statement that has begun, and nothing
        # says when it has: stop again until the read is over.
        stop.stop()
        return not reader.is_alive()

    poll(ended, 10, fail=False, interval=0.05)
    reader.join(10)
    assert not reader.is_alive(), "the read went on after stop()"
    assert isinstance(outcome[0], Interrupted) and outcome[1] == 42
    with pytest.raises(Interrupted):
        with stop.reading(database):
            pass
