"""`contacts-relay service --systemd`: the files to run the relay as a system service."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources

from contacts_tui.core.options import Options


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    service = commands.add_parser("service", help="files to run the relay as a system service")
    service.add_argument("--systemd", action="store_true", required=True, help="print a systemd unit")
    service.add_argument("--env", action="store_true", help="print the sample environment file for it instead")


def run(args: argparse.Namespace, options: Options) -> int:
    folder = resources.files("relay") / "systemd"
    if args.env:
        sys.stdout.write((folder / "contacts-relay.env").read_text(encoding="utf-8"))
        return 0
    program = shutil.which("contacts-relay") or f"{sys.executable} -m relay.cli"
    unit = (folder / "contacts-relay.service").read_text(encoding="utf-8")
    sys.stdout.write(unit.replace("@CONTACTS_RELAY@", program))
    return 0
