"""The portal over SSH as the README sets it up: the data owned by one
account with the portal service running as it, a `portal` account that can
reach the service's socket and not the database, a real sshd on a loopback
port whose Match block forces `contacts-tui portal --socket` on that
account, a real ssh client in a terminal (tmux), the code from a real
capture relay. The customer signs in and manages its contact persons; a
command asked for instead of the portal runs nothing else; a dropped
connection leaves no portal running; and the markup exploit of a name that
runs the screenshot action cannot touch the database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.core.records import CustomerInput

from ...accounts import Separated, needs_accounts, separated_portal
from ...portal_service import mailed_codes
from ...processes import peak_memory
from ...waiting import poll
from ..helpers import TERMINAL_DEADLINE, Terminal, needs_tmux
from ..pty_session import PtySession

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
needs_ssh = pytest.mark.skipif(
    SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None or os.geteuid() != 0,
    reason="needs sshd, ssh and ssh-keygen (openssh-server, openssh-client) and root to run sshd",
)
OWNER = "accounts@acme-trading.example"
pytestmark = pytest.mark.slow  # a real sshd and ssh client in tmux


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def separated() -> Iterator[Separated]:
    with separated_portal() as setup:
        yield setup


@pytest.fixture
def sshd(separated: Separated) -> dict:
    """sshd on a free loopback port, forcing the portal on the portal's account as the README's Match block does."""
    folder = separated.folder / "ssh"
    folder.mkdir(mode=0o755)  # sshd reads authorized_keys as the account that signs in
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client.pub").read_text())
    port = free_port()
    command = " ".join(separated.command("portal", "--socket", str(separated.sockets["ssh"])))
    account = separated.portal.pw_name
    (folder / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {folder / "host"}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {folder / "authorized_keys"}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Match User {account}
    ForceCommand {command}
    PermitTTY yes
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    X11Forwarding no
    AllowAgentForwarding no
    PermitTunnel no
    GatewayPorts no
    PermitUserRC no
""")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    log = (folder / "sshd.log").open("wb")
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")], stdout=log, stderr=log)

    def listening() -> bool:
        if server.poll() is not None:
            raise AssertionError((folder / "sshd.log").read_text())
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        poll(listening, TERMINAL_DEADLINE)
        client = [
            "ssh",
            "-i",
            str(folder / "client"),
            "-p",
            str(port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            f"UserKnownHostsFile={folder / 'known_hosts'}",
            "-o",
            "LogLevel=ERROR",
            f"{account}@127.0.0.1",
        ]
        yield {"client": client, "socket": str(separated.sockets["ssh"])}
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def portals(path: str) -> list[str]:
    """Portal processes of this test's socket still running, with their account."""
    found = subprocess.run(
        ["ps", "-ww", "-eo", "pid,user:32,args"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return [line for line in found if " portal " in line and path in line and "sshd" not in line]


def click(terminal: Terminal, text: str, line_with: str) -> None:
    """Click ``text`` where the screen shows it on the line holding ``line_with``,
    as a mouse does: the SGR bytes a terminal sends, through ssh to the portal."""
    screen = terminal.screen().splitlines()
    row = next(number for number, line in enumerate(screen) if line_with in line)
    column = screen[row].index(text, screen[row].index(line_with)) + 1
    for end in ("M", "m"):  # press, release
        sequence = f"\x1b[<0;{column + 1};{row + 1}{end}".encode()
        terminal.keys("-H", *(f"{byte:02x}" for byte in sequence))


def gone(terminal: Terminal, text: str) -> None:
    poll(lambda: text not in terminal.screen(), TERMINAL_DEADLINE, terminal.screen)


def add_contact(terminal: Terminal, directory: Directory, customer_id: int, name: str, email: str) -> None:
    """Add a contact person in the portal's form, and wait until the database has it."""
    terminal.keys("a")
    terminal.wait_for("Receives copies of")
    terminal.type(name)
    terminal.keys("Tab")
    terminal.type(email)
    terminal.keys("C-s")
    poll(lambda: email in [c.email for c in directory.list_contacts(customer_id)], TERMINAL_DEADLINE)
    gone(terminal, "Receives copies of")


@needs_accounts
@needs_ssh
@needs_tmux
def test_a_customer_signs_in_and_manages_contacts_as_an_account_that_cannot_read_the_database(
    sshd: dict, separated: Separated
) -> None:
    directory = separated.directory
    acme = directory.create_customer(CustomerInput("Acme Trading Ltd", OWNER))
    # The portal's account can reach the service's socket, and nothing of the data.
    denied = separated.as_portal("-c", f"open({str(separated.database)!r}, 'rb')")
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    terminal = Terminal(sshd["client"], {"TERM": "xterm-256color"})
    try:
        terminal.wait_for("Send code (enter)")
        terminal.type(OWNER)
        terminal.keys("Enter")
        terminal.type(poll(lambda: mailed_codes(OWNER) and mailed_codes(OWNER)[0], TERMINAL_DEADLINE))
        terminal.keys("Enter")
        terminal.wait_for("your sign-in, gets every notification")
        assert directory.get_customer(acme.id).last_sign_in_channel == "ssh"
        running = portals(sshd["socket"])  # sshd's shell for the forced command, and the portal
        assert running and all(line.split()[1] == separated.portal.pw_name for line in running), running
        # Another process of the same account (a session a customer took over) cannot read this one's token.
        (pid,) = [line.split()[0] for line in running if line.split()[2] == separated.python]
        peek = separated.as_portal("-c", f"open('/proc/{pid}/mem', 'rb')")
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, peek

        add_contact(terminal, directory, acme.id, "Bea Bookman", "bea@acme-trading.example")
        terminal.keys("1")  # billing on
        (bea,) = poll(lambda: [c for c in directory.list_contacts(acme.id) if c.categories == ("billing",)], 15)
        assert bea.email == "bea@acme-trading.example"
        changes = [c for c in directory.history(customer_id=acme.id) if c.contact_id == bea.id]
        assert {(c.who, c.channel) for c in changes} == {(OWNER, "ssh")}
        assert [c.action for c in reversed(changes)] == ["contact added", "categories changed"]

        print("the markup click:", replay_the_markup_click(terminal, separated, acme.id))
        assert "bea@acme-trading.example" in [c.email for c in directory.list_contacts(acme.id)]
    finally:
        terminal.close()  # the connection drops: tmux hangs up on the ssh client
    poll(lambda: not portals(sshd["socket"]), TERMINAL_DEADLINE, lambda: portals(sshd["socket"]))


def one_hit(terminal: Terminal) -> str | None:
    """The screen once the palette has every letter of "restore" and its list
    is down to that one hit (the list is redrawn after the search)."""
    text = terminal.screen()
    return text if "🔎 restore" in text and "Not now:" in text and "Key: a" not in text else None


def replay_the_markup_click(terminal: Terminal, separated: Separated, customer_id: int) -> str:
    """A name that is markup running the screenshot action (the security
    review's exploit), clicked in the palette's help line: once aimed at a
    folder the portal's account may write (the canary, which shows whether the
    markup runs at all), then at the database. The database stays whole
    either way: the portal's account cannot write there."""
    canary = separated.folder / "canary"
    canary.mkdir()
    os.chown(canary, separated.portal.pw_uid, separated.portal.pw_gid)
    before = sorted(path.name for path in separated.data.iterdir())
    database = separated.database.read_bytes()[:16]
    for name, target, email in (
        ("Cat", f"'canary.svg','{canary}'", "cat@acme-trading.example"),
        ("Eve", f"'{separated.database.name}','{separated.data}'", "eve@acme-trading.example"),
    ):
        add_contact(terminal, separated.directory, customer_id, f"[@click=app.screenshot({target})]{name}[/]", email)
        terminal.keys("C-p")
        terminal.wait_for("Search for commands")
        terminal.type("restore")
        screen = poll(lambda: one_hit(terminal), TERMINAL_DEADLINE, terminal.screen)
        lines = screen.splitlines()
        (row,) = [number for number, line in enumerate(lines) if "Not now:" in line]
        # Shown as typed, the name is one long word: it may wrap to the next line.
        line = " ".join(part.strip(" ▊▎│") for part in lines[row : row + 2])
        if "[@click=" in line:
            outcome = f"shown as typed, nothing to click: {line.strip()}"
            terminal.keys("Escape")
            break
        click(terminal, name, "Not now:")
        if name == "Cat":
            terminal.wait_for("Saved screenshot")
            assert (canary / "canary.svg").exists()  # the markup ran, as the security review found
        else:
            terminal.wait_for("Failed to save screenshot")  # not the portal's account's to write
            outcome = "the markup ran: the canary was written, the database's folder refused the portal's account"
        if "Search for commands" in terminal.screen():
            terminal.keys("Escape")
        gone(terminal, "Search for commands")
    assert sorted(path.name for path in separated.data.iterdir()) == before
    assert separated.database.read_bytes()[:16] == database == b"SQLite format 3\x00"
    return outcome


@needs_accounts
@needs_ssh
@needs_tmux
def test_a_dutch_customer_signs_in_over_ssh_and_sees_the_portal_in_dutch(sshd: dict, separated: Separated) -> None:
    directory = separated.directory
    owner = "info@bakkerij-devries.example"
    devries = directory.create_customer(CustomerInput("Bakkerij de Vries", owner))
    directory.set_language(devries.id, "nl")
    terminal = Terminal(sshd["client"], {"TERM": "xterm-256color"})
    try:
        terminal.wait_for("Send code (enter)")  # the ssh client sent no LANG: English until the customer is known
        terminal.type(owner)
        terminal.keys("Enter")
        # The same answer for every address, so in the terminal's language: the code mail is in Dutch.
        terminal.wait_for("If this address belongs to a customer")
        terminal.type(poll(lambda: mailed_codes(owner) and mailed_codes(owner)[0], TERMINAL_DEADLINE))
        (record,) = [r for r in relay_log.captured_messages(20) if owner in r.recipients]
        mail = relay_log.captured_message(record.id)[2]
        assert record.subject == "Uw inlogcode voor het portaal contactpersonen"
        assert b"Content-Language: nl" in mail and b"Uw inlogcode: " in mail, mail
        terminal.keys("Enter")
        terminal.wait_for("uw inlogadres, krijgt elke melding")
        screen = terminal.screen()
        assert "Uw contactpersonen" in screen and "Nog geen contactpersonen" in screen, screen
        assert directory.get_customer(devries.id).last_sign_in_channel == "ssh"
    finally:
        terminal.close()
    poll(lambda: not portals(sshd["socket"]), TERMINAL_DEADLINE, lambda: portals(sshd["socket"]))


@needs_accounts
@needs_ssh
def test_a_command_asked_for_runs_the_portal_instead(sshd: dict) -> None:
    done = subprocess.run(
        [*sshd["client"], "cat /etc/passwd; echo shell"],
        check=False,
        capture_output=True,
        text=True,
        timeout=TERMINAL_DEADLINE,
        stdin=subprocess.DEVNULL,
    )
    assert "root:" not in done.stdout and "shell" not in done.stdout
    assert "the portal needs a terminal" in done.stderr
    # No forwarding either: a port opened on the server for the client is refused.
    tunnel = subprocess.run(
        [*sshd["client"], "-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"],
        check=False,
        capture_output=True,
        text=True,
        timeout=TERMINAL_DEADLINE,
        stdin=subprocess.DEVNULL,
    )
    assert tunnel.returncode != 0 and "forwarding failed" in tunnel.stderr.lower()


@needs_accounts
@needs_ssh
def test_an_ssh_client_with_a_30000_by_30000_terminal_keeps_the_portal_under_300_mb(sshd: dict) -> None:
    # ssh asks sshd for a pty of its own terminal's size: this one's.
    session = PtySession([*sshd["client"], "-tt"], 30000, 30000)

    def peak() -> int:
        return max((peak_memory(int(line.split()[0])) for line in portals(sshd["socket"])), default=0)

    def bounded() -> None:
        assert peak() < 300 * 2**20, f"the portal took {peak() / 2**20:.0f} MB"

    try:
        session.read_until("Send code (enter)", TERMINAL_DEADLINE, watch=bounded)
        most = peak()
        print(f"portal over SSH at 30000x30000: peak {most / 2**20:.0f} MB")
        assert 0 < most < 300 * 2**20
    finally:
        session.close()
    poll(lambda: not portals(sshd["socket"]), TERMINAL_DEADLINE, lambda: portals(sshd["socket"]))
