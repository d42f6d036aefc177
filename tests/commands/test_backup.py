"""`contacts-tui backup` and `restore`: a consistent copy while the relay and admins write, and back.

The relay runs as `contacts-relay serve --workers 2` under a flood of mail
while another process adds customers as the TUI does (each with its history
entry in the same transaction); backups are taken meanwhile with the
console script, restored into a new file and opened.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from tests.relay.helpers import ACME, SENDER, RawSession, message
from tests.relay.helpers.reliability import Outcome, free_port, relay_process, seeded_database, serving
from tests.relay.helpers.upstream import Upstream

from ..waiting import poll

SCRIPT = str(Path(sys.executable).parent / "contacts-tui")


@pytest.fixture
def upstream():
    server = Upstream().start()
    yield server
    server.close()


# What an admin does in the TUI, as fast as it goes: a new customer each time,
# through the same core (the change and its history entry in one transaction).
EDITS = """
import sys
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import CustomerInput

directory = Directory(open_database(sys.argv[1]))
n = 0
while True:
    n += 1
    directory.create_customer(CustomerInput(f"Edit {n}", f"edit{n}@flood.example"))
    print(n, flush=True)
"""


def contacts_tui(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SCRIPT, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        stdin=None if stdin else subprocess.DEVNULL,
    )


def edits_in(path: Path) -> tuple[list[int], int]:
    """The numbers of the edit customers in a database, and their history entries."""
    with sqlite3.connect(path) as database:
        numbers = sorted(
            int(email.split("@")[0][4:])
            for (email,) in database.execute("SELECT email FROM customer WHERE email LIKE 'edit%@flood.example'")
        )
        changes = database.execute(
            "SELECT COUNT(*) FROM change_history WHERE customer_email LIKE 'edit%@flood.example'"
        ).fetchone()[0]
    return numbers, changes


@pytest.mark.slow
def test_a_backup_during_a_mail_flood_and_edits_restores_whole(tmp_path, upstream):
    db = seeded_database(tmp_path)
    url = f"sqlite:///{db}"
    port = free_port()
    process = relay_process(db, tmp_path, upstream, port, "--workers", "2")
    sent = []
    stop = threading.Event()

    def flood() -> None:
        session = RawSession(port)
        try:
            while not stop.is_set():
                code = session.send_message(SENDER.encode(), [ACME.encode()], message(subject=f"f{len(sent)}"))[-1][0]
                assert code == 250
                sent.append(code)
        finally:
            session.close()

    with serving(process, Outcome("backup")):
        editor = subprocess.Popen([sys.executable, "-c", EDITS, url], stdout=subprocess.PIPE, text=True)
        flooding = threading.Thread(target=flood)
        flooding.start()
        try:
            poll(lambda: len(sent) > 50, 30)
            assert editor.stdout is not None and int(editor.stdout.readline()) >= 1
            backups = []
            for n in range(2):
                file = tmp_path / f"backup-{n}.db"
                done = contacts_tui("backup", str(file), "--db", url)
                assert done.returncode == 0, done.stderr
                assert done.stdout.startswith(f"Backed up {db} to {file}: ")
                backups.append(file)
            # The relay serves the database: restoring over it is refused.
            refused = contacts_tui("restore", str(backups[0]), "--yes", "--db", url)
            assert refused.returncode == 1 and "a relay is serving" in refused.stderr
        finally:
            stop.set()
            flooding.join(30)
            editor.send_signal(signal.SIGTERM)
            editor.wait(30)
    assert len(sent) > 50
    for file in backups:
        assert oct(file.stat().st_mode & 0o777) == "0o600"
        assert not Path(f"{file}-wal").exists()  # the copy stands alone
        target = tmp_path / f"restored-{file.stem}.db"
        done = contacts_tui("restore", str(file), "--yes", "--db", f"sqlite:///{target}")
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(target) as restored:
            assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            logged = restored.execute("SELECT COUNT(*) FROM relay_log").fetchone()[0]
        # One instant: every customer added up to some moment, none missing, each with its history.
        numbers, changes = edits_in(target)
        assert numbers == list(range(1, len(numbers) + 1)) and numbers
        assert changes == len(numbers)
        assert logged > 0
        database = open_database(f"sqlite:///{target}")
        try:
            customers, _ = Directory(database).counts()
            assert customers == 4 + len(numbers)  # the seeded four and the edits
        finally:
            database.close()


def test_restore_asks_first_and_checks_the_backup(tmp_path):
    db = seeded_database(tmp_path)
    url = f"sqlite:///{db}"
    file = tmp_path / "nightly.db"
    assert contacts_tui("backup", str(file), "--db", url).returncode == 0
    other = tmp_path / "other.db"
    open_database(f"sqlite:///{other}").close()  # an empty directory

    # Without a terminal and without --yes: refused, nothing changed.
    done = contacts_tui("restore", str(file), "--db", f"sqlite:///{other}")
    assert done.returncode == 1 and "add --yes" in done.stderr
    # Not a database, or not ours: refused with the reason.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    done = contacts_tui("restore", str(junk), "--yes", "--db", f"sqlite:///{other}")
    assert done.returncode == 1 and "is not a database backup" in done.stderr
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as database:
        database.execute("CREATE TABLE t (x)")
    done = contacts_tui("restore", str(foreign), "--yes", "--db", f"sqlite:///{other}")
    assert done.returncode == 1 and "holds no contact directory" in done.stderr

    done = contacts_tui("restore", str(file), "--yes", "--db", f"sqlite:///{other}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Restored {other} from {file}: 4 customers, ")
    database = open_database(f"sqlite:///{other}")
    try:
        assert Directory(database).counts()[0] == 4
    finally:
        database.close()


def test_on_postgresql_backup_and_restore_name_the_tools_to_use(tmp_path):
    url = "postgresql://contacts:secret@db.internal/contacts"
    done = contacts_tui("backup", "nightly.dump", "--db", url)
    assert done.returncode == 1
    assert "pg_dump --format=custom --file nightly.dump 'postgresql://contacts@db.internal/contacts'" in done.stderr
    assert "secret" not in done.stderr
    done = contacts_tui("restore", "nightly.dump", "--db", url)
    assert done.returncode == 1 and "pg_restore" in done.stderr


def test_a_relay_does_not_start_during_a_restore(tmp_path):
    from contacts_tui.core.backup import BackupError, hold_for_relay, no_relay

    db = seeded_database(tmp_path)
    with no_relay(db):
        with pytest.raises(BackupError, match="is being restored from a backup"):
            hold_for_relay(db)
    fd = hold_for_relay(db)
    try:
        with pytest.raises(BackupError, match="a relay is serving"):
            with no_relay(db):
                pass
    finally:
        os.close(fd)
