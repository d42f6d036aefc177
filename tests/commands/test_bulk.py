"""`contacts-tui bulk`: the filters of `list`, one change to every record they
keep, each checked and recorded once; --dry-run, --yes, refusals, asking on
a terminal, --undo-last. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import pty
import select
import subprocess

from ..test_cli import SCRIPT, run, write
from ..waiting import poll
from .test_listing import TOWN


def town(capsys, db_url, tmp_path, text: str = TOWN) -> None:
    code, _, err = run(capsys, "--db", db_url, "import", write(tmp_path, "town.csv", text))
    assert code == 0, err


def listed(capsys, db_url, *filters) -> list[str]:
    code, out, err = run(capsys, "--db", db_url, "list", *filters)
    assert code == 0, err
    return out.splitlines()


def history(capsys, db_url) -> list[dict]:
    import json

    code, out, err = run(capsys, "--db", db_url, "history", "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


KEEPERS = ("--role", "bookkeeping", "--domain", "acme.example", "--not-category", "account")
MORE = TOWN + "\n".join(
    [
        "boss@acme-two.example,Acme Two,Bo Books,bo@acme.example,,Bookkeeping,",
        "hq@acme.example,Acme HQ,Cy Books,cy@ledger.example,,Bookkeeping,account",
        "hq@acme.example,Acme HQ,Di Books,di@ledger.example,,Bookkeeping,billing",
        "",
    ]
)


def test_the_done_when_flow_through_the_cli(capsys, db_url, tmp_path):
    """Every bookkeeper of customers at acme.example not opted in to account:
    listed, switched on, one history entry per person, undone."""
    town(capsys, db_url, tmp_path, MORE)
    before = listed(capsys, db_url, *KEEPERS)
    assert before == [
        # Bo's own address is at acme.example, Di's customer's is: the domain is either's.
        "boss@acme-two.example  Acme Two  |  Bo Books <bo@acme.example>  Bookkeeping  -",
        "hq@acme.example  Acme HQ  |  Di Books <di@ledger.example>  Bookkeeping  billing",
        "owner@acme.example  Acme  |  Bea Books <bea@acme.example>  Bookkeeping  billing",
    ]
    code, out, err = run(capsys, "--db", db_url, "bulk", *KEEPERS, "--switch-on", "account", "--dry-run")
    assert code == 0, err
    assert sorted(out.splitlines()) == [
        "boss@acme-two.example  Acme Two  |  Bo Books <bo@acme.example>",
        "hq@acme.example  Acme HQ  |  Di Books <di@ledger.example>",
        "owner@acme.example  Acme  |  Bea Books <bea@acme.example>",
    ]
    assert "Switch Account on for 3 contact persons at 3 customers." in err
    assert "Nothing changed (--dry-run)." in err
    assert listed(capsys, db_url, *KEEPERS) == before
    entries = len(history(capsys, db_url))

    code, out, err = run(capsys, "--db", db_url, "bulk", *KEEPERS, "--switch-on", "account", "--yes")
    assert code == 0, err
    assert "Switched Account on for 3 contact persons at 3 customers. contacts-tui bulk --undo-last undoes it." in err
    assert listed(capsys, db_url, *KEEPERS) == []
    new = history(capsys, db_url)[: len(history(capsys, db_url)) - entries]
    assert sorted(e["contact_email"] for e in new) == ["bea@acme.example", "bo@acme.example", "di@ledger.example"]
    assert {(e["action"], e["channel"]) for e in new} == {("categories changed", "cli")}
    assert len({e["at"] for e in new}) == 1

    code, _, err = run(capsys, "--db", db_url, "bulk", "--undo-last", "--yes")
    assert code == 0, err
    assert "Undoing the last bulk change (switch Account on)." in err
    assert "Switched Account off for 3 contact persons at 3 customers." in err
    assert listed(capsys, db_url, *KEEPERS) == before
    # Cy had account before: the undo left it alone.
    assert any(
        "Cy Books" in line and "account" in line for line in listed(capsys, db_url, "--domain", "ledger.example")
    )


def test_a_refusal_is_named_and_changes_nothing_unless_the_rest_is_asked_for(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    assert run(capsys, "--db", db_url, "settings", "--max-contacts", "2")[0] == 0
    # Acme's two deleted; a new one takes a place: one of the two fits back in.
    assert run(capsys, "--db", db_url, "bulk", "--domain", "acme.example", "--delete", "--yes")[0] == 0
    sync = write(tmp_path, "new.csv", TOWN.split("\n")[0] + "\nowner@acme.example,Acme,Newt,newt@acme.example,,,\n")
    assert run(capsys, "--db", db_url, "import", sync)[0] == 0
    restore = ("--db", db_url, "bulk", "--status", "deleted", "--domain", "acme.example", "--restore")
    code, out, err = run(capsys, *restore, "--yes")
    assert code == 1
    assert "Restore 1 contact person at 1 customer." in err
    assert "1 refused by the rules:" in err
    assert "Acme already has 2 contact persons — remove one first" in err
    assert "Nothing changed: --skip-refused changes the others." in err
    assert len(listed(capsys, db_url, "--status", "deleted", "--domain", "acme.example")) == 2
    code, _, err = run(capsys, *restore, "--yes", "--skip-refused")
    assert code == 0, err
    assert "Restored 1 contact person at 1 customer." in err
    assert len(listed(capsys, db_url, "--status", "deleted", "--domain", "acme.example")) == 1


def test_customers_deactivated_and_activated_and_what_is_required(capsys, db_url, tmp_path):
    town(capsys, db_url, tmp_path)
    code, out, err = run(capsys, "--db", db_url, "bulk", "--search", "example", "--deactivate", "--yes")
    assert code == 0, err
    assert "Deactivated 3 customers." in err
    assert len(listed(capsys, db_url, "--status", "inactive")) == 5  # their 4 contact persons and Empty
    code, out, err = run(capsys, "--db", db_url, "bulk", "--all", "--deactivate", "--dry-run")
    assert code == 0 and out == ""
    assert "Nothing to deactivate" in err and "3 left as they are: inactive already." in err
    # No filter, no search, no --all: refused, nothing touched.
    code, _, err = run(capsys, "--db", db_url, "bulk", "--activate", "--yes")
    assert code == 1 and "give a filter (--role, --domain, …), --search TEXT, or --all" in err
    code, _, err = run(capsys, "--db", db_url, "bulk", "--role", "billing", "--switch-on", "nonsense", "--yes")
    assert code == 1 and "Unknown category 'nonsense'" in err
    # Not on a terminal and no --yes: nothing done, and it says how.
    code, _, err = run(capsys, "--db", db_url, "bulk", "--all", "--activate")
    assert code == 1 and "give --yes to apply, or --dry-run to look first" in err
    assert len(listed(capsys, db_url, "--status", "inactive")) == 5


def test_on_a_terminal_it_lists_asks_and_shows_progress(sqlite_url, capsys, tmp_path):
    town(capsys, sqlite_url, tmp_path)

    def ask(answer: bytes) -> tuple[int, bytes]:
        controller, terminal = pty.openpty()
        command = [SCRIPT, "--db", sqlite_url, "bulk", "--role", "bookkeeping", "--switch-on", "account"]
        process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal)
        os.close(terminal)
        shown = bytearray()

        def ended() -> bool:
            """Read what the program wrote meanwhile; true once it closed the terminal."""
            if not select.select([controller], [], [], 0)[0]:
                return False
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                return True
            shown.extend(chunk)
            return not chunk

        try:
            poll(lambda: ended() or b"[y/N]" in shown, 30, lambda: bytes(shown))
            if b"[y/N]" in shown:
                os.write(controller, answer)
            poll(ended, 30, lambda: bytes(shown))
            return process.wait(timeout=30), bytes(shown)
        finally:
            os.close(controller)

    code, shown = ask(b"n\n")
    assert code == 1, shown
    assert b"Bea Books <bea@ledger.example>" in shown and b"Apply? [y/N]" in shown and b"Nothing changed." in shown
    code, shown = ask(b"y\n")
    assert code == 0, shown
    assert b"\x1b[K" in shown  # the progress line, cleared when done
    assert b"Switched Account on for 2 contact persons at 2 customers." in shown
