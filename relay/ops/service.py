"""The systemd unit for the relay, with the path of this installation, and the places a unit cannot see.

The unit sandboxes the relay (``PrivateTmp``, ``ProtectHome``): a program
under /tmp, /home or /root, or a virtualenv whose Python links there, is
invisible to it, and the service would fail at its first start with
"No such file or directory" while ``systemd-analyze verify`` passes. So
``service --systemd`` refuses to write such a unit and says how to install
the relay where a service can run it.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

# What the unit's sandbox hides, and the setting that hides it.
HIDDEN = {
    "/tmp": "PrivateTmp=true gives the service a /tmp of its own",
    "/var/tmp": "PrivateTmp=true gives the service a /var/tmp of its own",
    "/home": "ProtectHome=true hides /home from the service",
    "/root": "ProtectHome=true hides /root from the service",
    "/run/user": "ProtectHome=true hides /run/user from the service",
}
INSTALLED = "/opt/contact-persons/venv/bin/contacts-relay"


def program() -> str:
    """The command that runs this installation's relay: its console script beside this Python, unresolved."""
    script = Path(sys.executable).parent / "contacts-relay"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script)
    return f"{sys.executable} -m relay.cli"


def needed_paths() -> list[Path]:
    """Every file the service needs to start: the program, the Python it runs on, the relay's code."""
    import relay

    paths = [Path(program().split(" ")[0]), Path(sys.executable), Path(os.path.realpath(sys.executable))]
    paths.append(Path(relay.__file__).resolve().parent)
    return paths


def hidden_from_service(paths: list[Path]) -> list[str]:
    """For each path the unit's sandbox hides: the path and why (empty: the service sees them all)."""
    found = []
    for path in paths:
        for place, why in HIDDEN.items():
            if path == Path(place) or Path(place) in path.parents:
                found.append(f"{path} ({why})")
                break
    return list(dict.fromkeys(found))


def unit(command: str) -> str:
    text = (resources.files("relay") / "systemd" / "contacts-relay.service").read_text(encoding="utf-8")
    return text.replace("@CONTACTS_RELAY@", command)


def env_file() -> str:
    return (resources.files("relay") / "systemd" / "contacts-relay.env").read_text(encoding="utf-8")
