"""A database that an earlier version wrote opens in this one with nothing lost.

The earlier version's own code writes it (see ``tests/earlier.py``): schema
version 5, customers filled under ``--max-contacts 12`` (each program took
the limit from its options then), opt-ins, a deleted contact person. This
version migrates it, stores the catalog and a limit its customers fit, and
finds every opt-in where it was; customers named with numbers sort by
them. A database from before the history (schema version 7) gets it, and
records changes from then on. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

from contacts_tui.core.catalog import DEFAULT_CATALOG, load_preset
from contacts_tui.core.directory import settings
from contacts_tui.core.directory.history import Actor
from contacts_tui.core.migrate import known_migrations, schema_version
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.records import CustomerInput

from ..earlier import BEFORE_HISTORY, BEFORE_STORED_SETTINGS, run_earlier

WRITE_WITH_THE_EARLIER_VERSION = """
import json, sys
from contacts_tui.core.migrate import schema_version
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.core.settings import Settings, open_directory

directory = open_directory(Settings(sys.argv[1], max_contacts=12))
big = directory.create_customer(CustomerInput("Big Co", "owner@big.example"))
for number in range(12):
    directory.add_contact(big.id, ContactInput(f"Person {number}", f"p{number}@big.example",
                                               categories=("billing",) if number % 2 else ("billing", "account")))
gone = directory.add_contact(directory.create_customer(CustomerInput("Small Co", "owner@small.example")).id,
                             ContactInput("Gone", "gone@small.example", receive_all=True))
directory.delete_contact(gone.id)
for name in ("Person 10", "Person 2", "Person 1", "person 20b"):
    directory.create_customer(CustomerInput(name, name.replace(" ", "").lower() + "@numbers.example"))
print(json.dumps({"version": schema_version(directory.database), "big": big.id}))
"""


def write_earlier(tmp_path, url: str) -> dict:
    return json.loads(run_earlier(BEFORE_STORED_SETTINGS, tmp_path, WRITE_WITH_THE_EARLIER_VERSION, url))


def close(directory) -> None:
    database = directory.database
    database.close_all() if hasattr(database, "close_all") else database.close()


def test_an_earlier_database_is_migrated_and_keeps_its_limit_and_opt_ins(tmp_path, db_url):
    written = write_earlier(tmp_path, db_url)
    assert written["version"] == 5

    directory = open_directory(Options(db_url))
    try:
        assert schema_version(directory.database) == known_migrations()[-1].version
        # The default limit would show Big Co as "12 of 10": the limit its customers were filled under stays.
        assert directory.stored == settings.Stored("payrequest", DEFAULT_CATALOG, 12)
        contacts = directory.list_contacts(written["big"])
        assert len(contacts) == 12
        assert sum(1 for c in contacts if c.categories == ("billing", "account")) == 6
        assert [c.name for c in directory.list_contacts(written["big"] + 1, include_deleted=True)] == ["Gone"]
        added = directory.resolve(["owner@big.example"], "order.confirmed").additions
        assert sorted(a.email for a in added) == [f"p{n}@big.example" for n in (0, 10, 2, 4, 6, 8)]
        # m0007 sorts the names written before it by their numbers, as new ones are.
        directory.create_customer(CustomerInput("Person 3", "person3@numbers.example"))
        page = directory.search_customers("numbers.example", sort="name")
        assert [c.name for c in page.rows] == ["Person 1", "Person 2", "Person 3", "Person 10", "person 20b"]
        assert [c.name for c in directory.list_contacts(written["big"])][:3] == ["Person 0", "Person 1", "Person 2"]
    finally:
        close(directory)
    # Every later program reads the same, with no option.
    again = open_directory(Options(db_url))
    try:
        assert again.max_contacts == 12
    finally:
        close(again)


def test_an_earlier_database_opened_with_a_catalog_option_takes_that_catalog_and_hides_no_opt_in(tmp_path, db_url):
    written = write_earlier(tmp_path, db_url)
    # Its programs ran with CONTACTS_CATALOG=herotill: the first one of this version stores it.
    directory = open_directory(Options(db_url, catalog_path="herotill"))
    try:
        assert directory.stored.catalog_name == "herotill" and directory.catalog == load_preset("herotill")
        both = [c for c in directory.list_contacts(written["big"]) if c.kept]
        assert len(both) == 6 and all(c.kept == ("account",) and c.categories == ("billing",) for c in both)
    finally:
        close(directory)


WRITE_BEFORE_THE_HISTORY = """
import json, sys
from contacts_tui.core.migrate import schema_version
from contacts_tui.core.records import ContactInput, CustomerInput
from contacts_tui.core.settings import Settings, open_directory

directory = open_directory(Settings(sys.argv[1]))
acme = directory.create_customer(CustomerInput("Acme Ltd", "owner@acme.example"))
bea = directory.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", categories=("billing",)))
gone = directory.add_contact(acme.id, ContactInput("Gone", "gone@acme.example"))
directory.delete_contact(gone.id)
print(json.dumps({"version": schema_version(directory.database), "acme": acme.id, "bea": bea.id}))
"""


def test_a_database_from_before_the_history_migrates_and_records_changes(tmp_path, db_url):
    written = json.loads(run_earlier(BEFORE_HISTORY, tmp_path, WRITE_BEFORE_THE_HISTORY, db_url))
    assert written["version"] == 7

    directory = open_directory(Options(db_url))
    try:
        assert schema_version(directory.database) == known_migrations()[-1].version >= 8
        acme = directory.get_customer(written["acme"])
        # Nobody signed in before the portal, and nobody is kept out.
        assert (acme.portal_disabled_at, acme.last_sign_in_at, acme.last_sign_in_channel) == (None, None, None)
        assert [c.name for c in directory.list_contacts(acme.id, include_deleted=True)] == ["Bea", "Gone"]
        assert directory.history(acme.id) == []  # what happened before was not recorded
        portal = directory.as_actor(Actor("owner@acme.example", "ssh"))
        portal.toggle_category(written["bea"], "account")
        directory.set_portal_access(acme.id, False)
        assert [(c.action, c.who, c.channel) for c in directory.history(acme.id)][1] == (
            "categories changed",
            "owner@acme.example",
            "ssh",
        )
        assert directory.history(acme.id)[0].action == "portal disabled"
        assert directory.record_sign_in(acme.id, "web").last_sign_in_channel == "web"
    finally:
        close(directory)
