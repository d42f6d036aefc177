"""`contacts-relay chaos`, `check`, `service --systemd` and `messages wait|delete`: for testers and operators."""

from __future__ import annotations

import asyncio
import json
import smtplib
import subprocess
import sys

import pytest

from contacts_tui.core.mail import relay_log

from ...waiting import wait_until
from ..helpers import ACME, ROOT, SENDER, log_json, message, relay_config, run_cli, running

pytestmark = pytest.mark.usefixtures("people")


def relay_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "relay.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def send(port: int, data: bytes) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        try:
            client.sendmail(SENDER, [ACME], data)
        except smtplib.SMTPResponseException as error:
            return error.smtp_code, error.smtp_error.decode()
        except smtplib.SMTPRecipientsRefused as error:
            code, text = error.recipients[ACME]
            return code, text.decode()
        except smtplib.SMTPSenderRefused as error:
            return error.smtp_code, error.smtp_error.decode()
    return 250, ""


async def test_a_chaos_rule_gives_exactly_its_reply_and_the_log_says_chaos(
    sqlite_directory, sqlite_url, tmp_path, capsys
):
    code, out, _ = run_cli(
        capsys,
        "chaos",
        "set",
        "--stage",
        "data",
        "--reply",
        "451 4.3.0 Try again later",
        "--category",
        "billing",
        "--db",
        sqlite_url,
    )
    assert code == 0 and out.startswith("Chaos rule 1: 451 4.3.0 Try again later (at DATA, category billing)")
    run_cli(
        capsys,
        "chaos",
        "set",
        "--stage",
        "rcpt",
        "--reply",
        "550 5.1.1 No such user",
        "--recipient",
        "nobody@*",
        "--db",
        sqlite_url,
    )
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        # invoice.created is a billing email: the rule's category takes it too.
        refused = await asyncio.to_thread(send, relay.port, message(category="invoice.created"))
        passed = await asyncio.to_thread(send, relay.port, message(category="order.confirmed"))
        code, out, _ = run_cli(capsys, "chaos", "clear", "1", "--db", sqlite_url)
        await wait_until(lambda: len(relay.handler.chaos) == 1)
        again = await asyncio.to_thread(send, relay.port, message(category="invoice.created"))
    assert refused == (451, "4.3.0 Try again later")
    assert passed[0] == 250 and again[0] == 250
    entries = log_json(capsys, sqlite_url)
    chaos_entry = next(e for e in entries if e["status"] == "refused")
    assert chaos_entry["reason"].startswith("4.3.0 Try again later (chaos rule 1: ")
    code, out, _ = run_cli(capsys, "chaos", "list", "--db", sqlite_url)
    assert out == "   2  550 5.1.1 No such user (at RCPT, to nobody@*)\n"


@pytest.mark.slow  # a thousand messages through a capture relay
async def test_a_rule_at_half_the_mail_refuses_about_half(sqlite_directory, sqlite_url, tmp_path, capsys):
    run_cli(capsys, "chaos", "set", "--reply", "451 4.3.0 Not now", "--probability", "0.5", "--db", sqlite_url)
    async with running(relay_config(tmp_path, capture_retention=5000), sqlite_directory) as relay:

        def many() -> list[int]:
            codes = []
            with smtplib.SMTP("127.0.0.1", relay.port, timeout=20) as client:
                client.ehlo("chaos.test")
                for n in range(1000):
                    client.mail(SENDER)
                    client.rcpt(ACME)
                    codes.append(client.data(message(subject=f"n{n}"))[0])
            return codes

        codes = await asyncio.to_thread(many)
    refused = codes.count(451)
    assert codes.count(250) + refused == 1000
    # Binomial(1000, 0.5): outside 400-600 happens once in about 10^10 runs.
    assert 400 <= refused <= 600


def test_chaos_rules_are_checked(sqlite_directory, sqlite_url, capsys):
    code, _, err = run_cli(
        capsys, "chaos", "set", "--stage", "mail", "--reply", "250 fine", "--category", "billing", "--db", sqlite_url
    )
    assert code == 1
    assert "is not an SMTP error reply" in err and "at MAIL the recipients and the category are not known" in err


def test_serve_takes_its_chaos_rules_from_a_file(sqlite_directory, sqlite_url, tmp_path, capsys):
    rules = tmp_path / "chaos.toml"
    rules.write_text('[[rule]]\nstage = "mail"\nreply = "421 4.7.0 Closing"\nsender = "*@shop.example"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nstage = "later"\nreply = "451 x"\n')
    done = relay_cli("--db", sqlite_url, "serve", "--capture", "--chaos", str(bad))
    assert done.returncode == 1 and "rule 1: 'later' is not a stage" in done.stderr
    from relay.app import RelayThread
    from relay.config import RelayConfig  # noqa: F401

    relay = RelayThread(relay_config(tmp_path, chaos=rules), sqlite_directory).start()
    try:
        assert send(relay.port, message()) == (421, "4.7.0 Closing")
    finally:
        relay.stop()


async def test_messages_wait_returns_when_the_message_arrives_and_fails_on_timeout(
    sqlite_directory, sqlite_url, tmp_path
):
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        # Captured before the command starts: --new must not take it.
        assert await asyncio.to_thread(send, relay.port, message(subject="Invoice INV-77 (before)")) == (250, "")
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relay.cli",
                "messages",
                "wait",
                "--search",
                "INV-77",
                "--new",
                "--json",
                "--timeout",
                "60",
                "--db",
                sqlite_url,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Nobody can tell from outside when the command has looked for the
        # first time, so new messages keep coming until it answers; the
        # first after its start is the one it must print.
        sent: list[str] = []

        async def keep_sending() -> None:
            while True:
                await asyncio.to_thread(send, relay.port, message(subject="other"))
                subject = f"Invoice INV-77 #{len(sent) + 1}"
                sent.append(subject)
                await asyncio.to_thread(send, relay.port, message(subject=subject))
                try:
                    await asyncio.to_thread(waiting.wait, 0.5)  # answered: it is done
                    return
                except subprocess.TimeoutExpired:
                    continue

        sender = asyncio.create_task(keep_sending())
        out, err = await asyncio.to_thread(waiting.communicate, timeout=90)
        await sender
    assert waiting.returncode == 0, err
    assert json.loads(out)["subject"] in sent
    late = relay_cli("messages", "wait", "--search", "never", "--timeout", "1", "--db", sqlite_url)
    assert late.returncode == 1 and "No message mentioning 'never' was captured within 1 s" in late.stderr


async def test_messages_delete_removes_one(sqlite_directory, sqlite_url, tmp_path, capsys):
    async with running(relay_config(tmp_path), sqlite_directory) as relay:
        for subject in ("first", "second"):
            await asyncio.to_thread(send, relay.port, message(subject=subject))
    code, out, _ = run_cli(capsys, "messages", "delete", "1", "--db", sqlite_url)
    assert (code, out) == (0, "Deleted captured message 1.\n")
    assert [r.subject for r in relay_log.captured_messages(10)] == ["second"]
    code, _, err = run_cli(capsys, "messages", "delete", "1", "--db", sqlite_url)
    assert code == 1 and "there is no captured message 1" in err


def test_check_says_what_is_wrong_and_exits_1(sqlite_directory, sqlite_url, tmp_path, upstream):
    ok = relay_cli(
        "--db",
        sqlite_url,
        "check",
        "--upstream",
        f"127.0.0.1:{upstream.port}",
        "--upstream-tls",
        "none",
        "--spool",
        str(tmp_path / "spool"),
        "--listen",
        "127.0.0.1:0",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [line.split()[-1] for line in ok.stdout.splitlines()] == ["ok"] * 6
    upstream.stop()
    down = relay_cli(
        "--db",
        str(tmp_path / "missing.db"),
        "check",
        "--upstream",
        f"127.0.0.1:{upstream.port}",
        "--spool",
        str(tmp_path / "spool"),
        "--listen",
        "127.0.0.1:0",
    )
    assert down.returncode == 1
    assert "there is no database at" in down.stdout and "Connection refused" in down.stdout
