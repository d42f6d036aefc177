"""`contacts-relay serve --capture --http`: safe by default, users from an auth
file, and every worker serving the one inbox."""

from __future__ import annotations

import base64
import json
import re
import smtplib
import socket
import time
import urllib.error
import urllib.request

import bcrypt
import pytest

from contacts_tui.core.db import open_database
from relay.server.access import set_password

from ...waiting import poll
from ..cli.test_serve import run_serve
from ..helpers import ACME, SENDER, RelayProcess, seed
from .conftest import invoice


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--upstream", "mx.example:25", "--http", "127.0.0.1:0"),
            "--http serves the captured messages of a capture relay",
        ),
        (("--capture", "--http", "0.0.0.0:8025"), "--http 0.0.0.0:8025 lets others on the network read and delete"),
        (("--capture", "--http", "192.0.2.7:8025"), "give --http-auth FILE"),
        (("--capture", "--http", "127.0.0.1:0", "--http-auth", "users", "--http-no-auth"), "not both"),
        (
            ("--capture", "--http", "0.0.0.0:0", "--http-auth", "nothing-here"),
            "--http-auth: auth file nothing-here cannot be read",
        ),
        (("--capture", "--http", "8025"), "--http '8025' must be HOST:PORT"),
    ],
    ids=["delivering-relay", "everywhere-without-auth", "lan-without-auth", "auth-and-no-auth", "no-file", "no-host"],
)
def test_the_inbox_is_refused_where_it_would_be_unsafe(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_serve(capsys, tmp_path, "--listen", "127.0.0.1:0", *args)
    assert code == 1 and err.startswith("contacts-relay: error: ") and message in err, err


def test_an_auth_file_with_an_old_hash_is_refused(capsys, tmp_path):
    users = tmp_path / "users"
    users.write_text("tester:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    code, _, err = run_serve(
        capsys, tmp_path, "--capture", "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0", "--http-auth", str(users)
    )
    assert code == 1 and "nor older hashes" in err and "htpasswd -B" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, user: str | None = None, password: str = ""):
    request = urllib.request.Request(url)
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_two_workers_serve_one_inbox_to_users_of_scrypt_and_bcrypt_hashes(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    from contacts_tui.core.directory.service import Directory

    seed(Directory(database))
    database.close()
    users = tmp_path / "users"
    set_password(users, "tester", "correct horse battery 9")
    with users.open("a") as file:  # as `htpasswd -B` writes a line
        file.write("ci:" + bcrypt.hashpw(b"ci password 42", bcrypt.gensalt(5)).decode().replace("$2b$", "$2y$") + "\n")
    port = free_port()
    relay = RelayProcess(
        [
            "--db",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--capture",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--http",
            f"0.0.0.0:{port}",
            "--http-auth",
            str(users),
        ]
    ).start()
    try:
        poll(lambda: "web inbox on http://0.0.0.0:" in relay.output, 20, lambda: relay.output)
        base = f"http://127.0.0.1:{port}"
        assert get(base + "/api/v1/info")[0] == 401
        started = time.monotonic()
        assert get(base + "/api/v1/info", "tester", "wrong")[0] == 401
        assert time.monotonic() - started >= 0.9  # a wrong password is answered late
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=20) as client:
            client.sendmail(SENDER, [ACME], invoice())
        # Both workers answer on the one port: ask until each has had turns, with either user.
        for number in range(12):
            user, password = (("tester", "correct horse battery 9"), ("ci", "ci password 42"))[number % 2]
            status, body = get(base + "/api/v1/messages", user, password)
            assert status == 200, body
            assert json.loads(body)["total"] == 1
        status, body = get(base + "/api/v1/info", "ci", "ci password 42")
        assert json.loads(body)["Messages"] == 1
    finally:
        assert relay.terminate() == 0
    assert re.search(r"users from .*users", relay.output)
