"""Not an open relay, not a smuggler, never a silent send without the contacts.

The relay runs on 127.0.0.1; where loopback must count as a stranger it is
started with ``--allow 10.0.0.0/8``. TLS uses the session's self-signed
certificate (conftest ``tls_files``, made with openssl).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import pytest

from contacts_tui.core.catalog import DEFAULT_CATALOG
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from relay.server.access import set_password

from ...waiting import poll, wait_until
from ..helpers import (
    ACME,
    ACME_BILLING,
    PASSWORD,
    ROOT,
    SENDER,
    USER,
    Answer,
    RelayProcess,
    cc_of,
    logged,
    message,
    parsed,
    raw_session,
    relay_config,
    run_cli,
    running,
    seed,
    send,
    tls_client,
)

STRANGERS_ONLY = ("10.0.0.0/8",)


def _session(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=20)
    client.ehlo("client.test")
    return client


# -- who may send ------------------------------------------------------------------


async def test_a_client_from_a_network_not_allowed_is_refused(sqlite_directory, people, upstream, tmp_path):
    config = relay_config(tmp_path, upstream, allow=STRANGERS_ONLY)
    async with running(config, sqlite_directory) as relay:

        def attempt():
            with _session(relay.port) as client:
                return client.mail(SENDER), client.rcpt(ACME), client.docmd("DATA")

        mail, rcpt, data = await _thread(attempt)
        assert relay.scheduler.queued == 0
    assert mail[0] == 530 and b"allowed networks" in mail[1]
    assert rcpt[0] == 503 and data[0] == 503
    assert upstream.messages == []


async def test_auth_is_not_offered_and_refused_without_tls(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file
):
    config = relay_config(
        tmp_path, upstream, allow=STRANGERS_ONLY, auth_file=auth_file, tls_cert=tls_files.cert, tls_key=tls_files.key
    )
    async with running(config, sqlite_directory) as relay:

        def attempt():
            with _session(relay.port) as client:
                offered = client.has_extn("auth"), client.has_extn("starttls")
                plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
                return offered, client.docmd("AUTH", f"PLAIN {plain}"), client.mail(SENDER)

        (auth_offered, starttls_offered), auth, mail = await _thread(attempt)
    assert starttls_offered and not auth_offered
    assert auth[0] == 538
    assert mail[0] == 530


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_a_wrong_password_is_refused_and_the_right_one_over_starttls_relays(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file, mechanism
):
    config = relay_config(
        tmp_path, upstream, allow=STRANGERS_ONLY, auth_file=auth_file, tls_cert=tls_files.cert, tls_key=tls_files.key
    )
    async with running(config, sqlite_directory) as relay:

        def login(password: str):
            client = _session(relay.port)
            client.starttls(context=tls_client(tls_files))
            client.ehlo("client.test")
            client.user, client.password = USER, password
            method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
            try:
                client.auth(mechanism, method, initial_response_ok=mechanism == "PLAIN")
            except smtplib.SMTPAuthenticationError as exc:
                code = client.mail(SENDER)[0]
                client.close()
                return exc.smtp_code, code
            code, text = client.mail(SENDER)
            assert code == 250, text
            assert client.rcpt(ACME)[0] == 250
            reply = client.data(message())
            client.quit()
            return 235, reply[0]

        assert await _thread(login, "not the password") == (535, 530)
        assert await _thread(login, PASSWORD) == (235, 250)
        [got] = await upstream.wait_for(1)
    assert sorted(got.recipients) == sorted([ACME, *ACME_BILLING])
    assert b"with ESMTPSA id" in got.data.split(b"\r\n\r\n", 1)[0]


async def test_auth_login_pipelined_without_tls_never_puts_the_password_in_the_log(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file, caplog
):
    # A client that does not wait for 538 sends its credentials anyway; the
    # relay reads them as unknown commands, and the log must not quote them.
    config = relay_config(
        tmp_path, upstream, allow=STRANGERS_ONLY, auth_file=auth_file, tls_cert=tls_files.cert, tls_key=tls_files.key
    )
    user64, password64 = (base64.b64encode(text.encode()) for text in (USER, PASSWORD))
    for logger in ("mail.log", "relay"):
        caplog.set_level(logging.DEBUG, logger=logger)
    async with running(config, sqlite_directory) as relay:

        def pipelined():
            with socket.create_connection(("127.0.0.1", relay.port), timeout=20) as sock:
                reader = sock.makefile("rb")
                reader.readline()
                sock.sendall(b"EHLO client.test\r\n")
                while reader.readline()[3:4] == b"-":
                    pass
                sock.sendall(b"AUTH LOGIN\r\n" + user64 + b"\r\n" + password64 + b"\r\n")
                return [reader.readline() for _ in range(3)]

        def tls_hello_on_the_plain_port():
            # The relay waits for a line that never ends; 3 s of that is as
            # telling as the client's usual 20.
            with socket.create_connection(("127.0.0.1", relay.port), timeout=3) as sock:
                sock.recv(1000)
                with pytest.raises((ssl.SSLError, OSError)):
                    tls_client(tls_files).wrap_socket(sock, server_hostname="localhost")

        replies = await _thread(pipelined)
        await _thread(tls_hello_on_the_plain_port)
    assert replies[0].startswith(b"538 ") and [r[:4] for r in replies[1:]] == [b"500 ", b"500 "]
    text = caplog.text
    assert "unrecognised" in text  # still said, without what was sent
    for secret in (password64.decode(), user64.decode(), PASSWORD):
        for variant in (secret, secret.upper(), secret.lower()):
            assert variant not in text
    assert "\\x16\\x03" not in text and "\x16" not in text  # the TLS ClientHello, as repr or raw


async def test_users_added_to_or_removed_from_the_auth_file_count_without_a_restart(
    sqlite_directory, people, upstream, tmp_path, tls_files, auth_file, caplog
):
    config = relay_config(
        tmp_path, upstream, allow=STRANGERS_ONLY, auth_file=auth_file, tls_cert=tls_files.cert, tls_key=tls_files.key
    )
    new_user, new_password = "shop-app", "another secret 42"
    async with running(config, sqlite_directory) as relay:

        def login(user: str, password: str) -> int:
            with _session(relay.port) as client:
                client.starttls(context=tls_client(tls_files))
                client.ehlo("client.test")
                try:
                    return client.login(user, password)[0]
                except smtplib.SMTPAuthenticationError as exc:
                    return exc.smtp_code

        assert await _thread(login, new_user, new_password) == 535
        set_password(auth_file, new_user, new_password)  # what `contacts-relay passwd` does
        assert await _thread(login, new_user, new_password) == 235
        # An admin deletes the first user's line with an editor.
        lines = auth_file.read_text().splitlines(keepends=True)
        auth_file.write_text("".join(line for line in lines if not line.startswith(f"{USER}:")))
        assert await _thread(login, USER, PASSWORD) == 535
        assert await _thread(login, new_user, new_password) == 235
    assert f"auth file {auth_file} read again: 1 user" in caplog.text


def test_sighup_reads_the_auth_file_again_and_the_relay_keeps_running(tmp_path, tls_files, auth_file):
    open_database(f"sqlite:///{tmp_path / 'contacts.db'}").close()
    process = RelayProcess(
        [
            "--db",
            f"sqlite:///{tmp_path / 'contacts.db'}",
            "--capture",
            "--listen",
            "127.0.0.1:0",
            # Where the failed AUTH attempts are counted: not the user's data directory.
            "--spool",
            str(tmp_path / "spool"),
            "--auth-file",
            str(auth_file),
            "--tls-cert",
            str(tls_files.cert),
            "--tls-key",
            str(tls_files.key),
        ],
    ).start()
    try:
        set_password(auth_file, "second-app", "yet another secret 7")
        process.process.send_signal(signal.SIGHUP)
        poll(lambda: "SIGHUP" in process.output, 10, lambda: process.output)
        assert process.process.poll() is None
        with _session(process.port) as client:
            assert client.noop()[0] == 250
    finally:
        assert process.terminate() == 0
    assert f"SIGHUP: auth file {auth_file} read again: 2 users" in process.output


async def test_an_auth_file_with_a_plain_text_password_is_refused_at_start(tmp_path, tls_files, capsys):
    bad = tmp_path / "users"
    bad.write_text(f"{USER}:{PASSWORD}\n")
    open_database(f"sqlite:///{tmp_path / 'c.db'}").close()
    code, _, err = run_cli(
        capsys,
        "serve",
        "--db",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--capture",
        "--listen",
        "127.0.0.1:0",
        "--auth-file",
        str(bad),
        "--tls-cert",
        str(tls_files.cert),
        "--tls-key",
        str(tls_files.key),
    )
    assert code == 1
    assert "plain-text passwords are not accepted" in err and PASSWORD not in err


# -- limits ------------------------------------------------------------------------


async def test_a_message_over_max_size_gets_552(sqlite_directory, people, upstream, tmp_path):
    config = relay_config(tmp_path, upstream, max_size=10 * 1024)
    big = message(body=(b"x" * 76 + b"\r\n") * 200)
    small = message(body=(b"x" * 76 + b"\r\n") * 100)
    async with running(config, sqlite_directory) as relay:
        announced = await _thread(_mail_with_size, relay.port, len(big))
        unannounced = await send(relay.port, [ACME], big)
        fits = await send(relay.port, [ACME], small)
        await upstream.wait_for(1)
        refused = await wait_until(lambda: len(rows := _refused_rows()) == 2 and rows)
    assert announced == (552, b"5.3.4 Message too big for this relay (limit 10 KiB)")
    assert unannounced == Answer(552, "5.3.4 Message too big for this relay (limit 10 KiB)")
    assert fits.code == 250
    assert len(upstream.messages) == 1
    # Both refusals are in the relay log, with who sent what and why.
    by_reason = {row.reason: row for row in refused}
    assert sorted(by_reason) == [
        f"5.3.4 Message too big for this relay (limit 10 KiB) (announced SIZE={len(big)})",
        "5.3.4 Message too big for this relay (limit 10 KiB) (more than 10240 bytes sent)",
    ]
    assert all(row.sender == SENDER for row in refused)
    assert [row.recipients for row in refused if "more than" in row.reason] == [(ACME,)]


def _refused_rows():
    return [row for row in relay_log.recent_log(20) if row.status == "refused"]


def _mail_with_size(port: int, size: int):
    with _session(port) as client:
        assert client.has_extn("size")
        return client.mail(SENDER, [f"SIZE={size}"])


async def test_too_many_received_headers_get_554_as_a_loop(sqlite_directory, people, upstream, tmp_path, caplog):
    config = relay_config(tmp_path, upstream, max_received=3)
    hops = [
        ("Received", f"from hop{i}.example by hop{i + 1}.example; Mon, 23 Nov 2026 08:00:0{i} +0000") for i in range(4)
    ]
    async with running(config, sqlite_directory) as relay:
        looping = await send(relay.port, [ACME], message(hops))
        three = await send(relay.port, [ACME], message(hops[:3]))
        await upstream.wait_for(1)
        refused = await wait_until(lambda: [r for r in relay_log.recent_log(5) if r.status == "refused"])
    assert looping.code == 554 and "loop" in looping.text
    assert three.code == 250
    assert len(upstream.messages) == 1
    assert "Too many hops (4 Received headers)" in refused[0].reason
    assert (
        f"refused a message from {SENDER} to {ACME} (client 127.0.0.1): 554 5.4.6 Too many hops (4 Received headers)"
        in caplog.text
    )


async def test_more_than_max_recipients_get_452_and_the_rest_go_on(sqlite_directory, people, upstream, tmp_path):
    config = relay_config(tmp_path, upstream, max_recipients=3)
    async with running(config, sqlite_directory) as relay:

        def attempt():
            with _session(relay.port) as client:
                client.mail(SENDER)
                codes = [client.rcpt(r)[0] for r in (ACME, "a@x.example", "b@x.example", "c@x.example")]
                return codes, client.data(message())[0]

        codes, data = await _thread(attempt)
        copies = await upstream.wait_for(2)  # ACME's, and the one of the recipients of no customer
        [refused] = await wait_until(_refused_rows)
    assert codes == [250, 250, 250, 452]
    assert refused.recipients == ("c@x.example",) and refused.sender == SENDER
    assert refused.reason.startswith("4.5.3 Too many recipients (at most 3 per message) (this recipient and any")
    assert data == 250
    # The recipient limit is on what clients send; the contacts come on top.
    assert sorted(r for got in copies for r in got.recipients) == sorted(
        [ACME, "a@x.example", "b@x.example", *ACME_BILLING]
    )


async def test_more_than_max_connections_get_421(sqlite_directory, people, upstream, tmp_path):
    config = relay_config(tmp_path, upstream, max_connections=2)
    async with running(config, sqlite_directory) as relay:
        first, second = await _thread(_session, relay.port), await _thread(_session, relay.port)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            await _thread(smtplib.SMTP, "127.0.0.1", relay.port, timeout=10)
        assert refused.value.smtp_code == 421
        await _thread(first.quit)

        def third_gets_in():
            try:
                client = smtplib.SMTP("127.0.0.1", relay.port, timeout=10)
            except smtplib.SMTPConnectError:
                return None
            client.quit()
            return True

        # The freed slot is taken back when the server has seen the close.
        assert await _poll_in_thread(third_gets_in)
        await _thread(second.quit)


# -- SMTP smuggling ------------------------------------------------------------------


SMUGGLING = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"]


@pytest.mark.parametrize("end", SMUGGLING, ids=["LF.LF", "CRLF.LF", "LF.CRLF", "CR.CRLF"])
async def test_bare_line_ends_never_end_data_and_nothing_is_smuggled(sqlite_directory, people, upstream, tmp_path, end):
    # What an attacker hopes a lenient server reads as: end of data, then a
    # second transaction of their own, ended the same lenient way.
    smuggled = (
        b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@customer.example>\r\nDATA\r\n"
        b"From: ceo@shop.example\r\nSubject: smuggled\r\n\r\npay now" + end + b"QUIT\r\n"
    )
    data = message(body=b"") + b"first line of the real message" + end + smuggled + b"last line\r\n"
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        replies = await _thread(raw_session, relay.port, data)
        # A second, clean message: once it is there, anything smuggled would be too.
        await send(relay.port, [ACME], message(subject="sentinel"))
        await upstream.wait_for(2)
        assert len(upstream.messages) == 2
    codes = [code for code, _ in replies]
    assert codes == [220, 250, 250, 250, 354, 250, 221], replies
    real = next(m for m in upstream.messages if b"first line of the real message" in m.data)
    assert real.sender == SENDER
    assert b"MAIL FROM:<evil@attacker.example>" in real.data and b"last line" in real.data
    # Passed on with CRLF only, so that a laxer server behind us cannot be fooled either.
    assert b"\n" not in real.data.replace(b"\r\n", b"") and b"\r" not in real.data.replace(b"\r\n", b"")
    assert all(m.sender == SENDER and "victim@customer.example" not in m.recipients for m in upstream.messages)


# -- the directory unavailable -------------------------------------------------------


async def test_sqlite_directory_unreadable_gives_451_and_nothing_goes_out_without_contacts(
    sqlite_directory, people, upstream, tmp_path, sqlite_url
):
    import sqlite3

    admin = sqlite3.connect(urlsplit(sqlite_url).path[1:], isolation_level=None)
    async with running(relay_config(tmp_path, upstream), sqlite_directory) as relay:
        admin.execute("ALTER TABLE contact_category RENAME TO contact_category_away")
        try:
            refused = await send(relay.port, [ACME], message(subject="first try"))
            assert relay.scheduler.queued == 0
        finally:
            admin.execute("ALTER TABLE contact_category_away RENAME TO contact_category")
        retried = await send(relay.port, [ACME], message(subject="second try"))
        [got] = await upstream.wait_for(1)
        row = await wait_until(lambda: [r for r in relay_log.recent_log(5) if r.status == "refused"])
    assert refused.code == 451 and "try again" in refused.text
    assert retried.code == 250
    assert parsed(got.data)["Subject"] == "second try"
    assert sorted(cc_of(got.data)) == sorted(ACME_BILLING)
    assert "directory is unavailable" in row[0].reason


@pytest.fixture
def pg_relay_role(pg_database_url):
    """A schema with the seeded directory, and a login role of its own for the relay.

    Yields (admin connection, role name, the relay's URL, the directory as the relay sees it).
    """
    import psycopg2

    schema, role = "s_" + uuid.uuid4().hex[:10], "r_" + uuid.uuid4().hex[:10]
    # A server that asks for passwords (not only trust on loopback) asks the relay's role for one too.
    password = uuid.uuid4().hex
    admin = psycopg2.connect(pg_database_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
    from tests.conftest import _schema_url, pg_url_as

    owner_url = _schema_url(pg_database_url, schema)
    owner = open_database(owner_url)
    seed(Directory(owner, DEFAULT_CATALOG))
    owner.close_all()
    with admin.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}")
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}")
    relay_url = pg_url_as(owner_url, role, password)
    database = open_database(relay_url)
    try:
        yield admin, role, schema, Directory(database, DEFAULT_CATALOG)
    finally:
        database.close_all()
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {role} LOGIN")
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            cursor.execute(f"DROP SCHEMA {schema} CASCADE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
        admin.close()


@pytest.mark.postgres
async def test_postgresql_unreachable_gives_451_until_it_is_back(pg_relay_role, upstream, tmp_path):
    admin, role, _, directory = pg_relay_role
    async with running(relay_config(tmp_path, upstream), directory) as relay:
        assert (await send(relay.port, [ACME], message(subject="before"))).code == 250
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {role} NOLOGIN")
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        during = [await send(relay.port, [ACME], message(subject=f"during {i}")) for i in range(2)]
        # Without a category there is nobody to add: it goes on, and is logged once the database is back.
        plain = await send(relay.port, [ACME], message(subject="no category", category=None))
        await upstream.wait_for(2)
        with admin.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {role} LOGIN")
        after = await send(relay.port, [ACME], message(subject="after"))
        await upstream.wait_for(3)
        row = await logged(plain.queue_id, timeout=20)
    assert [r.code for r in during] == [451, 451]
    assert plain.code == 250 and after.code == 250
    assert row.decision == "unchanged"
    by_subject = {parsed(m.data)["Subject"]: m for m in upstream.messages}
    assert sorted(by_subject) == ["after", "before", "no category"]
    assert sorted(cc_of(by_subject["before"].data)) == sorted(cc_of(by_subject["after"].data)) == sorted(ACME_BILLING)


@pytest.mark.postgres
async def test_postgresql_permission_denied_gives_451_not_a_permanent_error(pg_relay_role, upstream, tmp_path):
    admin, role, schema, directory = pg_relay_role
    async with running(relay_config(tmp_path, upstream), directory) as relay:
        with admin.cursor() as cursor:
            cursor.execute(f"REVOKE SELECT ON {schema}.contact_category FROM {role}")
        refused = await send(relay.port, [ACME], message(subject="refused"))
        with admin.cursor() as cursor:
            cursor.execute(f"GRANT SELECT ON {schema}.contact_category TO {role}")
        accepted = await send(relay.port, [ACME], message(subject="accepted"))
        [got] = await upstream.wait_for(1)
    assert refused.code == 451, refused
    assert "permission denied" not in refused.text  # no database detail to clients
    assert accepted.code == 250 and parsed(got.data)["Subject"] == "accepted"


# -- secrets -------------------------------------------------------------------------


def test_no_password_in_help_or_in_a_verbose_run_with_auth(tmp_path, tls_files, auth_file, make_upstream):
    upstream_secret = "upstream-" + uuid.uuid4().hex
    upstream = make_upstream(tls=tls_files, users={"relay-user": upstream_secret})
    db = f"sqlite:///{tmp_path / 'contacts.db'}"
    seed(Directory(open_database(db), DEFAULT_CATALOG))
    env = {"CONTACTS_DB": db, "RELAY_UPSTREAM_PASSWORD": upstream_secret}

    help_text = subprocess.run(
        [sys.executable, "-m", "relay.cli", "serve", "--help"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "RELAY_UPSTREAM_PASSWORD" in help_text and upstream_secret not in help_text

    process = RelayProcess(
        [
            "-v",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            f"127.0.0.1:{upstream.port}",
            "--upstream-tls",
            "starttls",
            "--upstream-ca-file",
            str(tls_files.cert),
            "--upstream-user",
            "relay-user",
            "--spool",
            str(tmp_path / "spool"),
            "--allow",
            "10.0.0.0/8",
            "--auth-file",
            str(auth_file),
            "--tls-cert",
            str(tls_files.cert),
            "--tls-key",
            str(tls_files.key),
            "--min-backoff",
            "0.1",
            "--max-backoff",
            "0.2",
        ],
        env=env,
    ).start()
    try:
        for password in ("a wrong password 1", PASSWORD):
            with _session(process.port) as client:
                client.starttls(context=tls_client(tls_files))
                client.ehlo("client.test")
                try:
                    client.login(USER, password)
                except smtplib.SMTPAuthenticationError:
                    continue
                client.sendmail(SENDER, [ACME], message())
        [got] = poll(lambda: upstream.messages)
        assert got.auth_login == "relay-user" and got.tls
    finally:
        assert process.terminate() == 0
    output = process.output
    assert "WARNING failed AUTH for user 'billing-app' from 127.0.0.1\n" in output
    assert "WARNING" not in output.replace("WARNING failed AUTH", "")  # nothing else looks like a fault
    secrets = [PASSWORD, "a wrong password 1", upstream_secret]
    encoded = [base64.b64encode(s.encode()).decode() for s in secrets]
    encoded += [base64.b64encode(f"\0{USER}\0{s}".encode()).decode() for s in secrets]
    encoded += [base64.b64encode(f"\0relay-user\0{upstream_secret}".encode()).decode()]
    for secret in secrets + encoded:
        assert secret not in output
    rows = json.dumps([r.as_json() for r in relay_log.recent_log(50)])
    assert upstream_secret not in rows and PASSWORD not in rows


# -- helpers -------------------------------------------------------------------------


async def _thread(function, *args, **kwargs):
    return await asyncio.to_thread(function, *args, **kwargs)


async def _poll_in_thread(function, timeout: float = 10.0):
    return await wait_until(lambda: asyncio.to_thread(function), timeout, interval=0.02)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_loopback_is_allowed_by_default_and_other_networks_are_not(
    sqlite_directory, people, upstream, tmp_path
):
    def attempt(port):
        with smtplib.SMTP("::1", port, timeout=20) as client:
            client.ehlo("client.test")
            return client.mail(SENDER)[0]

    async with running(relay_config(tmp_path, upstream, listen_host="::1"), sqlite_directory) as relay:
        assert await _thread(attempt, relay.port) == 250
    config = relay_config(tmp_path, upstream, listen_host="::1", allow=("127.0.0.0/8", "fd00::/8"))
    async with running(config, sqlite_directory) as relay:
        assert await _thread(attempt, relay.port) == 530
