"""Writers racing on one customer never break a rule that each checked alone.

Real threads on a real SQLite file (each thread its own connection) and on the
PostgreSQL server (each call a pooled connection); a barrier releases them
together so the checks and the writes interleave.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from contacts_tui.core.errors import DirectoryError, LimitReached, ValidationError

from ...waiting import poll
from ..helpers import person


def waits_for_a_lock(monitor) -> bool:
    """Whether some session of the PostgreSQL server waits for a lock now."""
    with monitor.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return bool(cursor.fetchone()[0])


def race(directory, jobs):
    """Run every job in its own thread at the same moment; returns the outcomes in order."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[object] = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait(timeout=30)
            outcomes[index] = job()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcomes[index] = exc
        finally:
            if not directory.database.is_closed():
                directory.database.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hangs"
    return outcomes


def kinds(outcomes):
    return Counter(type(o).__name__ if isinstance(o, BaseException) else "ok" for o in outcomes)


def test_twenty_writers_at_once_never_exceed_the_limit(directory, acme):
    jobs = [
        (lambda i=i: directory.add_contact(acme.id, person(f"Writer {i}", f"w{i}@acme.example"))) for i in range(20)
    ]
    outcomes = race(directory, jobs)
    assert kinds(outcomes) == Counter(ok=10, LimitReached=10), outcomes
    assert all("already has 10 contact persons" in str(o) for o in outcomes if isinstance(o, LimitReached))
    assert len(directory.list_contacts(acme.id)) == 10
    assert directory.get_customer(acme.id).contact_count == 10


def test_writers_adding_one_address_in_different_cases_store_it_once(directory, acme):
    spellings = ["eve@acme.example", "EVE@acme.example", "Eve@Acme.Example", "eVe@ACME.EXAMPLE"] * 3
    jobs = [(lambda s=s: directory.add_contact(acme.id, person("Eve", s))) for s in spellings]
    outcomes = race(directory, jobs)
    assert kinds(outcomes) == Counter(ok=1, ValidationError=11), outcomes
    assert all("already a contact person" in str(o) for o in outcomes if isinstance(o, ValidationError))
    assert len(directory.list_contacts(acme.id)) == 1


def test_undelete_racing_adds_never_exceeds_the_limit(directory, acme):
    contacts = [directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example")) for i in range(10)]
    for contact in contacts[:3]:
        directory.delete_contact(contact.id)
    jobs = [(lambda c=c: directory.undelete_contact(c.id)) for c in contacts[:3]]
    jobs += [(lambda i=i: directory.add_contact(acme.id, person(f"N{i}", f"n{i}@acme.example"))) for i in range(3)]
    outcomes = race(directory, jobs)
    assert kinds(outcomes)["ok"] == 3, outcomes
    assert all(isinstance(o, LimitReached) for o in outcomes if isinstance(o, BaseException)), outcomes
    assert len(directory.list_contacts(acme.id)) == 10
    assert directory.get_customer(acme.id).contact_count == 10


def test_readers_and_writers_together_see_whole_states(directory, acme):
    """Searches running while contacts are added never see a count above the limit."""
    stop = threading.Event()
    seen: list[int] = []

    def reader():
        while not stop.is_set():
            page = directory.search_customers("acme")
            seen.extend(c.contact_count for c in page.rows)

    def writer(i):
        return directory.add_contact(acme.id, person(f"W{i}", f"w{i}@acme.example"))

    readers = [threading.Thread(target=lambda: (reader(), directory.database.close())) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        outcomes = race(directory, [(lambda i=i: writer(i)) for i in range(12)])
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert kinds(outcomes) == Counter(ok=10, LimitReached=2), outcomes
    assert seen and max(seen) <= 10
    assert not any(isinstance(o, DirectoryError) and not isinstance(o, ValidationError) for o in outcomes)


@pytest.mark.parametrize("limit", [1, 3])
def test_configured_limit_holds_under_contention(db_url, limit):
    from contacts_tui.core.catalog import DEFAULT_CATALOG
    from contacts_tui.core.db import open_database
    from contacts_tui.core.directory.service import Directory

    from ..helpers import new_customer

    database = open_database(db_url)
    try:
        small = Directory(database, DEFAULT_CATALOG, max_contacts=limit)
        customer = new_customer(small)
        jobs = [(lambda i=i: small.add_contact(customer.id, person(f"P{i}", f"p{i}@acme.example"))) for i in range(8)]
        outcomes = race(small, jobs)
        assert kinds(outcomes) == Counter(ok=limit, LimitReached=8 - limit), outcomes
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()


def test_an_import_waits_for_an_admin_editing_the_same_customer(directory, acme, db_url):
    """On PostgreSQL an import and an admin run at once; the import must see
    the admin's new contact before it counts the room left."""
    from contacts_tui.core.csv.importer import ImportFailed
    from contacts_tui.core.db import is_postgres
    from contacts_tui.core.migrate import write_transaction

    from ..helpers import csv_text, import_text

    if not is_postgres(directory.database):
        pytest.skip("SQLite's IMMEDIATE transactions let one writer in at a time")
    import psycopg2

    for i in range(8):
        directory.add_contact(acme.id, person(f"P{i}", f"p{i}@acme.example"))
    data = csv_text(*(f"owner@acme.example,Acme Ltd,New {i},new{i}@acme.example,,," for i in range(2)))
    outcome = {}

    def run_import():
        try:
            outcome["report"] = import_text(directory, data)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
        finally:
            directory.database.close()

    monitor = psycopg2.connect(db_url)
    monitor.autocommit = True
    importer = threading.Thread(target=run_import)
    with write_transaction(directory.database):
        directory.add_contact(acme.id, person("Admin's ninth", "ninth@acme.example"))
        importer.start()
        poll(lambda: not importer.is_alive() or waits_for_a_lock(monitor), 30, fail=False)
    importer.join(timeout=60)
    monitor.close()
    assert isinstance(outcome.get("error"), ImportFailed), outcome
    assert "already has 10 contact persons" in str(outcome["error"].report.errors[0])
    assert directory.get_customer(acme.id).contact_count == 9
    assert len(directory.list_contacts(acme.id)) == 9


def test_an_import_creating_a_customer_an_admin_just_created_is_a_clear_error(directory, db_url):
    """Both create owner@newco at once; the import loses and says why, in words."""
    from contacts_tui.core.db import is_postgres
    from contacts_tui.core.errors import ValidationError
    from contacts_tui.core.migrate import write_transaction
    from contacts_tui.core.records import CustomerInput

    from ..helpers import csv_text, import_text

    if not is_postgres(directory.database):
        pytest.skip("SQLite's IMMEDIATE transactions let one writer in at a time")
    import psycopg2

    outcome = {}

    def run_import():
        try:
            outcome["report"] = import_text(directory, csv_text("owner@newco.example,NewCo,Nina,nina@newco.example,,,"))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
        finally:
            directory.database.close()

    monitor = psycopg2.connect(db_url)
    monitor.autocommit = True
    importer = threading.Thread(target=run_import)
    with write_transaction(directory.database):
        directory.create_customer(CustomerInput("NewCo (by hand)", "owner@newco.example"))
        importer.start()
        poll(lambda: not importer.is_alive() or waits_for_a_lock(monitor), 30, fail=False)
    importer.join(timeout=60)
    monitor.close()
    assert isinstance(outcome.get("error"), ValidationError), outcome
    assert "at the same moment" in str(outcome["error"])
    assert directory.find_customer("owner@newco.example").name == "NewCo (by hand)"
    assert directory.counts() == (1, 0)
