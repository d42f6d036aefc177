"""`contacts-relay serve` options and errors, and `contacts-relay passwd`."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from contacts_tui.core.db import open_database
from relay.server.access import AuthFile, verify_password

from ...waiting import poll
from ..helpers import ROOT, RelayProcess, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_serve_table() -> str:
    section = README.split("### Options of `contacts-relay serve`", 1)[1]
    return section.split("\n#", 1)[0]


def test_serve_help_explains_every_option_and_variable_of_the_readme_table(capsys):
    code, help_text, _ = run_cli(capsys, "serve", "--help")
    assert code == 0
    table = _readme_serve_table()
    options = sorted(set(re.findall(r"--[a-z][a-z-]+", table)))
    variables = sorted(set(re.findall(r"RELAY_[A-Z_]+", table)))
    assert len(options) >= 20 and len(variables) >= 15
    flat = " ".join(help_text.split())
    assert [o for o in options if o not in flat] == []
    assert [v for v in variables if v not in flat] == []
    # Every numeric option names its variable, not only those the README spells out.
    for option in (
        "--max-received",
        "--max-recipients",
        "--max-connections",
        "--upstream-connections",
        "--min-backoff",
        "--max-backoff",
        "--max-lifetime",
    ):
        variable = "RELAY_" + option[2:].upper().replace("-", "_")
        assert variable in flat, variable


def test_serve_help_says_what_allow_replaces_and_where_the_database_comes_from(capsys):
    code, help_text, _ = run_cli(capsys, "serve", "--help")
    flat = " ".join(help_text.split())
    assert code == 0
    # An operator adding their LAN with --allow would otherwise lock out the local billing app.
    assert "Replaces the default; add 127.0.0.0/8 to keep loopback" in flat
    assert "--db URL or CONTACTS_DB" in flat
    assert "SIGHUP reads the --auth-file again" in flat


def run_serve(capsys, tmp_path, *args):
    open_database(f"sqlite:///{tmp_path / 'c.db'}").close()
    return run_cli(capsys, "serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--spool", str(tmp_path / "spool"), *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --upstream HOST:PORT (where to send mail) or --capture (store it for inspection)"),
        (("--capture", "--listen", "localhost"), "--listen 'localhost' must be HOST:PORT with a port from 0 to 65535"),
        (("--capture", "--listen", "127.0.0.1:99999"), "must be HOST:PORT with a port from 0 to 65535"),
        (("--upstream", ":25"), "--upstream ':25' has no host"),
        (("--capture", "--auth-file", "users"), "--auth-file needs --tls-cert/--tls-key: passwords are only accepted"),
        (("--capture", "--tls-cert", "cert.pem"), "--tls-cert and --tls-key go together"),
        (("--capture", "--allow", "loopback"), "--allow 'loopback' is not a network (CIDR like 192.0.2.0/24)"),
        (("--capture", "--max-recipients", "0"), "--max-recipients must be at least 1"),
        (("--upstream", "mx:25", "--min-backoff", "500", "--max-backoff", "100"), "--min-backoff <= --max-backoff"),
        (("--upstream", "mx:25", "--upstream-password-file", "nothing-here"), "--upstream-password-file nothing-here"),
        (("--upstream", "mx:25", "--upstream-rate", "fast"), "--upstream-rate 'fast' is not a rate like 14/s"),
        (("--upstream", "mx:25", "--upstream-rate", "0/s"), "is not a rate like 14/s, 600/min or 10000/h"),
        (("--upstream", "mx:25,backup:25", "--upstream", "mx:25"), "--upstream mx:25 is given twice"),
        (("--upstream", "mx:25", "--queue-age-alert", "0"), "--queue-age-alert must be more than 0 seconds"),
        (("--upstream", "mx:25", "--failure-alert", "0"), "--failure-alert must be at least 1"),
    ],
    ids=[
        "no-target",
        "no-port",
        "bad-port",
        "no-host",
        "auth-without-tls",
        "cert-without-key",
        "bad-cidr",
        "zero-recipients",
        "backoffs",
        "password-file",
        "rate-word",
        "rate-zero",
        "upstream-twice",
        "age-alert-zero",
        "failure-alert-zero",
    ],
)
def test_configuration_errors_exit_1_with_a_sentence(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_serve(capsys, tmp_path, *args)
    assert code == 1
    assert err.startswith("contacts-relay: error: ") and message in err
    assert "Traceback" not in err


def test_upstream_and_capture_from_option_and_environment_are_refused_together(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RELAY_UPSTREAM", "mail.example:25")
    code, _, err = run_serve(capsys, tmp_path, "--capture", "--listen", "127.0.0.1:0")
    assert code == 1 and "not both" in err


def test_a_bad_number_in_the_environment_names_the_variable(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RELAY_MAX_SIZE", "lots")
    code, _, err = run_serve(capsys, tmp_path, "--capture")
    assert code == 2
    assert "'lots' is not a number (from the option or RELAY_MAX_SIZE)" in err
    # Other commands do not care about serve's variables.
    open_database(f"sqlite:///{tmp_path / 'c.db'}").close()
    assert run_cli(capsys, "log", "--db", f"sqlite:///{tmp_path / 'c.db'}")[0] == 0


def test_a_port_in_use_is_reported_and_exits_1(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_serve(capsys, tmp_path, "--capture", "--listen", f"127.0.0.1:{port}")
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err


# -- passwd ------------------------------------------------------------------------


def test_passwd_reads_the_password_from_stdin_and_stores_only_a_hash_mode_0600(capsys, tmp_path):
    path = tmp_path / "users"
    code, out, err = run_cli(capsys, "passwd", "billing-app", "--auth-file", str(path), stdin="s3cret-enough\n")
    assert code == 0, err
    assert out == f"Saved billing-app in {path} (scrypt hash, mode 0600).\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "s3cret-enough" not in text
    assert re.fullmatch(r"billing-app:scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n", text)
    users = AuthFile.load(path)
    assert users.check("billing-app", "s3cret-enough") and not users.check("billing-app", "s3cret-enougH")

    # A second user is added; changing the first keeps the second.
    run_cli(capsys, "passwd", "shop", "--auth-file", str(path), stdin="another-one\n")
    run_cli(capsys, "passwd", "billing-app", "--auth-file", str(path), stdin="a-new-password\n")
    users = AuthFile.load(path)
    assert sorted(users.users) == ["billing-app", "shop"]
    assert verify_password("a-new-password", users.users["billing-app"])
    assert verify_password("another-one", users.users["shop"])


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [("app", "short\n", "at least 8 characters"), ("a:b", "long-enough\n", "may not be empty or contain ':'")],
)
def test_passwd_refuses_short_passwords_and_bad_names(capsys, tmp_path, user, password, message):
    path = tmp_path / "users"
    code, _, err = run_cli(capsys, "passwd", user, "--auth-file", str(path), stdin=password)
    assert code == 1 and message in err
    assert not path.exists()


def test_the_console_script_runs_passwd_and_the_relay_accepts_the_file(tmp_path):
    script = Path(sys.executable).with_name("contacts-relay")
    if not script.exists():
        pytest.skip("the contacts-relay console script is not installed in this environment")
    path = tmp_path / "users"
    result = subprocess.run(
        [str(script), "passwd", "ops", "--auth-file", str(path)],
        input="from-the-console\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Saved ops" in result.stdout
    assert AuthFile.load(path).check("ops", "from-the-console")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    for command in ("serve", "preview", "log", "queue", "messages", "passwd"):
        assert command in result.stdout


def test_serve_refuses_a_database_that_is_not_there(capsys, tmp_path):
    # A new empty directory would pass every notification on without its contacts.
    typo = tmp_path / "contcts.db"
    code, _, err = run_cli(capsys, "serve", "--db", f"sqlite:///{typo}", "--capture", "--listen", "127.0.0.1:0")
    assert code == 1
    assert f"there is no database at {typo}" in err and not typo.exists()


@pytest.mark.parametrize(
    "name, warned", [("localhost", True), ("relay.localdomain", True), ("relay.example.com", False)]
)
def test_a_name_that_upstreams_refuse_is_warned_about_at_start(tmp_path, name, warned):
    open_database(f"sqlite:///{tmp_path / 'c.db'}").close()
    process = RelayProcess(
        [
            "--db",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--spool",
            str(tmp_path / "spool"),
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--hostname",
            name,
        ]
    ).start()
    try:
        poll(lambda: "contacts-relay: warning:" in process.output or not warned, 10, lambda: process.output)
    finally:
        assert process.terminate() == 0
    assert (f"names itself {name!r} to the upstream" in process.output) is warned
