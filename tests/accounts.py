"""The portal as the README sets it up for real: throwaway OS accounts, one
owning the data (the database file 0600 in a 0700 folder) and running
`contacts-tui portal-service`, another running the portal, which can reach
the service's socket and nothing of the data. Needs root (useradd)."""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.portal.client import PortalClient, ServiceUnavailable
from relay.app import RelayThread

from .capture import capture_relay
from .waiting import poll

DEADLINE = 60.0
needs_accounts = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None,
    reason="runs the portal as throwaway OS accounts (useradd, runuser): needs root, as CI runs",
)


@contextmanager
def os_account(prefix: str, home: Path, groups: Sequence[str] = ()) -> Iterator[pwd.struct_passwd]:
    """A new account (its own group, a shell, no password but not locked), deleted afterwards."""
    name = f"{prefix}{secrets.token_hex(3)}"
    home.mkdir(mode=0o700)
    command = ["useradd", "--shell", "/bin/sh", "--password", "*", "--home-dir", str(home), "--no-create-home"]
    if groups:
        command += ["--groups", ",".join(groups)]
    subprocess.run([*command, name], check=True)
    account = pwd.getpwnam(name)
    os.chown(home, account.pw_uid, account.pw_gid)
    try:
        yield account
    finally:
        # Its processes (a portal whose connection just dropped) end first: userdel refuses otherwise.
        try:
            poll(lambda: not processes_of(account.pw_uid), DEADLINE)
        finally:
            for pid in processes_of(account.pw_uid):
                os.kill(pid, signal.SIGKILL)
            subprocess.run(["userdel", name], check=False, capture_output=True)


def processes_of(uid: int) -> list[int]:
    """The processes running as ``uid``: the test's own, started as a throwaway account."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                found.append(int(entry.name))
        except FileNotFoundError:
            pass  # ended meanwhile
    return found


def group_name(account: pwd.struct_passwd) -> str:
    import grp

    return grp.getgrgid(account.pw_gid).gr_name


_OPENED: list[tuple[Path, int]] = []


def _let_others_through(*places: Path) -> None:
    """Let other accounts pass through (o+x, not list) the folders above
    ``places`` that shut them out, as a checkout in ``mktemp -d`` (0700) does,
    until this test run ends: the portal's accounts must read the code."""
    for place in places:
        for folder in [place, *place.parents]:
            mode = folder.stat().st_mode
            if not mode & 0o001 and folder.stat().st_uid == os.geteuid():
                folder.chmod(mode | 0o001)
                _OPENED.append((folder, mode))
    if _OPENED and not getattr(_let_others_through, "registered", False):
        atexit.register(lambda: [folder.chmod(mode) for folder, mode in reversed(_OPENED)])
        _let_others_through.registered = True  # type: ignore[attr-defined]


def interpreter_for_everyone(folder: Path) -> str:
    """A Python with this test run's packages that any account may run: this
    one, or (when it lives where other accounts cannot go, like ~root) the
    system's of the same version reading this one's packages."""
    _let_others_through(Path(sys.prefix), Path(__file__).resolve().parent.parent)
    tried = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "pass"], capture_output=True)
    if tried.returncode == 0:
        return sys.executable
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"{sys.executable} cannot be run by other accounts, and there is no {system} to stand in")
    bridge = folder / "python"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(bridge)], check=True)
    packages = Path(sysconfig.get_paths(vars={"base": str(bridge), "platbase": str(bridge)})["purelib"])
    ours = sysconfig.get_paths()["purelib"]
    (packages / "test-run.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    for path in [bridge, *bridge.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o055)
    return str(bridge / "bin" / "python")


@dataclass
class Separated:
    """What a separated portal test holds: the accounts, the data, the service and the code relay."""

    folder: Path
    python: str
    portal: pwd.struct_passwd
    owner: pwd.struct_passwd
    data: Path
    database: Path
    directory: Directory
    relay: RelayThread
    sockets: dict[str, Path]
    service_log: Path

    def command(self, *args: str) -> list[str]:
        """contacts-tui with ``args``, as any account runs it."""
        return [self.python, "-m", "contacts_tui.cli", *args]

    def as_portal(self, *args: str, **options) -> subprocess.CompletedProcess:
        """A Python snippet run by the portal's account."""
        return subprocess.run(
            [self.python, *args],
            user=self.portal.pw_uid,
            group=self.portal.pw_gid,
            extra_groups=[],
            env=self.environment(self.portal),
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            **options,
        )

    def environment(self, account: pwd.struct_passwd) -> dict[str, str]:
        return {"HOME": account.pw_dir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "USER": account.pw_name}


@contextmanager
def separated_portal() -> Iterator[Separated]:
    """The data owned by one account, its portal service running as it, and
    a portal account that may reach the service's sockets."""
    folder = Path(tempfile.mkdtemp(prefix="contacts-privsep-"))
    folder.chmod(0o755)
    service = None
    try:
        python = interpreter_for_everyone(folder)
        with (
            os_account("cpportal", folder / "portal-home") as portal,
            os_account("cpdata", folder / "owner-home", [group_name(portal)]) as owner,
        ):
            data = folder / "data"
            data.mkdir(mode=0o700)
            database_file = data / "contacts.db"
            database = open_database(f"sqlite:///{database_file}")
            directory = Directory(database)
            for path in [data, *data.iterdir()]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            database_file.chmod(0o600)
            run = folder / "run"
            run.mkdir()
            os.chown(run, owner.pw_uid, portal.pw_gid)
            run.chmod(0o750)
            sockets = {"ssh": run / "ssh.sock", "web": run / "web.sock"}
            with capture_relay(directory, folder / "relay") as relay:
                service_log = folder / "service.log"
                with service_log.open("wb") as log:
                    service = subprocess.Popen(
                        [
                            python,
                            "-m",
                            "contacts_tui.cli",
                            "portal-service",
                            "--db",
                            f"sqlite:///{database_file}",
                            "--socket",
                            str(sockets["ssh"]),
                            "--group",
                            group_name(portal),
                            "--web-socket",
                            str(sockets["web"]),
                            "--web-group",
                            group_name(portal),
                            "--mail-via",
                            f"127.0.0.1:{relay.port}",
                            "--mail-from",
                            "portal@shop.example",
                        ],
                        user=owner.pw_uid,
                        group=owner.pw_gid,
                        extra_groups=[portal.pw_gid],
                        env={"HOME": owner.pw_dir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )

                def answers() -> bool:
                    if service.poll() is not None:
                        raise AssertionError(f"the portal service ended: {service_log.read_text()}")
                    try:
                        return all(PortalClient(str(path)).hello() for path in sockets.values())
                    except ServiceUnavailable:
                        return False

                poll(answers, DEADLINE, service_log.read_text)
                try:
                    yield Separated(
                        folder,
                        python,
                        portal,
                        owner,
                        data,
                        database_file,
                        directory,
                        relay,
                        sockets,
                        service_log,
                    )
                finally:
                    service.send_signal(signal.SIGTERM)
                    try:
                        service.wait(30)
                    except subprocess.TimeoutExpired:
                        service.kill()
                        service.wait()
                    database.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
