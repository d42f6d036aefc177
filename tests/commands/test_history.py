"""`contacts-tui history` as admins and scripts use it: readable lines, JSON
lines, one customer or all, since a date, and clear errors. In-process
through ``contacts_tui.cli.main`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from contacts_tui.cli import main
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.history import Actor
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput

HEADER = "customer_email,customer_name,contact_name,contact_email,phone,role,categories"
FILE = (
    f"{HEADER}\n"
    "owner@acme.example,Acme Ltd,Bea Müller,bea@acme.example,,Bookkeeping,billing\n"
    "info@globex.example,Globex,Tom,tom@globex.example,,,\n"
)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def imported(capsys, db_url, tmp_path) -> str:
    """The file imported through the CLI, then one change by a customer in the portal."""
    path = tmp_path / "customers-dec.csv"
    path.write_text(FILE, encoding="utf-8")
    assert run(capsys, "--db", db_url, "import", str(path))[0] == 0
    database = open_database(db_url)
    try:
        directory = Directory(database).as_actor(Actor("owner@acme.example", "ssh"))
        acme = directory.find_customer("owner@acme.example")
        directory.add_contact(acme.id, ContactInput("Ann", "ann@acme.example"))
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()
    return db_url


def test_history_shows_one_change_per_line_newest_first_with_who_and_channel(capsys, imported):
    code, out, err = run(capsys, "--db", imported, "history")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 5
    assert "owner@acme.example (ssh)" in lines[0] and "contact added ann@acme.example" in lines[0]
    assert all("customers-dec.csv (import)" in line for line in lines[1:])
    assert sum("customer added" in line for line in lines) == 2
    assert any('role (none) -> "Bookkeeping"' in line and "bea@acme.example" in line for line in lines)


def test_history_of_one_customer_as_json_lines(capsys, imported):
    code, out, err = run(capsys, "--db", imported, "history", "--customer", "OWNER@acme.example", "--json")
    assert code == 0, err
    changes = [json.loads(line) for line in out.splitlines()]
    assert [c["action"] for c in changes] == ["contact added", "contact added", "customer added"]
    assert {c["customer_email"] for c in changes} == {"owner@acme.example"}
    assert (changes[0]["who"], changes[0]["channel"]) == ("owner@acme.example", "ssh")
    assert {"field": "name", "before": None, "after": "Ann"} in changes[0]["changes"]
    assert changes[0]["at"].endswith("Z")


def test_history_since_a_date(capsys, imported):
    code, out, _ = run(capsys, "--db", imported, "history", "--since", "2999-01-01")
    assert code == 0 and out == ""
    assert run(capsys, "--db", imported, "history", "--since", "2000-01-01 00:00", "--limit", "2")[1].count("\n") == 2


def test_an_unknown_customer_is_an_error(capsys, imported):
    code, out, err = run(capsys, "--db", imported, "history", "--customer", "nobody@nowhere.example")
    assert code == 1 and out == ""
    assert "no customer has the primary email 'nobody@nowhere.example'" in err


@pytest.mark.parametrize(
    "option, message",
    [
        (("--since", "yesterday"), "'yesterday' is not a date: give YYYY-MM-DD"),
        (("--since", "2026-13-01"), "'2026-13-01' is not a date"),
        (("--limit", "0"), "'0' is not a whole number of at least 1"),
    ],
)
def test_a_bad_date_or_limit_is_a_usage_error(capsys, sqlite_url, option, message):
    with pytest.raises(SystemExit) as done:
        main(["--db", sqlite_url, "history", *option])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_history_of_a_database_that_is_not_there_creates_nothing(capsys, tmp_path):
    missing = tmp_path / "missing.db"
    code, _, err = run(capsys, "--db", f"sqlite:///{missing}", "history")
    assert code == 1 and err
    assert not missing.exists()


def test_help_names_the_history_command_and_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "    history " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["history", "--help"])
    out = capsys.readouterr().out
    assert all(option in out for option in ("--customer EMAIL", "--since DATE", "--json", "--limit N"))


def test_a_former_primary_email_finds_its_customer(capsys, imported):
    database = open_database(imported)
    try:
        directory = Directory(database)
        acme = directory.find_customer("owner@acme.example")
        bea = next(c for c in directory.list_contacts(acme.id) if c.email == "bea@acme.example")
        directory.make_primary(bea.id)
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()
    code, out, err = run(capsys, "--db", imported, "history", "--customer", "owner@acme.example", "--json")
    assert code == 0
    assert "owner@acme.example was the primary email of Acme Ltd, now bea@acme.example" in err
    assert [json.loads(line)["action"] for line in out.splitlines()][:2] == ["made primary", "contact added"]


def test_tagging_rule_changes_are_in_the_history_but_not_a_customers(capsys, imported, db_url):
    from relay.cli import main as relay_main

    assert relay_main(["--db", db_url, "rules", "add", "--category", "billing", "--subject", "Factuur"]) == 0
    assert relay_main(["--db", db_url, "rules", "enable", "7"]) == 0  # after the catalog's six examples
    capsys.readouterr()
    code, out, err = run(capsys, "--db", db_url, "history", "--limit", "2")
    enabled, added = out.splitlines()
    assert "(cli)" in enabled and enabled.endswith("tagging rule enabled: rule 7; enabled no -> yes")
    assert added.endswith(
        'tagging rule added: rule (none) -> 7; category (none) -> "billing"; Subject (none) -> "contains \'Factuur\'"'
    )
    code, out, err = run(capsys, "--db", db_url, "history", "--customer", "owner@acme.example")
    assert "tagging rule" not in out
    code, out, err = run(capsys, "--db", db_url, "history", "--json", "--limit", "1")
    assert json.loads(out)["action"] == "tagging rule enabled" and json.loads(out)["customer_id"] == 0
