"""`contacts-tui list` and `export` with filters: the rows one filter keeps,
as the TUI's f shows them (core/filters.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from ..test_cli import EXPORTED, HEADER, run, write

TOWN = "\n".join(
    [
        HEADER,
        "owner@acme.example,Acme,Bea Books,bea@acme.example,,Bookkeeping,billing",
        "owner@acme.example,Acme,Tom Tech,tom@acme.example,,Technical,all",
        "info@globex.example,Globex,Bea Books,bea@ledger.example,,Bookkeeping,",
        "info@globex.example,Globex,Hank,hank@globex.example,,Billing,account",
        "hi@empty.example,Empty,,,,,",
        "",
    ]
)


def town(capsys, db_url, tmp_path) -> None:
    code, _, err = run(capsys, "--db", db_url, "import", write(tmp_path, "town.csv", TOWN))
    assert code == 0, err


def test_list_without_a_filter_shows_every_customer_and_contact_person(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    code, out, _ = run(capsys, "--db", db_url, "list")
    assert code == 0
    assert out.splitlines() == [
        "hi@empty.example  Empty",
        "info@globex.example  Globex  |  Bea Books <bea@ledger.example>  Bookkeeping  -",
        "info@globex.example  Globex  |  Hank <hank@globex.example>  Billing  account",
        "owner@acme.example  Acme  |  Bea Books <bea@acme.example>  Bookkeeping  billing",
        "owner@acme.example  Acme  |  Tom Tech <tom@acme.example>  Technical  all",
    ]


def test_list_finds_the_bookkeepers_not_opted_in_to_account_as_json(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    code, out, _ = run(capsys, "--db", db_url, "list", "--role", "bookkeeping", "--not-category", "account", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["customer_email"], r["contact_email"], r["categories"]) for r in rows] == [
        ("info@globex.example", "bea@ledger.example", []),
        ("owner@acme.example", "bea@acme.example", ["billing"]),
    ]
    assert all(r["role"] == "Bookkeeping" and not r["deleted"] for r in rows)


def test_a_domain_is_the_contact_person_s_or_the_customer_s(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    _, out, _ = run(capsys, "--db", db_url, "list", "--domain", "ledger.example")
    assert out.splitlines() == ["info@globex.example  Globex  |  Bea Books <bea@ledger.example>  Bookkeeping  -"]
    _, out, _ = run(capsys, "--db", db_url, "list", "--domain", "@ACME.example", "--category", "account")
    # Tom receives all, so account too.
    assert out.splitlines() == ["owner@acme.example  Acme  |  Tom Tech <tom@acme.example>  Technical  all"]


def test_statuses_of_customers_and_contact_persons(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    _, out, _ = run(capsys, "--db", db_url, "list", "--status", "no-contacts")
    assert out.splitlines() == ["hi@empty.example  Empty"]
    rest = TOWN.replace("info@globex.example,Globex,Hank,hank@globex.example,,Billing,account\n", "")
    assert run(capsys, "--db", db_url, "import", "--sync", write(tmp_path, "rest.csv", rest))[0] == 0
    _, out, _ = run(capsys, "--db", db_url, "list", "--status", "deleted")
    assert out.splitlines() == [
        "info@globex.example  Globex  |  Hank <hank@globex.example>  Billing  account  (deleted)"
    ]
    code, out, err = run(capsys, "--db", db_url, "list", "--status", "inactive")
    assert (code, out) == (0, "")
    assert "No customers or contact persons with the filter inactive." in err


def test_export_writes_only_the_rows_the_filter_keeps(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    code, out, _ = run(capsys, "--db", db_url, "export", "-", "--role", "billing", "--category", "account")
    assert code == 0
    assert out.splitlines() == [
        EXPORTED,
        "info@globex.example,Globex,Hank,hank@globex.example,,Billing,account,,en",
    ]
    _, out, _ = run(capsys, "--db", db_url, "export", "-", "--status", "no-contacts")
    assert out.splitlines() == [EXPORTED, "hi@empty.example,Empty,,,,,,,en"]


def test_a_wrong_filter_exits_1_naming_each_option(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    code, out, err = run(capsys, "--db", db_url, "list", "--role", "chief", "--status", "gone", "--category", "x")
    assert (code, out) == (1, "")
    assert "Unknown role 'chief'" in err and "Unknown status 'gone'" in err and "Unknown category 'x'" in err
    code, _, err = run(capsys, "--db", db_url, "export", "-", "--domain", "not a domain")
    assert code == 1 and "is not an email domain" in err


def test_list_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        run(capsys, "list", "--help")
    out = capsys.readouterr().out
    for option in ("--role", "--category", "--not-category", "--status", "--domain", "--json", "no-contacts"):
        assert option in out
