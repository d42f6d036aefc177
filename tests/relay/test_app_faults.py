"""Faults around the relay: its database moved away or hung, its disk full.

Whatever happens, a notification never goes out without its contact persons:
the sender gets 451 and tries again, and the operator gets a loud error.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from relay.queue import QueuedMessage, Spool
from tests.conftest import pg_url_via

from .helpers import ACME, ACME_BILLING, ROOT, SENDER, RawSession, RelayProcess, message, relay_config, running, seed
from .helpers.faults import StallingProxy


def _send_all(port: int, count: int) -> list[int]:
    session = RawSession(port)
    try:
        return [
            session.send_message(SENDER.encode(), [ACME.encode()], message(subject=f"n{n}"))[-1][0]
            for n in range(count)
        ]
    finally:
        session.close()


def _serve(db: Path, upstream, tmp_path: Path) -> RelayProcess:
    return RelayProcess(
        [
            "--db",
            str(db),
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            f"127.0.0.1:{upstream.port}",
            "--upstream-tls",
            "none",
            "--spool",
            str(tmp_path / "spool"),
            "--hostname",
            "relay.test",
        ]
    )


async def test_a_database_moved_away_is_never_replaced_and_mail_waits_with_451(
    sqlite_directory, people, upstream, tmp_path
):
    db = tmp_path / "contacts.db"
    relay = _serve(db, upstream, tmp_path).start()
    try:
        assert await asyncio.to_thread(_send_all, relay.port, 8) == [250] * 8
        await upstream.wait_for(8)
        assert all(sorted(m.recipients) == sorted([ACME, *ACME_BILLING]) for m in upstream.messages)

        db.rename(tmp_path / "moved.db")
        assert await asyncio.to_thread(_send_all, relay.port, 8) == [451] * 8
        assert not db.exists(), "the relay created a new database in the old place"

        (tmp_path / "moved.db").rename(db)
        assert await asyncio.to_thread(_send_all, relay.port, 8) == [250] * 8
        await upstream.wait_for(16)
        assert all(sorted(m.recipients) == sorted([ACME, *ACME_BILLING]) for m in upstream.messages)

        db.rename(tmp_path / "moved.db")
        sqlite3.connect(db).execute("CREATE TABLE notes (text)").connection.close()  # someone else's file
        assert await asyncio.to_thread(_send_all, relay.port, 4) == [451] * 4
    finally:
        relay.terminate()
    assert len(upstream.messages) == 16
    assert "the database file" in relay.output and "ERROR" in relay.output


@pytest.mark.parametrize("kind", ["missing", "empty", "foreign"])
def test_serve_refuses_to_start_without_a_contact_directory(tmp_path, kind, capsys):
    from relay.cli import main

    db = tmp_path / "contacts.db"
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "foreign":
        sqlite3.connect(db).execute("CREATE TABLE customer (name)").connection.close()
    code = main(["--db", str(db), "serve", "--capture", "--listen", "127.0.0.1:0", "--spool", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 1
    assert {
        "missing": "there is no database",
        "empty": "holds no contact directory",
        "foreign": "holds no contact directory",
    }[kind] in err
    assert db.exists() == (kind != "missing")


async def test_a_database_that_stops_answering_gives_451_within_the_lookup_timeout(pg_url, tmp_path, upstream):
    parts = urlsplit(pg_url)
    with StallingProxy(parts.hostname, parts.port or 5432) as proxy:
        url = pg_url_via(pg_url, "127.0.0.1", proxy.port)
        database = open_database(url)
        directory = Directory(database, DEFAULT_CATALOG)
        seed(directory)
        try:
            async with running(relay_config(tmp_path, upstream, lookup_timeout=1.0), directory) as relay:
                assert await asyncio.to_thread(_send_all, relay.port, 1) == [250]
                proxy.stall()
                started = time.monotonic()
                codes = await asyncio.to_thread(_send_all, relay.port, 3)
                took = time.monotonic() - started
                proxy.resume()
                assert await asyncio.to_thread(_send_all, relay.port, 1) == [250]
                await upstream.wait_for(2)
        finally:
            database.close_all()
    assert codes == [451] * 3
    assert took < 3 * 1.0 + 3, f"three lookups against a stalled database took {took:.1f} s"
    assert all(sorted(m.recipients) == sorted([ACME, *ACME_BILLING]) for m in upstream.messages)


async def test_a_spool_that_cannot_be_written_at_start_says_so(sqlite_directory, people, tmp_path):
    # The directory as every program finds it once one has opened it (its settings stored).
    from contacts_tui.core.options import Options, open_directory

    open_directory(Options.from_env(str(tmp_path / "contacts.db"), None), must_exist=True).database.close()
    # A spool with delivery state: the start rewrites its state file, which a
    # file size limit (as a full disk does) makes fail.
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir / "worker-1")
    queue_id = await spool.commit(QueuedMessage("", SENDER, (ACME,)), b"Subject: x\r\n\r\n" + b"x" * 200)
    waiting = spool.get(queue_id)
    waiting.attempts, waiting.last_error = 1, "451 4.3.0 try later " + "x" * 5000
    await spool.save(waiting)
    await spool.close()

    def limit_file_size() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "relay.cli",
            "--db",
            str(tmp_path / "contacts.db"),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
            "--spool",
            str(spool_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_file_size,
        env={**os.environ, "RELAY_HOSTNAME": "relay.test"},
    )
    assert done.returncode == 1
    assert f"cannot open the spool {spool_dir / 'worker-1'}: File too large" in done.stderr
    assert "cannot listen" not in done.stderr
    assert sorted(p.name for p in (spool_dir / "worker-1").iterdir() if p.is_file()) == ["lock", "state.rec"]
