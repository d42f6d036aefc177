"""`contacts-relay passwd`: add or change a user in an auth file; the password is asked for, never an argument."""

from __future__ import annotations

import argparse
import getpass
import sys

from contacts_tui.core.options import Options

from ..config import ConfigError
from ..server.access import set_password


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    passwd = commands.add_parser(
        "passwd", help="add or change a user in an auth file (asks for the password; never on the command line)"
    )
    passwd.add_argument("user")
    passwd.add_argument("--auth-file", metavar="FILE", required=True)


def run(args: argparse.Namespace, options: Options) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.user}: ")
        if password != getpass.getpass("Again: "):
            raise ConfigError("the passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise ConfigError("use a password of at least 8 characters")
    set_password(args.auth_file, args.user, password)
    print(f"Saved {args.user} in {args.auth_file} (scrypt hash, mode 0600).")
    return 0
