"""`contacts-relay`: the command line read, and the command it names run (each is a module of this folder)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.options import Options
from contacts_tui.core.process import reader_may_stop, version

from ..config import ConfigError
from ..ops import process_log
from ..server.access import AccessConfigError
from . import chaos, check, log, messages, passwd, preview, queue, rules, serve, service

# One module per command, each with add_parser(commands, common) and run(args, options); in the order of --help.
COMMANDS = {
    "serve": serve,
    "preview": preview,
    "log": log,
    "queue": queue,
    "messages": messages,
    "passwd": passwd,
    "check": check,
    "service": service,
    "chaos": chaos,
    "rules": rules,
}

DESCRIPTION = """\
An SMTP relay that copies the opted-in contact persons of a customer on every
notification tagged with a category header, then passes the mail on."""

EPILOG = """\
The contact directory: --db URL or CONTACTS_DB (default: the SQLite file that
contacts-tui uses), --catalog FILE or CONTACTS_CATALOG."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="contact directory database URL (CONTACTS_DB; default the SQLite file contacts-tui uses)",
    )
    common.add_argument(
        "--catalog", metavar="FILE", default=argparse.SUPPRESS, help="notification catalog (TOML; CONTACTS_CATALOG)"
    )
    parser = argparse.ArgumentParser(
        prog="contacts-relay",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    if command is serve:
        # Before anything can fail: with --log-format json even a bad option is a JSON line.
        process_log.configure(args.verbose, args.log_format)
    try:
        options = Options.from_env(getattr(args, "db", None), getattr(args, "catalog", None))
        if command is serve:
            return serve.run(args, options)
        # `log | head -1` or `messages show 6 | head -3` may stop reading early.
        with reader_may_stop():
            return command.run(args, options)
        return 0  # the reader stopped reading
    except (ConfigError, AccessConfigError, DirectoryError) as exc:
        if command is serve:
            serve.error(str(exc))
        else:
            print(f"contacts-relay: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
