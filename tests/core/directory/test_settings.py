"""The catalog and the contact limit live in the database, so every program
of it agrees: a change reaches a running directory, the limit is checked
against what the database holds at the moment of the write, and switching
the catalog loses no opt-in. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG, PRESETS, catalog_data, load_preset, parse_catalog
from contacts_tui.core.db import open_database
from contacts_tui.core.directory import settings
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.errors import DirectoryError, LimitReached
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.records import ContactInput

from ..helpers import new_customer, person


@pytest.fixture
def fresh(monkeypatch):
    """Settings read again at every directory call, as they are after a few seconds."""
    monkeypatch.setattr(settings, "SECONDS", 0.0)


@pytest.fixture
def opened(db_url):
    """A directory as every program opens one: following the database's settings."""
    directory = open_directory(Options(db_url))
    yield directory
    directory.database.close_all() if hasattr(directory.database, "close_all") else directory.database.close()


@pytest.mark.parametrize("name", PRESETS)
def test_each_shipped_catalog_is_stored_and_read_back_equal(name):
    catalog = load_preset(name)
    assert parse_catalog(catalog_data(catalog)) == catalog
    assert all(category.types for category in catalog.categories)


def test_the_payrequest_preset_is_the_default_catalog():
    assert load_preset("payrequest") is not DEFAULT_CATALOG and load_preset("payrequest") == DEFAULT_CATALOG


def test_a_new_database_stores_the_defaults(opened):
    assert opened.stored == settings.Stored("payrequest", DEFAULT_CATALOG, 10)
    assert (opened.catalog, opened.max_contacts) == (DEFAULT_CATALOG, 10)


def test_a_change_reaches_a_directory_that_is_already_running(opened, fresh, db_url):
    other = Directory(opened.database)  # another program of the same database, e.g. a relay
    assert other.resolve(["owner@acme.example"], "helpdesk").category is None
    settings.change_catalog(opened.database, "herotill", load_preset("herotill"))
    settings.change_limit(opened.database, 3)
    assert other.resolve(["owner@acme.example"], "ticket.opened").category == "helpdesk"
    acme = new_customer(other)
    for number in range(3):
        other.add_contact(acme.id, person(f"P{number}", f"p{number}@acme.example"))
    with pytest.raises(LimitReached):
        other.add_contact(acme.id, person("Four", "four@acme.example"))
    assert other.max_contacts == 3


def test_the_limit_of_a_write_is_the_one_stored_now_even_if_read_long_ago(opened):
    acme = new_customer(opened)
    opened.add_contact(acme.id, person("One", "one@acme.example"))
    settings.change_limit(opened.database, 1)
    assert opened.max_contacts == 10  # read a moment ago, not yet again
    with pytest.raises(LimitReached, match="already has 1 contact persons"):
        opened.add_contact(acme.id, person("Two", "two@acme.example"))


def test_the_limit_cannot_go_below_what_a_customer_has(opened):
    acme = new_customer(opened)
    for number in range(3):
        opened.add_contact(acme.id, person(f"P{number}", f"p{number}@acme.example"))
    with pytest.raises(
        DirectoryError,
        match=r"1 customer\(s\) have more than 2 active contact persons: "
        r"Acme Ltd <owner@acme.example> \(3\)",
    ):
        settings.change_limit(opened.database, 2)
    assert settings.read(opened.database).max_contacts == 10
    assert settings.change_limit(opened.database, 3) == ["Contact persons per customer: now at most 3 (was 10)."]


def test_options_that_differ_from_the_database_are_refused(opened, db_url):
    with pytest.raises(settings.SettingsDiffer, match="uses the catalog payrequest .billing, account., not perfex"):
        open_directory(Options(db_url, catalog_path="perfex"))
    with pytest.raises(settings.SettingsDiffer, match="allows 10 contact persons per customer, not 12"):
        open_directory(Options(db_url, max_contacts=12))
    # Asking for what it holds is fine.
    open_directory(Options(db_url, catalog_path="payrequest", max_contacts=10)).database.close()


def test_an_older_database_keeps_the_larger_limit_its_customers_were_filled_under(db_url):
    # As a database that an import with --max-contacts 12 filled before the limit was stored.
    database = open_database(db_url)
    pinned = Directory(database, DEFAULT_CATALOG, 12)
    acme = new_customer(pinned)
    for number in range(12):
        pinned.add_contact(acme.id, person(f"P{number}", f"p{number}@acme.example"))
    database.execute_sql("DELETE FROM setting")
    directory = open_directory(Options(db_url))
    try:
        assert directory.max_contacts == 12
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()


def test_switching_the_catalog_keeps_opt_ins_it_lacks_through_edits_and_brings_them_back(opened, fresh):
    acme = new_customer(opened)
    bea = opened.add_contact(acme.id, ContactInput("Bea", "bea@acme.example", categories=("billing", "account")))
    lines = settings.change_catalog(opened.database, "herotill", load_preset("herotill"))
    assert lines[2].startswith("  account: 1 opt-in(s) are kept but do nothing while herotill has no account")
    shown = opened.get_contact(bea.id)
    assert (shown.categories, shown.kept) == (("billing",), ("account",))
    # An edit from a form that only knows herotill's categories keeps account underneath.
    opened.update_contact(bea.id, ContactInput("Bea B.", "bea@acme.example", categories=("helpdesk",)))
    opened.toggle_category(bea.id, "usage")
    assert opened.get_contact(bea.id).kept == ("account",)
    assert opened.resolve([acme.email], "order.confirmed").additions == ()  # no such type in herotill
    settings.change_catalog(opened.database, "payrequest", DEFAULT_CATALOG)
    back = opened.get_contact(bea.id)
    assert (back.name, back.categories, back.kept) == ("Bea B.", ("account",), ("helpdesk", "usage"))
    assert [a.email for a in opened.resolve([acme.email], "order.confirmed").additions] == ["bea@acme.example"]


def test_a_dry_run_changes_nothing(opened):
    settings.change_catalog(opened.database, "perfex", load_preset("perfex"), dry_run=True)
    settings.change_limit(opened.database, 4, dry_run=True)
    assert settings.read(opened.database) == settings.Stored()
