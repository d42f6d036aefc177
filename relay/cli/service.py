"""`contacts-relay service --systemd`: the files to run the relay as a system service."""

from __future__ import annotations

import argparse
import sys

from contacts_tui.core.options import Options

from ..ops import service


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "service",
        help="files to run the relay as a system service",
        description="Print the systemd unit with the path of this installation's contacts-relay, or (--env) the "
        "environment file it reads. Refuses when the unit's sandbox would hide the program (under /tmp, /home "
        "or /root, or a Python that links there): install it as the README's 'Installing for production' says.",
    )
    parser.add_argument("--systemd", action="store_true", required=True, help="print a systemd unit")
    parser.add_argument("--env", action="store_true", help="print the sample environment file for it instead")


def run(args: argparse.Namespace, options: Options) -> int:
    if args.env:
        sys.stdout.write(service.env_file())
        return 0
    hidden = service.hidden_from_service(service.needed_paths())
    if hidden:
        print(
            "contacts-relay: error: the unit would run a relay the service cannot see:\n"
            + "".join(f"  {line}\n" for line in hidden)
            + "Install it where a service can run it, e.g. (README, 'Installing for production'):\n"
            "  /usr/bin/python3 -m venv /opt/contact-persons/venv\n"
            "  /opt/contact-persons/venv/bin/pip install contact_persons-VERSION-py3-none-any.whl\n"
            "  /opt/contact-persons/venv/bin/contacts-relay service --systemd",
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(service.unit(service.program()))
    return 0
