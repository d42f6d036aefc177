"""`contacts-tui`: the admin TUI, plus subcommands for scripts.

Exit codes: 0 done, 1 the work failed (bad rows, unreachable database),
2 the command line itself is wrong.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

# Only what parsing needs is imported here; the database and the commands are
# imported once a command runs, inside main(), so ctrl+c while they load (a
# third of a second) is answered in one line, not with a traceback.
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.process import at_least_one, version

DESCRIPTION = """\
Contact persons for your customers: who gets a CC copy of which notification.
Without a command, opens the admin TUI."""

EPILOG = """\
environment:
  CONTACTS_DB            database URL (sqlite:///PATH or postgresql://USER@HOST/DB);
                         default: an SQLite file in your user data directory
  CONTACTS_CATALOG       catalog for a database that has none stored yet
                         (payrequest, herotill, perfex or a TOML file)
  CONTACTS_MAX_CONTACTS  contact limit for a database that has none stored yet (10)
  CONTACTS_RELAY         HOST:PORT of a relay for the TUI's sample notifications

CSV columns: customer_email,customer_name,contact_name,contact_email,phone,role,categories
  categories is "billing;account", "all" or empty; a row without contact fields
  only defines the customer (its phone is the customer's phone).

Put PostgreSQL passwords in CONTACTS_DB or ~/.pgpass, not on the command line."""


def build_parser() -> argparse.ArgumentParser:
    from contacts_tui.core.csv.dialect import delimiter_option, encoding_option

    from .commands.settings import copy_option

    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS lets the options stand before or after the command name.
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="database URL or SQLite file path")
    common.add_argument(
        "--catalog",
        metavar="NAME|FILE",
        default=argparse.SUPPRESS,
        help="notification catalog: payrequest, herotill, perfex or a TOML file (stored in the database: "
        "with init or settings it changes it, elsewhere it must match)",
    )
    common.add_argument(
        "--max-contacts",
        metavar="N",
        type=at_least_one,
        default=argparse.SUPPRESS,
        help="active contact persons per customer (stored in the database, like --catalog)",
    )
    common.add_argument(
        "--relay",
        metavar="HOST:PORT",
        type=_host_port,
        default=argparse.SUPPRESS,
        help="a relay (e.g. contacts-relay serve --capture) the TUI sends sample notifications to (CONTACTS_RELAY)",
    )
    parser = argparse.ArgumentParser(
        prog="contacts-tui",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser(
        "init",
        parents=[common],
        help="create or migrate the database",
        description="Create or migrate the database. "
        "With --catalog or --max-contacts, also change those (see settings).",
    )
    configure = commands.add_parser(
        "settings",
        parents=[common],
        help="show or change the catalog, the contact limit and the portal's mail sender of the database",
        description="Without options: show the catalog and the contact person limit every program of this "
        "database uses. --max-contacts N changes the limit unless a customer has more. --catalog NAME|FILE "
        "switches the catalog and says what becomes of opt-ins of categories it lacks: they are kept (doing "
        "nothing) and come back when you switch back; --map OLD=NEW gives those contact persons NEW as well.",
    )
    configure.add_argument(
        "--map",
        metavar="OLD=NEW",
        action="append",
        type=copy_option,
        help="with --catalog: who opted in to OLD also gets NEW of the new catalog (repeatable)",
    )
    configure.add_argument(
        "--mail-from",
        metavar="ADDRESS",
        default=None,
        help="the sender of the portal's sign-in code mails, for every portal service of this database "
        "('' for the default); a service's own --mail-from or CONTACTS_MAIL_FROM wins",
    )
    configure.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    importer = commands.add_parser(
        "import",
        parents=[common],
        help="import customers and contact persons from CSV",
        description="Import a CSV file. All or nothing: any bad row stops the import, and every bad row is listed.",
    )
    importer.add_argument("file", metavar="FILE.csv", help="the CSV file, or - for standard input")
    importer.add_argument("--dry-run", action="store_true", help="check the file and show what would change")
    importer.add_argument(
        "--sync", action="store_true", help="soft-delete contact persons of listed customers that the file leaves out"
    )
    importer.add_argument("--skip-invalid", action="store_true", help="import the good rows, list the bad ones")
    importer.add_argument(
        "--delimiter",
        metavar="CHAR",
        type=_option(delimiter_option),
        help="the separator: , ; tab or | (default: found in the header line)",
    )
    importer.add_argument(
        "--encoding",
        metavar="NAME",
        type=_option(encoding_option),
        help="e.g. utf-8, cp1252, utf-16 (default: UTF-8, else Windows-1252 as Excel writes)",
    )
    exporter = commands.add_parser(
        "export",
        parents=[common],
        help="export everything as CSV",
        description="Export every customer and active contact person (or those the filters keep). "
        "Cells a spreadsheet would run as a formula (beginning with = + - @) get an apostrophe in front; "
        "import takes it off again.",
    )
    exporter.add_argument("file", metavar="FILE.csv", help="where to write, or - for standard output")
    exporter.add_argument(
        "--delimiter",
        metavar="CHAR",
        type=_option(delimiter_option),
        default=",",
        help="the separator (default ,); ';' for Excel in Dutch, German or French settings",
    )
    exporter.add_argument(
        "--encoding",
        metavar="NAME",
        type=_option(encoding_option),
        default="utf-8",
        help="default utf-8; utf-8-sig adds the BOM Excel looks for, cp1252 is Excel's own",
    )
    from .commands.listing import add_filter_options
    from .commands.listing import add_parser as add_list_parser

    add_filter_options(exporter)
    add_list_parser(commands, common)
    from .commands.bulk import add_parser as add_bulk_parser

    add_bulk_parser(commands, common)
    commands.add_parser("demo", parents=[common], help="demo data, a capture relay and the TUI in one command")
    from .commands.backup import add_parsers as add_backup_parsers

    add_backup_parsers(commands, common)
    from .commands.history import add_parser as add_history_parser

    add_history_parser(commands, common)
    from .commands.portal import add_parser as add_portal_parser

    add_portal_parser(commands, common, _host_port)
    from .commands.portal_service import add_parser as add_portal_service_parser

    add_portal_service_parser(commands, common, _host_port)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second ctrl+c must not interrupt the answer
        print("contacts-tui: interrupted; nothing was written by the unfinished step", file=sys.stderr)
        return 130


def _run(argv: Sequence[str] | None) -> int:
    from contacts_tui.core.options import Options, open_directory

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = Options.from_env(
            getattr(args, "db", None), getattr(args, "catalog", None), getattr(args, "max_contacts", None)
        )
        if args.command == "demo":
            from .commands.demo import run_demo

            return run_demo(options, explicit_db=hasattr(args, "db"), need_a_terminal=need_a_terminal)
        if args.command == "portal":
            from .commands.portal import run_portal

            return run_portal(options, args)
        if args.command == "portal-service":
            from .commands.portal_service import run_portal_service

            return run_portal_service(options, args)
        if args.command in ("backup", "restore"):
            from .commands.backup import run_backup, run_restore

            return (run_backup if args.command == "backup" else run_restore)(options, args)
        if args.command is None:
            need_a_terminal()
        if args.command == "import":
            return _import(options, args)
        # init and settings change the stored catalog and limit; everything
        # else must agree with them.
        changing = args.command in ("init", "settings")
        directory = open_directory(
            options, must_exist=args.command in ("export", "history", "list", "bulk"), check=not changing
        )
        if changing:
            from .commands.settings import run_init, run_settings

            return (run_init if args.command == "init" else run_settings)(directory, args)
        if args.command == "export":
            from .commands.csv_files import run_export

            return run_export(directory, args)
        if args.command == "history":
            from .commands.history import run_history

            return run_history(directory, args)
        if args.command == "list":
            from .commands.listing import run_list

            return run_list(directory, args)
        if args.command == "bulk":
            from .commands.bulk import run_bulk

            return run_bulk(directory, args)
        from .ui.app import make_app

        relay = getattr(args, "relay", None) or _env_relay()
        app = make_app(directory, **({"relay_address": relay} if relay else {}))
        app.run()
        # Textual keeps 1 here after a crash (its traceback is already shown).
        return app.return_code or 0
    except DirectoryError as exc:
        print(f"contacts-tui: error: {exc}", file=sys.stderr)
        return 1


def need_a_terminal() -> None:
    """The TUI draws on a terminal and reads keys from one; without, it would
    wait for ever on a pipe or /dev/null writing escape codes nobody sees."""
    import os

    if os.environ.get("TEXTUAL_DRIVER"):
        return  # textual-serve runs it over pipes, with its own driver
    for stream, name in ((sys.stdin, "input"), (sys.stdout, "output")):
        if not stream.isatty():
            raise DirectoryError(
                f"the admin TUI needs a terminal, and the standard {name} is not one. "
                "Scripts use the commands: init, settings, import, export, list, bulk, history, backup, restore "
                "(contacts-tui --help)"
            )


def _import(options, args) -> int:
    """An import, which leaves no new database behind when it writes nothing."""
    from contacts_tui.core.db import sqlite_file
    from contacts_tui.core.options import open_directory

    from .commands.csv_files import run_import

    file = sqlite_file(options.db_url)
    new = file is not None and not file.exists()
    code = 1
    try:
        directory = open_directory(options)
        try:
            code = run_import(directory, args)
        finally:
            directory.database.close()
    finally:
        # A failed import (or a dry run) into a database it created would leave
        # an empty file that reads as "nothing here" to the next command.
        if new and (code != 0 or args.dry_run):
            for suffix in ("", "-wal", "-shm"):
                Path(str(file) + suffix).unlink(missing_ok=True)
    return code


def _option(parse):
    """An argparse type from a parser that raises ValueError with the reason."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host, int(port)


def _env_relay() -> tuple[str, int] | None:
    import os

    value = os.environ.get("CONTACTS_RELAY", "").strip()
    if not value:
        return None
    try:
        return _host_port(value)
    except argparse.ArgumentTypeError as exc:
        raise DirectoryError(f"CONTACTS_RELAY: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
