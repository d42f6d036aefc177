"""The portal over SSH as the README sets it up: a real sshd on a loopback
port whose Match block forces `contacts-tui portal`, a real ssh client in a
terminal (tmux), the code from a real capture relay. The customer signs in;
a command asked for instead of the portal runs nothing else; a dropped
connection leaves no portal running."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from contacts_tui.core.directory.service import Directory
from contacts_tui.core.mail import relay_log
from contacts_tui.core.records import CustomerInput

from ..waiting import poll
from .helpers import TERMINAL_DEADLINE, Terminal, needs_tmux, program

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
needs_ssh = pytest.mark.skipif(
    SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None or os.geteuid() != 0,
    reason="needs sshd, ssh and ssh-keygen (openssh-server, openssh-client) and root to run sshd",
)
OWNER = "accounts@acme-trading.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sshd(tmp_path: Path, sqlite_url: str, sqlite_directory: Directory, capture_relay) -> dict:
    """sshd on a free loopback port, forcing the portal on this user as the README's Match block does."""
    folder = tmp_path / "ssh"
    folder.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    (folder / "authorized_keys").write_text((folder / "client.pub").read_text())
    port = free_port()
    command = " ".join([*program(), "portal", "--db", sqlite_url, "--mail-via", f"127.0.0.1:{capture_relay.port}"])
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
Match User {getpass.getuser()}
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
            f"{getpass.getuser()}@127.0.0.1",
        ]
        yield {"client": client, "db": sqlite_url}
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def portals(db: str) -> list[str]:
    """Portal processes of this test's database still running."""
    found = subprocess.run(
        ["ps", "-ww", "-eo", "pid,args"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return [line for line in found if " portal " in line and db in line and "sshd" not in line]


@needs_ssh
@needs_tmux
def test_a_customer_signs_in_over_ssh_and_a_dropped_connection_ends_the_portal(
    sshd: dict, sqlite_directory: Directory
) -> None:
    acme = sqlite_directory.create_customer(CustomerInput("Acme Trading Ltd", OWNER))
    terminal = Terminal(sshd["client"], {"TERM": "xterm-256color"})
    try:
        terminal.wait_for("Send code (enter)")
        terminal.type(OWNER)
        terminal.keys("Enter")

        def code() -> str | None:
            for record in relay_log.captured_messages(10):
                message = relay_log.captured_message(record.id)[2]
                found = re.search(rb"sign-in code: (\d{6})", message)
                if found and OWNER in record.recipients:
                    return found.group(1).decode()
            return None

        terminal.type(poll(code, TERMINAL_DEADLINE))
        terminal.keys("Enter")
        terminal.wait_for("your sign-in, gets every notification")
        assert sqlite_directory.get_customer(acme.id).last_sign_in_channel == "ssh"
        assert portals(sshd["db"])
    finally:
        terminal.close()  # the connection drops: tmux hangs up on the ssh client
    poll(lambda: not portals(sshd["db"]), TERMINAL_DEADLINE, lambda: portals(sshd["db"]))


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
