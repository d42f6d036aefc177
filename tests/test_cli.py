"""`contacts-tui` as scripts use it: init, import, export, options and errors.

In-process through ``contacts_tui.cli.main`` on SQLite and PostgreSQL, and
through the installed console script in a subprocess (a real pipe for
stdin, a real terminal for the progress line).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from contacts_tui.cli import main
from contacts_tui.core.migrate import known_migrations

SCHEMA = known_migrations()[-1].version


SCRIPT = str(Path(sys.executable).parent / "contacts-tui")
HEADER = "customer_email,customer_name,contact_name,contact_email,phone,role,categories"
EXPORTED = HEADER + ",notes,language"
"""What export writes: the columns, and the optional ones after them."""
GOOD = "\n".join(
    [
        HEADER,
        'owner@acme.example,"Acme, Ltd.",Bea Müller,bea@acme.example,+31 20 555 0101,Bookkeeping,billing',
        'owner@acme.example,"Acme, Ltd.",Ann,ann@acme.example,,,all',
        "info@globex.example,Globex,,,+1 555 0100,,",
        "",
    ]
)
BAD = "\n".join(
    [
        HEADER,
        "owner@acme.example,Acme,Bea,bea@acme.example,,,",
        "owner@acme.example,Acme,Tom,tom@acme,,,",
        "owner@acme.example,Acme,Ann,ann@acme.example,,Chief,",
        "",
    ]
)


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_nothing_written(capsys, db) -> None:
    """Not a row, and on SQLite not even the database file the command would have made."""
    if db.startswith("sqlite"):
        assert not Path(db.removeprefix("sqlite:///")).exists()
    else:
        assert exported(capsys, db) == EXPORTED + "\n"


def exported(capsys, db) -> str:
    code, out, _ = run(capsys, "--db", db, "export", "-")
    assert code == 0
    return out


# -- help and options --------------------------------------------------------


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("init", "import", "export", "settings", "demo"):
        assert f"    {command} " in out
    assert "CONTACTS_DB" in out and "customer_email,customer_name" in out


def test_import_help_lists_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    out = capsys.readouterr().out
    assert all(option in out for option in ("--dry-run", "--sync", "--skip-invalid", "FILE.csv"))


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as done:
        main(["frobnicate"])
    assert done.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("order", ["before", "after"])
def test_options_stand_before_or_after_the_command(capsys, db_url, order):
    argv = ["--db", db_url, "init"] if order == "before" else ["init", "--db", db_url]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out == f"Database ready (schema version {SCHEMA}): 0 customers, 0 active contact persons.\n"


def test_init_reports_what_the_database_holds(capsys, db_url, tmp_path):
    assert run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD))[0] == 0
    code, out, _ = run(capsys, "init", "--db", db_url)
    assert (code, out) == (0, f"Database ready (schema version {SCHEMA}): 2 customers, 2 active contact persons.\n")


def test_contacts_db_from_the_environment(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CONTACTS_DB", str(tmp_path / "env.db"))
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "env.db").is_file()


def test_without_db_the_default_file_is_created_in_the_user_data_directory(capsys, tmp_path):
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "data" / "contact-persons" / "contacts.db").is_file()


def test_unreachable_database_exits_1_without_the_password(capsys):
    code, out, err = run(capsys, "--db", "postgresql://admin:s3cret-pw@127.0.0.1:1/contacts", "init")
    assert code == 1 and out == ""
    assert err.startswith(
        "contacts-tui: error: cannot reach PostgreSQL at postgresql://admin:***@127.0.0.1:1/contacts: "
    )
    assert "s3cret" not in err and "Traceback" not in err


def test_a_database_in_a_missing_directory_exits_1(capsys, tmp_path):
    code, _, err = run(capsys, "--db", str(tmp_path / "nope" / "x.db"), "init")
    assert code == 1 and "does not exist" in err


def test_a_malformed_database_url_exits_1_without_the_password(capsys):
    code, _, err = run(capsys, "--db", "postgresql://admin:s3cret-pw@[::1/contacts", "init")
    assert code == 1 and err.startswith("contacts-tui: error: invalid database URL")
    assert "s3cret" not in err


# -- the catalog and the limit, stored in the database -------------------------

CATALOG = '[categories.helpdesk]\ntypes = ["ticket.opened"]\n[categories.outages]\n'
HELPDESK_ROW = "\n".join([HEADER, "owner@acme.example,Acme,Bea,bea@acme.example,,,helpdesk", ""])


def test_a_catalog_given_to_a_new_database_is_stored_for_every_later_command(capsys, sqlite_url, tmp_path):
    data = write(tmp_path, "helpdesk.csv", HELPDESK_ROW)
    code, _, err = run(capsys, "--db", sqlite_url, "import", data)
    assert code == 1 and "Unknown category 'helpdesk'; the catalog has billing, account" in err
    catalog = write(tmp_path, "catalog.toml", CATALOG)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run(capsys, "import", data, "--db", fresh, "--catalog", catalog)[0] == 0
    # No option any more: the database says which catalog it uses.
    assert "Bea,bea@acme.example,,General,helpdesk" in exported(capsys, fresh)
    code, out, _ = run(capsys, "--db", fresh, "settings")
    assert code == 0 and out.splitlines()[:3] == [
        f"Catalog: {catalog}",
        "  helpdesk  Helpdesk: ticket.opened",
        "  outages   Outages: (no email types: the key only)",
    ]


def test_contacts_catalog_environment_variable_fills_a_new_database(capsys, monkeypatch, sqlite_url, tmp_path):
    monkeypatch.setenv("CONTACTS_CATALOG", write(tmp_path, "catalog.toml", CATALOG))
    assert run(capsys, "--db", sqlite_url, "import", write(tmp_path, "h.csv", HELPDESK_ROW))[0] == 0
    monkeypatch.setenv("CONTACTS_CATALOG", "perfex")
    code, _, err = run(capsys, "--db", sqlite_url, "export", "-")
    assert (
        code == 1
        and f"this database uses the catalog {tmp_path / 'catalog.toml'} (helpdesk, outages), not perfex" in err
    )


@pytest.mark.parametrize(
    "content, message",
    [(None, "catalog file catalog.toml does not exist"), ("[categories.all]\n", "'all' is reserved")],
)
def test_a_bad_catalog_exits_1_with_the_reason(capsys, sqlite_url, tmp_path, content, message):
    path = tmp_path / "catalog.toml"
    if content is not None:
        path.write_text(content)
    code, _, err = run(
        capsys, "--db", sqlite_url, "--catalog", "catalog.toml" if content is None else str(path), "init"
    )
    assert code == 1 and err.startswith("contacts-tui: error: ") and message in err


def test_a_limit_given_to_one_command_no_longer_outlives_it(capsys, db_url, tmp_path):
    """The issue's steps: --max-contacts 11 on one import used to leave "11 of 10" behind."""
    eleven = write(
        tmp_path,
        "eleven.csv",
        "\n".join([HEADER, *(f"o@acme.example,Acme,P{i},p{i}@acme.example,,," for i in range(11)), ""]),
    )
    assert run(capsys, "--db", db_url, "init")[0] == 0
    code, out, err = run(capsys, "--db", db_url, "--max-contacts", "11", "import", eleven)
    assert (code, out) == (1, "")
    assert "this database allows 10 contact persons per customer, not 11; " in err
    assert "'contacts-tui settings --max-contacts 11' changes it for every program" in err
    code, out, _ = run(capsys, "--db", db_url, "settings", "--max-contacts", "11")
    assert (code, out) == (0, "Contact persons per customer: now at most 11 (was 10).\n")
    assert run(capsys, "--db", db_url, "import", eleven)[0] == 0  # no option needed now
    # Lowering it below what a customer has is refused, naming the customer.
    code, _, err = run(capsys, "--db", db_url, "settings", "--max-contacts", "10")
    assert code == 1
    assert "1 customer(s) have more than 10 active contact persons: Acme <o@acme.example> (11)" in err
    assert "the limit stays at 11" in err
    code, out, _ = run(capsys, "--db", db_url, "settings")
    assert "Contact persons per customer: at most 11 (the most a customer has now: 11)" in out


def test_contacts_max_contacts_fills_a_new_database_only(capsys, monkeypatch, sqlite_url, tmp_path):
    three = write(
        tmp_path,
        "three.csv",
        "\n".join([HEADER, *(f"o@acme.example,Acme,P{i},p{i}@acme.example,,," for i in range(3)), ""]),
    )
    monkeypatch.setenv("CONTACTS_MAX_CONTACTS", "2")
    assert run(capsys, "--db", sqlite_url, "init")[0] == 0
    code, _, err = run(capsys, "--db", sqlite_url, "import", three)
    assert code == 1 and "o@acme.example already has 2 contact persons — remove one first" in err
    monkeypatch.delenv("CONTACTS_MAX_CONTACTS")
    assert run(capsys, "--db", sqlite_url, "import", three)[0] == 1  # still 2: the database holds it
    assert run(capsys, "--db", sqlite_url, "init", "--max-contacts", "3")[0] == 0
    assert run(capsys, "--db", sqlite_url, "import", three)[0] == 0


def test_catalogs_of_the_products_this_replaces_are_shipped(capsys, tmp_path):
    shown = {}
    for name in ("payrequest", "herotill", "perfex"):
        db = f"sqlite:///{tmp_path / name}.db"
        assert run(capsys, "--db", db, "init", "--catalog", name)[0] == 0
        shown[name] = run(capsys, "--db", db, "settings")[1].splitlines()
    assert shown["payrequest"][1].startswith("  billing  Billing: invoice.created, payment.received")
    assert [line.split()[0] for line in shown["herotill"][1:6]] == [
        "billing",
        "helpdesk",
        "usage",
        "outages",
        "general",
    ]
    assert [line.split()[0] for line in shown["perfex"][1:8]] == [
        "invoice",
        "credit_note",
        "estimate",
        "ticket",
        "project",
        "contract",
        "task",
    ]


def test_switching_the_catalog_says_what_becomes_of_opt_ins_and_loses_none(capsys, db_url, tmp_path):
    rows = "\n".join(
        [
            HEADER,
            "o@acme.example,Acme,Bea,bea@acme.example,,,billing;account",
            "o@acme.example,Acme,Ann,ann@acme.example,,,account",
            "o@acme.example,Acme,Al,al@acme.example,,,all",
            "",
        ]
    )
    assert run(capsys, "--db", db_url, "import", write(tmp_path, "acme.csv", rows))[0] == 0
    code, out, _ = run(capsys, "--db", db_url, "settings", "--catalog", "herotill", "--dry-run")
    assert code == 0 and out.splitlines() == [
        "Catalog: would switch from payrequest (billing, account) "
        "to herotill (billing, helpdesk, usage, outages, general).",
        "  billing: 1 opt-in(s) stay (herotill has billing too).",
        "  account: 2 opt-in(s) are kept but do nothing while herotill has no account; "
        "switching back brings them back.",
        "  1 contact person(s) receive all: they get every category of herotill too.",
        "  Mail tagged account (or their email types) will pass without contact persons "
        "unless herotill names that type too.",
        "Dry run: nothing was changed.",
    ]
    code, out, _ = run(capsys, "--db", db_url, "settings", "--catalog", "herotill", "--map", "account=general")
    assert code == 0 and "Each of those contact persons also gets general." in out
    text = exported(capsys, db_url)
    assert "Bea,bea@acme.example,,General,billing;general" in text and "Ann,ann@acme.example,,General,general" in text
    # An import of that file changes nothing, and keeps the hidden account opt-ins.
    code, out, _ = run(capsys, "--db", db_url, "import", write(tmp_path, "again.csv", text))
    assert code == 0 and "0 updated, 0 restored" in out
    assert run(capsys, "--db", db_url, "settings", "--catalog", "payrequest")[0] == 0
    text = exported(capsys, db_url)
    assert "Bea,bea@acme.example,,General,billing;account" in text and "Ann,ann@acme.example,,General,account" in text


def test_map_needs_a_category_of_the_new_catalog(capsys, sqlite_url):
    code, _, err = run(capsys, "--db", sqlite_url, "settings", "--catalog", "perfex", "--map", "account=general")
    assert code == 1 and "perfex has no category 'general'" in err


@pytest.mark.parametrize("value, message", [("abc", "must be a whole number"), ("0", "at least 1")])
def test_a_bad_contact_limit_in_the_environment_exits_1(capsys, monkeypatch, sqlite_url, value, message):
    monkeypatch.setenv("CONTACTS_MAX_CONTACTS", value)
    code, _, err = run(capsys, "--db", sqlite_url, "init")
    assert code == 1 and message in err


# -- import ------------------------------------------------------------------


def test_import_prints_what_it_did(capsys, db_url, tmp_path):
    code, out, err = run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD))
    assert (code, err) == (0, "")
    assert out == (
        "Imported: 3 rows read; customers: 2 created, 0 updated; "
        "contact persons: 2 added, 0 updated, 0 restored, 0 removed\n"
    )


def test_import_of_a_bad_file_lists_every_bad_row_and_writes_nothing(capsys, db_url, tmp_path):
    path = write(tmp_path, "bad.csv", BAD)
    code, out, err = run(capsys, "--db", db_url, "import", path)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{path}: line 3, column contact_email: 'tom@acme' is not a valid email address: "
        "The part after the @-sign is not valid. It should have a period.",
        f"{path}: line 4, column role: Unknown role 'Chief'; choose one of General, Billing, Bookkeeping, "
        "Technical, Management, Support",
        "contacts-tui: 2 problem(s) in the file; nothing was imported",
    ]
    assert_nothing_written(capsys, db_url)


def test_skip_invalid_imports_the_rest_and_lists_what_it_skipped(capsys, db_url, tmp_path):
    path = write(tmp_path, "bad.csv", BAD)
    code, out, err = run(capsys, "--db", db_url, "import", "--skip-invalid", path)
    assert code == 0
    assert [
        line.startswith(f"{path}: skipped line {n}, column ") for n, line in zip((3, 4), err.splitlines(), strict=False)
    ] == [
        True,
        True,
    ]
    assert len(err.splitlines()) == 2
    assert "2 invalid rows skipped" in out
    assert "bea@acme.example" in exported(capsys, db_url)


def test_dry_run_reports_and_writes_nothing(capsys, db_url, tmp_path):
    code, out, _ = run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD), "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "new customer owner@acme.example (Acme, Ltd.)",
        "  add bea@acme.example (Bea Müller)",
        "  add ann@acme.example (Ann)",
        "new customer info@globex.example (Globex)",
        "Dry run, nothing written: 3 rows read; customers: 2 would be created, 0 would be updated; contact persons: "
        "2 would be added, 0 would be updated, 0 would be restored, 0 would be removed",
    ]
    assert_nothing_written(capsys, db_url)


def test_dry_run_lists_each_change_to_an_existing_customer(capsys, db_url, tmp_path):
    run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD))
    changed = (
        "\n".join(
            [
                HEADER,
                'owner@acme.example,"Acme, Ltd.",Bea Müller,bea@acme.example,'
                "+31 20 555 0101,Bookkeeping,billing;account",
                'owner@acme.example,"Acme, Ltd.",Zoe,zoe@acme.example,,,',
            ]
        )
        + "\n"
    )
    code, out, _ = run(capsys, "--db", db_url, "import", "--dry-run", "--sync", write(tmp_path, "changed.csv", changed))
    assert code == 0
    assert out.splitlines()[:4] == [
        "customer owner@acme.example",
        "  update bea@acme.example: categories 'billing' -> 'account;billing'",
        "  add zoe@acme.example (Zoe)",
        "  remove ann@acme.example (Ann): not in the file (--sync)",
    ]


def test_sync_removes_contacts_the_file_no_longer_lists(capsys, db_url, tmp_path):
    run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD))
    only_bea = "\n".join(GOOD.splitlines()[:2]) + "\n"
    code, out, _ = run(capsys, "--db", db_url, "import", "--sync", write(tmp_path, "bea.csv", only_bea))
    assert code == 0 and "1 removed" in out
    text = exported(capsys, db_url)
    assert "bea@acme.example" in text and "ann@acme.example" not in text
    assert "info@globex.example" in text  # not listed, left alone


def test_a_malformed_file_names_the_line(capsys, sqlite_url, tmp_path):
    path = write(tmp_path, "wrong.csv", "email,name\nx@y.example,X\n")
    code, _, err = run(capsys, "--db", sqlite_url, "import", path)
    assert code == 1
    assert err.splitlines()[0].startswith(f"{path}: line 1: missing column(s) customer_email")
    assert err.splitlines()[-1] == "contacts-tui: nothing was imported"


def test_an_excel_csv_in_dutch_settings_is_imported_and_says_how_it_was_read(capsys, sqlite_url, tmp_path):
    # Semicolons and Windows-1252: what Excel saves as "CSV" in Dutch, German and French settings.
    excel = HEADER.replace(",", ";") + "\r\nowner@acme.example;Café Noël;José;jose@acme.example;;;billing\r\n"
    path = write(tmp_path, "excel.csv", excel.encode("cp1252"))
    code, out, err = run(capsys, "--db", sqlite_url, "import", path)
    assert code == 0 and out.startswith("Imported: 1 rows read")
    assert (
        err
        == f"{path}: not UTF-8, so read as Windows-1252, separated by semicolons; --encoding names another encoding\n"
    )
    assert "owner@acme.example,Café Noël,José,jose@acme.example,,General,billing" in exported(capsys, sqlite_url)


def test_import_and_export_take_a_delimiter_and_an_encoding(capsys, sqlite_url, tmp_path):
    assert run(capsys, "--db", sqlite_url, "import", write(tmp_path, "good.csv", GOOD))[0] == 0
    target = tmp_path / "excel.csv"
    assert run(capsys, "--db", sqlite_url, "export", str(target), "--delimiter", ";", "--encoding", "cp1252")[0] == 0
    text = target.read_bytes().decode("cp1252")
    assert text.splitlines()[0] == EXPORTED.replace(",", ";")
    assert "owner@acme.example;Acme, Ltd.;Bea Müller;bea@acme.example;'+31 20 555 0101;Bookkeeping;billing" in text
    # Read back as it was written, told or not.
    for told in ([], ["--delimiter", "semicolon", "--encoding", "windows-1252"]):
        code, out, _ = run(capsys, "--db", sqlite_url, "import", str(target), "--dry-run", *told)
        assert (
            code == 0
            and "0 would be created, 0 would be updated" in out
            and "0 would be added, 0 would be updated" in out
        )


def test_an_export_in_an_encoding_that_cannot_hold_a_name_says_which_and_leaves_nothing(capsys, sqlite_url, tmp_path):
    rows = "\n".join([HEADER, "info@yamada.example,山田商事,,,,,", ""])
    assert run(capsys, "--db", sqlite_url, "import", write(tmp_path, "jp.csv", rows))[0] == 0
    code, _, err = run(capsys, "--db", sqlite_url, "export", str(tmp_path / "out.csv"), "--encoding", "cp1252")
    assert code == 1 and "'山田商事' cannot be written in cp1252; nothing was exported. --encoding utf-8-sig" in err
    assert not any(p.name.startswith("out.csv") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    "option, value, message",
    [("--delimiter", "ab", "'ab' is not a separator"), ("--encoding", "klingon", "unknown encoding 'klingon'")],
)
def test_a_bad_delimiter_or_encoding_is_a_usage_error(capsys, option, value, message):
    with pytest.raises(SystemExit) as done:
        main(["import", "x.csv", option, value])
    assert done.value.code == 2 and message in capsys.readouterr().err


def test_a_missing_file_exits_1(capsys, sqlite_url, tmp_path):
    code, _, err = run(capsys, "--db", sqlite_url, "import", str(tmp_path / "nope.csv"))
    assert code == 1 and err == f"contacts-tui: error: cannot read {tmp_path / 'nope.csv'}: No such file or directory\n"


def test_import_from_stdin_through_a_real_pipe(capsys, monkeypatch, sqlite_url):
    read_end, write_end = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_end, GOOD.encode()), os.close(write_end)))
    writer.start()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read_end, "r"))
    code, out, err = run(capsys, "--db", sqlite_url, "import", "-")
    writer.join()
    assert (code, err) == (0, "")
    assert out.startswith("Imported: 3 rows read")
    assert "bea@acme.example" in exported(capsys, sqlite_url)


# -- export ------------------------------------------------------------------


def test_export_to_a_file_leaves_no_partial_file(capsys, db_url, tmp_path):
    run(capsys, "--db", db_url, "import", write(tmp_path, "good.csv", GOOD))
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "--db", db_url, "export", str(target))
    assert (code, out) == (0, "")
    assert err == f"Exported 3 rows to {target}.\n"
    assert target.read_text(encoding="utf-8") == exported(capsys, db_url)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == ["out.csv"]


def test_export_over_an_existing_file_replaces_it_whole(capsys, sqlite_url, tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old content that is much longer than the new export " * 100)
    run(capsys, "--db", sqlite_url, "init")
    assert run(capsys, "--db", sqlite_url, "export", str(target))[0] == 0
    assert target.read_text() == EXPORTED + "\n"
    assert not (tmp_path / "out.csv.part").exists()


def test_export_into_a_missing_directory_exits_1_and_leaves_nothing(capsys, sqlite_url, tmp_path):
    run(capsys, "--db", sqlite_url, "init")
    code, _, err = run(capsys, "--db", sqlite_url, "export", str(tmp_path / "nope" / "out.csv"))
    assert code == 1 and "cannot write" in err and "No such file or directory" in err
    assert not (tmp_path / "nope").exists()


def test_export_import_export_through_the_cli_is_byte_identical(capsys, db_url, second_db_url, tmp_path):
    rich = (
        GOOD
        + "info@yamada.example,山田商事,,,03-1234-5678,,\n"
        + "office@ivanov.example,ООО Иванов,Сергей,s@ivanov.example,,Support,account;billing\n"
    )
    assert run(capsys, "--db", db_url, "import", write(tmp_path, "rich.csv", rich))[0] == 0
    first = tmp_path / "first.csv"
    assert run(capsys, "--db", db_url, "export", str(first))[0] == 0
    assert run(capsys, "--db", second_db_url, "import", str(first))[0] == 0
    second = tmp_path / "second.csv"
    assert run(capsys, "--db", second_db_url, "export", str(second))[0] == 0
    assert second.read_bytes() == first.read_bytes()
    assert "Сергей,s@ivanov.example,,Support,billing;account" in first.read_text(encoding="utf-8")


# -- the installed console script --------------------------------------------


def script(*argv, **options):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([SCRIPT, *argv], env=env, timeout=60, **options)


def test_installed_script_help_lists_every_command():
    done = script("--help")
    assert done.returncode == 0
    out = done.stdout.decode()
    assert all(f"    {command} " in out for command in ("init", "import", "export", "demo"))


def test_installed_script_imports_from_a_pipe_and_exports_to_stdout(sqlite_url):
    done = script("--db", sqlite_url, "import", "-", input=GOOD.encode())
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("Imported: 3 rows read")
    exported = script("export", "-", "--db", sqlite_url)
    assert exported.returncode == 0
    assert exported.stdout.decode("utf-8").splitlines()[1] == ("info@globex.example,Globex,,,'+1 555 0100,,,,en")


def test_installed_script_reports_an_unreachable_database():
    done = script("--db", "postgresql://admin:s3cret-pw@127.0.0.1:1/contacts", "init")
    assert done.returncode == 1
    assert b"cannot reach PostgreSQL" in done.stderr and b"s3cret" not in done.stderr
    assert b"Traceback" not in done.stderr


def test_installed_script_shows_progress_on_a_terminal_only(sqlite_url, tmp_path):
    import pty

    path = write(tmp_path, "good.csv", GOOD)
    controller, terminal = pty.openpty()
    try:
        done = script("--db", sqlite_url, "import", path, stderr=terminal, stdout=subprocess.PIPE)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"Checking" in shown or b"Writing" in shown
    assert b"\x1b[K" in shown  # the line is cleared when the work is done
    piped = script("--db", sqlite_url, "import", path)
    assert piped.returncode == 0 and piped.stderr == b""


def test_a_relay_address_must_be_host_and_port(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--relay", "localhost", "init"])
    assert exit_info.value.code == 2
    assert "'localhost' is not HOST:PORT" in capsys.readouterr().err


def test_export_from_a_database_that_is_not_there_is_an_error_and_creates_nothing(capsys, tmp_path):
    typo = tmp_path / "contcts.db"
    code, out, err = run(capsys, "--db", str(typo), "export", "-")
    assert (code, out) == (1, "")
    assert f"there is no database at {typo}; check --db or CONTACTS_DB" in err
    assert not typo.exists()


def test_export_to_a_pipe_is_utf8_whatever_the_locale_and_a_closed_pipe_is_no_error(sqlite_url, tmp_path):
    assert script("--db", sqlite_url, "import", write(tmp_path, "good.csv", GOOD)).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_")}
    done = subprocess.run(
        [SCRIPT, "--db", sqlite_url, "export", "-"],
        capture_output=True,
        timeout=60,
        env={**env, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"},
    )
    assert done.returncode == 0, done.stderr
    assert "Bea Müller".encode() in done.stdout
    # A reader that stops reading at once (export - | head -0).
    reader = subprocess.Popen(
        [SCRIPT, "--db", sqlite_url, "export", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    assert b"Traceback" not in reader.stderr.read()


# -- smaller things an admin runs into ------------------------------------------


@pytest.mark.parametrize("rows, extra, code", [(BAD, [], 1), (GOOD, ["--dry-run"], 0)])
def test_an_import_that_writes_nothing_leaves_no_new_database_behind(capsys, tmp_path, rows, extra, code):
    target = tmp_path / "new.db"
    assert run(capsys, "--db", str(target), "import", write(tmp_path, "in.csv", rows), *extra)[0] == code
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("new.db")) == []
    # An import that writes keeps its new database, and a failed one an existing database.
    assert run(capsys, "--db", str(target), "import", write(tmp_path, "good.csv", GOOD))[0] == 0
    assert run(capsys, "--db", str(target), "import", write(tmp_path, "bad.csv", BAD))[0] == 1
    assert target.exists() and "bea@acme.example" in exported(capsys, str(target))


def test_the_tui_without_a_terminal_says_it_needs_one(sqlite_url):
    done = script("--db", sqlite_url, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert b"the admin TUI needs a terminal, and the standard input is not one" in done.stderr
    done = script("demo", stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and b"needs a terminal" in done.stderr


def test_the_demo_names_contacts_relay_so_that_it_runs_without_the_virtualenv(monkeypatch):
    from contacts_tui.commands.demo import relay_command

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    command = relay_command()
    assert command == str(Path(sys.executable).with_name("contacts-relay"))
    done = subprocess.run([command, "--help"], capture_output=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and b"messages" in done.stdout
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert relay_command() == "contacts-relay"
