"""`contacts-tui portal` and `portal-service` as an admin uses them: stopping
and allowing a customer's sign-in, the service's unit, and the errors for
what cannot work. In-process through ``contacts_tui.cli.main``, on SQLite
and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from contacts_tui.cli import main
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import ContactInput, CustomerInput


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def acme(db_url: str):
    database = open_database(db_url)
    directory = Directory(database)
    customer = directory.create_customer(CustomerInput("Acme Ltd", "owner@acme.example"))
    directory.add_contact(customer.id, ContactInput("Bea Bookman", "bea@acme.example"))
    yield directory, customer
    database.close()


def test_disable_then_enable_a_customers_sign_in(capsys, db_url: str, acme) -> None:
    directory, customer = acme
    code, out, _ = run(capsys, "portal", "--db", db_url, "--disable", "OWNER@acme.example")
    assert code == 0 and out == "Acme Ltd <owner@acme.example> can no longer sign in to the portal.\n"
    assert directory.get_customer(customer.id).portal_disabled_at is not None
    (change,) = [c for c in directory.history(customer_id=customer.id) if c.action == "portal disabled"]
    assert change.channel == "cli" and change.who.startswith("admin ")
    code, out, _ = run(capsys, "portal", "--db", db_url, "--enable", "owner@acme.example")
    assert code == 0 and "may sign in to the portal again" in out
    assert directory.get_customer(customer.id).portal_disabled_at is None


def test_unlock_lets_a_customer_that_asked_for_too_many_codes_ask_again(capsys, db_url: str, acme) -> None:
    from contacts_tui.core.directory import lockout
    from contacts_tui.core.models import utcnow

    directory, customer = acme
    code, out, _ = run(capsys, "portal", "--db", db_url, "--unlock", "owner@acme.example")
    assert code == 0 and out == "Acme Ltd <owner@acme.example> is not locked out: it may ask for a sign-in code.\n"
    now = utcnow()
    for _ in range(3):
        assert lockout.take("owner@acme.example", now) is None
    assert directory.portal_locked_until(customer.id) is not None
    code, out, _ = run(capsys, "portal", "--db", db_url, "--unlock", "Owner@ACME.example")
    assert code == 0 and out.startswith("Acme Ltd <owner@acme.example> may ask for a sign-in code now (it had")
    assert directory.portal_locked_until(customer.id) is None
    (change,) = [c for c in directory.history(customer_id=customer.id) if c.action == "portal unlocked"]
    assert change.channel == "cli" and change.who.startswith("admin ")
    code, _, err = run(capsys, "portal", "--db", db_url, "--unlock", "bea@acme.example")
    assert code == 1 and "contact persons never do" in err


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("nobody@acme.example", "no customer has the primary email nobody@acme.example"),
        ("bea@acme.example", "contact persons never do"),
        ("not an address", "not a valid email address"),
    ],
)
def test_an_address_that_is_not_a_customers_is_a_clear_error(capsys, db_url: str, acme, address, words) -> None:
    code, out, err = run(capsys, "portal", "--db", db_url, "--disable", address)
    assert code == 1 and out == "" and words in err


def test_the_service_needs_somewhere_to_mail_its_codes(capsys, db_url: str, acme, monkeypatch, tmp_path) -> None:
    socket = str(tmp_path / "portal.sock")
    code, _, err = run(capsys, "portal-service", "--db", db_url, "--socket", socket)
    assert code == 1 and "--mail-via HOST:PORT" in err
    monkeypatch.setenv("CONTACTS_MAIL_VIA", "relay.example")
    code, _, err = run(capsys, "portal-service", "--db", db_url, "--socket", socket)
    assert code == 1 and "CONTACTS_MAIL_VIA: 'relay.example' is not HOST:PORT" in err


def test_the_portal_mails_nothing_and_opens_no_database_itself(capsys, db_url: str, acme, monkeypatch) -> None:
    monkeypatch.delenv("CONTACTS_PORTAL_SOCKET", raising=False)
    code, _, err = run(capsys, "portal", "--db", db_url)
    assert code == 1 and "give --socket PATH" in err and "portal-service" in err
    # An old forced command is told where its mail option went.
    code, _, err = run(capsys, "portal", "--db", db_url, "--mail-via", "127.0.0.1:9", "--socket", "/nowhere")
    assert code == 1 and "give --mail-via and --mail-from to contacts-tui portal-service" in err


def test_the_web_portal_starts_only_with_a_service_to_ask(capsys, tmp_path) -> None:
    missing = tmp_path / "portal.sock"
    code, _, err = run(capsys, "portal", "--web", "--socket", str(missing), "--listen", "127.0.0.1:9")
    assert code == 1 and f"no portal service answers at {missing}" in err and "start contacts-tui portal-service" in err


def test_the_service_refuses_sockets_it_cannot_tell_apart(capsys, db_url: str, acme, tmp_path) -> None:
    socket = str(tmp_path / "portal.sock")
    mail = ("--mail-via", "127.0.0.1:9")
    code, _, err = run(capsys, "portal-service", "--db", db_url, *mail)
    assert code == 1 and "give --socket PATH" in err
    code, _, err = run(capsys, "portal-service", "--db", db_url, *mail, "--socket", socket, "--web-socket", socket)
    assert code == 1 and "must be two paths" in err
    code, _, err = run(capsys, "portal-service", "--db", db_url, *mail, "--web-socket", socket, "--group", "portal")
    assert code == 1 and "--group is for --socket" in err


def test_the_service_prints_its_systemd_unit_which_verifies(capsys, tmp_path) -> None:
    code, out, _ = run(capsys, "portal-service", "--systemd")
    assert code == 0 and "[Service]" in out and "@CONTACTS_TUI@" not in out
    (start,) = [line for line in out.splitlines() if line.startswith("ExecStart=")]
    assert "portal-service --socket /run/contact-persons-portal/ssh.sock --group portal" in start
    assert "--web-socket /run/contact-persons-portal/web.sock --web-group portal-web" in start
    # The service runs as the owner of the data, the relay's account.
    assert "User=contacts-relay" in out and "ReadWritePaths=/var/lib/contact-persons" in out
    if shutil.which("systemd-analyze") is None:
        return  # Debian: apt-get install systemd
    path = tmp_path / "contacts-portal.service"
    path.write_text(out)
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "contacts-portal.service" in line]
    assert done.returncode == 0 and problems == [], done.stderr


def test_enable_and_disable_stand_alone(capsys, db_url: str, acme) -> None:
    with pytest.raises(SystemExit) as both:
        main(["portal", "--db", db_url, "--disable", "owner@acme.example", "--enable", "owner@acme.example"])
    assert both.value.code == 2
    capsys.readouterr()
    code, _, err = run(capsys, "portal", "--db", db_url, "--web", "--disable", "owner@acme.example")
    assert code == 1 and "without --web" in err


def test_a_mistyped_database_is_an_error_not_a_new_empty_one(capsys, tmp_path) -> None:
    missing = tmp_path / "typo.db"
    for argv in (
        ["portal", "--disable", "owner@acme.example"],
        ["portal-service", "--mail-via", "127.0.0.1:9", "--socket", str(tmp_path / "portal.sock")],
    ):
        code, _, err = run(capsys, argv[0], "--db", str(missing), *argv[1:])
        assert code == 1 and "there is no database" in err, argv
    assert not missing.exists() and not (tmp_path / "portal.sock").exists()


def test_without_a_terminal_the_portal_says_how_to_connect(capsys, db_url: str, acme, monkeypatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    code, _, err = run(capsys, "portal", "--socket", "/run/portal.sock")
    assert code == 1 and "the portal needs a terminal: connect with ssh -t" in err
    assert "admin" not in err


def test_session_limits_are_for_the_web(capsys, db_url: str, acme) -> None:
    code, _, err = run(capsys, "portal", "--socket", "/run/portal.sock", "--max-sessions", "5")
    assert code == 1 and "are for --web" in err
    with pytest.raises(SystemExit) as zero:
        main(["portal", "--db", db_url, "--web", "--max-sessions", "0"])
    assert zero.value.code == 2


def test_the_sender_of_the_code_mails_is_stored_in_the_settings(capsys, db_url: str, acme) -> None:
    code, out, _ = run(capsys, "settings", "--db", db_url)
    assert code == 0 and "Sign-in codes mailed from: portal@" in out and "set one with --mail-from" in out
    code, out, _ = run(capsys, "settings", "--db", db_url, "--mail-from", "Portal@Shop.example")
    assert code == 0 and out.startswith("Sign-in codes are now mailed from Portal@shop.example (was the default")
    code, out, _ = run(capsys, "settings", "--db", db_url)
    assert "Sign-in codes mailed from: Portal@shop.example\n" in out
    code, _, err = run(capsys, "settings", "--db", db_url, "--mail-from", "portal@localhost")
    assert code == 1 and "'portal@localhost' is not a valid email address" in err
    code, out, _ = run(capsys, "settings", "--db", db_url, "--mail-from", "")
    assert code == 0 and "mailed from the default sender (was Portal@shop.example)" in out


def portal_service_output(db_url: str, tmp_path, *options: str) -> str:
    """What `contacts-tui portal-service` says as it starts, until it listens; then it is stopped."""
    import os
    import signal
    import sys
    import time

    command = [sys.executable, "-m", "contacts_tui.cli", "portal-service", "--db", db_url]
    command += ["--socket", str(tmp_path / "ssh.sock"), "--mail-via", "127.0.0.1:9", *options]
    env = {k: v for k, v in os.environ.items() if k != "CONTACTS_MAIL_FROM"}
    service = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    said = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = service.stderr.readline()
            if not line:
                break
            said.append(line)
            if "listening on" in line:
                break
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(30)
    return "".join(said)


def test_the_service_warns_of_a_sender_only_this_machine_knows(capsys, db_url: str, acme, tmp_path) -> None:
    said = portal_service_output(db_url, tmp_path, "--mail-from", "portal@shop.localdomain")
    assert "listening on" in said
    assert "warning: the sign-in codes are mailed from portal@shop.localdomain, a name only this machine knows" in said
    # A sender the settings store, with none given to the service: taken, and no warning.
    run(capsys, "settings", "--db", db_url, "--mail-from", "portal@shop.example")
    said = portal_service_output(db_url, tmp_path)
    assert "listening on" in said and "warning" not in said
