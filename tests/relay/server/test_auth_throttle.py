"""Password guessing over raw SMTP: the AUTH limit holds per client address
and per account, whatever the guesser interleaves, however many sessions it
opens at once, and across every worker process.

Guessers connect from other loopback addresses (127.0.0.20, ...), outside
``--allow``, so one machine plays every side.
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time

from relay.server import listener

from ..helpers import PASSWORD, USER, RawSession, RelayProcess, relay_config, running, tls_client

ONLY_ME = ("127.0.0.1/32",)
SIGNED_IN, WRONG, REFUSED = 235, 535, 454


def _config(tmp_path, upstream, tls_files, auth_file, **changes):
    return relay_config(
        tmp_path,
        upstream,
        allow=ONLY_ME,
        auth_file=auth_file,
        tls_cert=tls_files.cert,
        tls_key=tls_files.key,
        **changes,
    )


def _secure(port: int, source: str, tls_files) -> RawSession:
    session = RawSession(port, source=source, timeout=30)
    session.starttls(tls_client(tls_files))
    return session


def _attempt(port: int, source: str, tls_files, user: str, password: str) -> int:
    """One AUTH PLAIN in a session of its own (a session takes one successful AUTH)."""
    session = _secure(port, source, tls_files)
    try:
        return session.auth_plain(user, password)[0]
    finally:
        session.close()


async def test_a_good_login_between_guesses_does_not_reset_the_count(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file, monkeypatch
):
    monkeypatch.setattr(listener, "AUTH_PENALTY", 0.05)
    async with running(_config(tmp_path, upstream, tls_files, auth_file), sqlite_directory) as relay:

        def alternate() -> tuple[list[int], list[int]]:
            good, bad = [], []
            for n in range(6):
                good.append(_attempt(relay.port, "127.0.0.20", tls_files, USER, PASSWORD))
                bad.append(_attempt(relay.port, "127.0.0.20", tls_files, "another-app", f"guess {n}"))
            return good, bad

        good, bad = await asyncio.to_thread(alternate)
    assert bad == [WRONG] * 5 + [REFUSED]
    # Five failures a minute from the address hold back its right password too.
    assert good == [SIGNED_IN] * 5 + [REFUSED]


async def test_a_burst_of_sessions_gets_no_more_checks_than_the_limit(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file
):
    # More sessions from one address than the default of 10 allows at once.
    config = _config(tmp_path, upstream, tls_files, auth_file, max_client_connections=20)
    async with running(config, sqlite_directory) as relay:

        def burst() -> list[tuple[int, float]]:
            sessions = [_secure(relay.port, "127.0.0.21", tls_files) for _ in range(14)]
            ready = threading.Barrier(len(sessions))
            results: list[tuple[int, float]] = []

            def guess(session: RawSession, n: int) -> None:
                ready.wait()
                started = time.monotonic()
                code = session.auth_plain(USER, f"guess {n}")[0]
                results.append((code, time.monotonic() - started))
                session.close()

            threads = [threading.Thread(target=guess, args=(s, n)) for n, s in enumerate(sessions)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            return results

        results = await asyncio.to_thread(burst)
    codes = sorted(code for code, _ in results)
    assert codes == [REFUSED] * 9 + [WRONG] * 5
    # A wrong password is answered after a second; a refusal at once.
    assert all(took >= listener.AUTH_PENALTY for code, took in results if code == WRONG)


async def test_guesses_at_one_account_from_many_addresses_stop_but_its_own_client_still_signs_in(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file, monkeypatch
):
    monkeypatch.setattr(listener, "AUTH_PENALTY", 0.05)
    async with running(_config(tmp_path, upstream, tls_files, auth_file), sqlite_directory) as relay:

        def spread() -> tuple[int, list[int], int, int]:
            # The billing app signs in from its own address, as every day.
            before = _attempt(relay.port, "127.0.0.30", tls_files, USER, PASSWORD)
            guesses = [_attempt(relay.port, f"127.0.0.{40 + n}", tls_files, USER, f"guess {n}") for n in range(8)]
            app = _attempt(relay.port, "127.0.0.30", tls_files, USER, PASSWORD)
            # The right password from an address that never signed in as the user is held back too.
            newcomer = _attempt(relay.port, "127.0.0.60", tls_files, USER, PASSWORD)
            return before, guesses, app, newcomer

        before, guesses, app, newcomer = await asyncio.to_thread(spread)
    assert before == SIGNED_IN
    assert guesses == [WRONG] * 5 + [REFUSED] * 3
    assert app == SIGNED_IN
    assert newcomer == REFUSED


def test_two_workers_share_one_limit(tmp_path, sqlite_url, tls_files, auth_file, upstream):
    from contacts_tui.core.db import open_database

    open_database(sqlite_url).close()
    process = RelayProcess(
        [
            "--db",
            sqlite_url,
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            f"127.0.0.1:{upstream.port}",
            "--upstream-tls",
            "none",
            "--spool",
            str(tmp_path / "spool"),
            "--workers",
            "2",
            "--allow",
            "127.0.0.1/32",
            "--auth-file",
            str(auth_file),
            # The 16 sessions below are held at once and the kernel spreads
            # them over the workers at random: more than the default 10 from
            # one address may land on one worker, which would answer 421.
            "--max-client-connections",
            "16",
            "--tls-cert",
            str(tls_files.cert),
            "--tls-key",
            str(tls_files.key),
        ]
    ).start()
    try:
        # Sessions opened one after another land on either worker (the kernel
        # hands each connection to whichever accepts first); the guesses then
        # go one at a time, each to the worker that holds its session.
        sessions = [_secure(process.port, "127.0.0.22", tls_files) for _ in range(16)]
        codes = []
        for n, session in enumerate(sessions):
            codes.append(session.auth_plain(USER, f"guess {n}")[0])
            session.close()
    finally:
        assert process.terminate() == 0
    by_worker = collections.Counter(
        re.findall(r"contacts-relay\[(\d)\] WARNING (?:failed|refused) AUTH", process.output)
    )
    assert set(by_worker) == {"1", "2"}, f"every guess went to one worker: {by_worker}"
    assert codes == [WRONG] * 5 + [REFUSED] * 11
