"""The README's "Installing for production", run end to end on this machine (as root, slow).

The built wheel goes into a virtualenv made with the system's /usr/bin/python3
under an /opt folder; a system group is shared by the relay's user, an admin
and the portal account; the SQLite database lives in a setgid, group-writable
folder under /var/lib, the spool is the relay's own. The relay runs as its
unit runs it (its user, the group, umask 0007); the admin's CLI and a portal
process use the database while it serves, and the unit for the installed
path passes systemd-analyze. Users, group and folders get throwaway names
so nothing of a real installation is touched, and are removed afterwards.
"""

from __future__ import annotations

import email
import email.policy
import os
import pwd
import re
import secrets
import shutil
import smtplib
import stat
import subprocess
from pathlib import Path

import pytest

from tests.relay.helpers.upstream import Upstream

from .waiting import poll
from .wheel import wheel

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="installs system users and folders: run as root (CI does)"),
    pytest.mark.skipif(not shutil.which("useradd"), reason="needs useradd and groupadd (Debian: passwd)"),
    pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs the system's /usr/bin/python3"),
]

# A portal process as the portal account runs it: no database, only the
# portal service's socket; a sign-in code asked for (mailed through the relay), then used.
PORTAL = """
import sys
from contacts_tui.core.portal.client import PortalClient

client = PortalClient(sys.argv[1])
if sys.argv[2] == "request":
    client.request_code(sys.argv[3])
else:
    print(client.sign_in(sys.argv[3], sys.argv[4]).customer().name)
"""

CSV = """customer_email,customer_name,contact_name,contact_email,phone,role,categories
owner@acme.example,ACME,Bea Books,books@acme.example,,Bookkeeping,billing
"""


def run(*command: str, check: bool = True, **options) -> subprocess.CompletedProcess:
    options.setdefault("cwd", "/")  # the installed packages, never this checkout's
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **options)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


class Install:
    def __init__(self, tag: str) -> None:
        self.group = f"cp{tag}"
        self.relay_user, self.admin, self.portal = f"cp{tag}r", f"cp{tag}a", f"cp{tag}p"
        self.opt = Path(f"/opt/contact-persons-test-{tag}")
        self.var = Path(f"/var/lib/contact-persons-test-{tag}")
        self.venv = self.opt / "venv"
        self.db = self.var / "contacts.db"
        self.run_dir = Path(f"/run/contact-persons-portal-test-{tag}")
        self.processes: list[subprocess.Popen] = []
        self.url = f"sqlite:///{self.db}"

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def as_user(self, user: str, *command: str, **options) -> subprocess.CompletedProcess:
        """As the user with its own groups and umask 0007."""
        entry = pwd.getpwnam(user)
        return run(
            *command,
            user=entry.pw_uid,
            group=entry.pw_gid,
            extra_groups=os.getgrouplist(user, entry.pw_gid),  # its own groups, as a login gets
            umask=0o007,
            env={"PATH": "/usr/bin:/bin", "HOME": entry.pw_dir, "LANG": "C.UTF-8"},
            **options,
        )

    def remove(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(60)
        for user in (self.relay_user, self.admin, self.portal):
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", self.group], capture_output=True)
        shutil.rmtree(self.opt, ignore_errors=True)
        shutil.rmtree(self.var, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def test_the_documented_install_shares_the_database_and_runs_the_relay(tmp_path):
    install = Install(secrets.token_hex(3))
    upstream = Upstream().start()
    relay = None
    try:
        built = wheel(tmp_path)
        # The README's commands, with the throwaway names.
        run("groupadd", "--system", install.group)
        run(
            "useradd", "--system", "--gid", install.group, "--home-dir", str(install.var),
            "--shell", "/usr/sbin/nologin", install.relay_user,
        )  # fmt: skip
        run("useradd", "--create-home", "--groups", install.group, install.admin)
        # The SSH portal account: its own group only, never the data's.
        run("useradd", "--create-home", "--shell", "/bin/sh", install.portal)
        run("install", "-d", "-o", "root", "-g", install.group, "-m", "2770", str(install.var))
        install.opt.mkdir(parents=True)
        run("/usr/bin/python3", "-m", "venv", str(install.venv))
        run(install.bin("pip"), "install", "-q", str(built))
        version = run(install.bin("contacts-tui"), "--version").stdout.strip()
        assert version == f"contacts-tui {built.name.split('-')[1]}"
        assert run(install.bin("contacts-relay"), "--version").stdout.strip().endswith(built.name.split("-")[1])
        install.as_user(install.relay_user, install.bin("contacts-tui"), "--db", install.url, "init")
        run("chmod", "660", str(install.db))

        # The unit for the installed path: systemd's sandbox sees it, and systemd accepts it.
        unit = run(install.bin("contacts-relay"), "service", "--systemd").stdout
        assert f"ExecStart={install.bin('contacts-relay')} serve" in unit
        if shutil.which("systemd-analyze"):
            path = tmp_path / "contacts-relay.service"
            path.write_text(unit)
            verified = run("systemd-analyze", "verify", str(path), check=False)
            assert verified.returncode == 0, verified.stderr

        # An admin fills the directory (stdin: the admin's own file).
        install.as_user(install.admin, install.bin("contacts-tui"), "--db", install.url, "import", "-", input=CSV)

        # The relay as its unit runs it.
        port = _free_port()
        entry = pwd.getpwnam(install.relay_user)
        relay = subprocess.Popen(
            [
                install.bin("contacts-relay"), "serve", "--db", install.url, "--listen", f"127.0.0.1:{port}",
                "--upstream", f"127.0.0.1:{upstream.port}", "--upstream-tls", "none",
                "--spool", str(install.var / "spool"), "--workers", "2", "--hostname", "relay.install.test",
            ],
            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[install.group], umask=0o007,
            env={"PATH": "/usr/bin:/bin", "HOME": str(install.var), "LANG": "C.UTF-8"},
            cwd="/", stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert relay.stderr is not None
        started = relay.stderr.readline()
        assert "listening on" in started, started + relay.stderr.read()

        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(
                "billing@shop.example",
                ["owner@acme.example"],
                b"From: billing@shop.example\r\nTo: owner@acme.example\r\nSubject: INV-1\r\n"
                b"X-Notification-Category: billing\r\n\r\nYour invoice.\r\n",
            )
        poll(lambda: len(upstream.messages) == 1, 30)
        assert sorted(upstream.messages[0].recipients) == ["books@acme.example", "owner@acme.example"]

        # The portal service, as its unit runs it: the relay's account and the data's group,
        # handing its socket to the portal account's group.
        install.run_dir.mkdir(mode=0o755)
        os.chown(install.run_dir, entry.pw_uid, entry.pw_gid)
        socket_path = install.run_dir / "ssh.sock"
        service = subprocess.Popen(
            [
                install.bin("contacts-tui"), "portal-service", "--db", install.url, "--socket", str(socket_path),
                "--group", install.portal, "--mail-via", f"127.0.0.1:{port}", "--mail-from", "portal@shop.example",
            ],
            user=entry.pw_uid, group=entry.pw_gid, extra_groups=[install.group, install.portal], umask=0o077,
            env={"PATH": "/usr/bin:/bin", "HOME": str(install.var), "LANG": "C.UTF-8"},
            cwd="/", stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        install.processes.append(service)
        poll(lambda: socket_path.exists() or service.poll() is not None, 30)
        assert service.poll() is None, service.stderr.read() if service.stderr else ""

        # While it serves: the admin changes the directory, and a customer signs in through the portal.
        more = CSV.splitlines()[0] + "\nowner@acme.example,ACME,Ivo IT,it@acme.example,,Technical,billing\n"
        install.as_user(install.admin, install.bin("contacts-tui"), "--db", install.url, "import", "-", input=more)
        refused = install.as_user(
            install.portal, install.bin("contacts-tui"), "--db", install.url, "export", "-", check=False
        )
        assert refused.returncode != 0  # the portal account holds no key to the database
        portal = [install.bin("python"), "-c", PORTAL, str(socket_path)]
        install.as_user(install.portal, *portal, "request", "owner@acme.example")
        poll(lambda: len(upstream.messages) == 2, 30)
        body = email.message_from_bytes(upstream.messages[1].data, policy=email.policy.default)
        code = re.search(r"\b(\d{6})\b", body.get_body(("plain",)).get_content()).group(1)
        assert install.as_user(install.portal, *portal, "sign-in", "owner@acme.example", code).stdout.strip() == "ACME"
        log = install.as_user(install.admin, install.bin("contacts-relay"), "--db", install.url, "log")
        assert "INV-1" in log.stdout or "delivered" in log.stdout

        # Who owns what: the database with the group, the spool the relay's alone.
        group = _gid(install.group)
        for file in (install.db, Path(f"{install.db}-wal")):
            info = file.stat()
            assert (info.st_gid, stat.S_IMODE(info.st_mode)) == (group, 0o660), file
        spool = (install.var / "spool").stat()
        assert (spool.st_uid, spool.st_mode & 0o777) == (entry.pw_uid, 0o700)
        assert stat.S_IMODE(install.var.stat().st_mode) == 0o2770
    finally:
        if relay is not None:
            relay.terminate()
            relay.wait(60)
        upstream.close()
        install.remove()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _gid(name: str) -> int:
    import grp

    return grp.getgrnam(name).gr_gid
