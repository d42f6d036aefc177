"""`contacts-relay service --systemd`: a unit systemd accepts, and never one whose program the sandbox hides."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys

import pytest

from relay.ops.service import hidden_from_service, unit

from ..helpers import ROOT


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (Debian: systemd)")
def test_the_unit_verifies(tmp_path):
    # Any executable will do for the syntax; the install test verifies the installed one.
    text = unit("/usr/bin/true")
    assert "Restart=on-failure" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert "TimeoutStopSec=45" in text and "ReadWritePaths=/var/lib/contact-persons" in text
    # Shared with the admins and the portal through the group: no directory systemd re-owns to the relay alone.
    assert "Group=contacts" in text and "UMask=0007" in text
    settings = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if line.startswith("StateDirectory")]
    path = tmp_path / "contacts-relay.service"
    path.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "contacts-relay.service" in line]
    assert done.returncode == 0 and problems == [], done.stderr


def test_a_relay_under_tmp_gets_no_unit_but_the_way_to_install_it(tmp_path):
    """The issue as reported: a virtualenv in a checkout under /tmp, hidden by PrivateTmp=true."""
    venv = tmp_path / "checkout" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    paths = os.pathsep.join([str(ROOT), *site.getsitepackages()])
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "relay.cli", "service", "--systemd"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": paths},
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "the unit would run a relay the service cannot see" in done.stderr
    if str(tmp_path).startswith(("/tmp/", "/var/tmp/")):
        assert f"{venv}/bin/python (PrivateTmp=true gives the service a /tmp of its own)" in done.stderr
    assert "/usr/bin/python3 -m venv /opt/contact-persons/venv" in done.stderr
    # The environment file is not about the program: it is printed wherever the relay runs.
    env = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "relay.cli", "service", "--systemd", "--env"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": paths},
    )
    assert env.returncode == 0 and "RELAY_UPSTREAM=" in env.stdout


@pytest.mark.parametrize(
    ("path", "hidden"),
    [
        ("/tmp/checkout/.venv/bin/contacts-relay", "PrivateTmp"),
        ("/var/tmp/x/bin/python3", "PrivateTmp"),
        ("/root/.pyenv/versions/3.11.7/bin/python3.11", "ProtectHome"),
        ("/home/alice/src/contact-persons/relay", "ProtectHome"),
        ("/opt/contact-persons/venv/bin/contacts-relay", None),
        ("/usr/bin/python3.11", None),
        ("/tmpfiles/bin/python3", None),
    ],
)
def test_what_the_sandbox_hides(path, hidden):
    from pathlib import Path

    found = hidden_from_service([Path(path)])
    assert (found[0].split("(")[1].split("=")[0] if found else None) == hidden
