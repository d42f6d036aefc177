"""`contacts-tui`: the admin TUI, plus subcommands for scripts.

Exit codes: 0 done, 1 the work failed (bad rows, unreachable database),
2 the command line itself is wrong.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Sequence

from contacts_tui.core.csv_dialect import delimiter_option, encoding_option
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.settings import Settings, open_directory

from .progress import ProgressLine

DESCRIPTION = """\
Contact persons for your customers: who gets a CC copy of which notification.
Without a command, opens the admin TUI."""

EPILOG = """\
environment:
  CONTACTS_DB            database URL (sqlite:///PATH or postgresql://USER@HOST/DB);
                         default: an SQLite file in your user data directory
  CONTACTS_CATALOG       TOML file with the notification categories
  CONTACTS_MAX_CONTACTS  active contact persons per customer (default 10)
  CONTACTS_RELAY         HOST:PORT of a relay for the TUI's sample notifications

CSV columns: customer_email,customer_name,contact_name,contact_email,phone,role,categories
  categories is "billing;account", "all" or empty; a row without contact fields
  only defines the customer (its phone is the customer's phone).

Put PostgreSQL passwords in CONTACTS_DB or ~/.pgpass, not on the command line."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS lets the options stand before or after the command name.
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="database URL or SQLite file path")
    common.add_argument("--catalog", metavar="FILE", default=argparse.SUPPRESS, help="notification catalog (TOML)")
    common.add_argument(
        "--max-contacts", metavar="N", type=int, default=argparse.SUPPRESS, help="active contact persons per customer"
    )
    common.add_argument(
        "--relay", metavar="HOST:PORT", type=_host_port, default=argparse.SUPPRESS,
        help="a relay (e.g. contacts-relay serve --capture) the TUI sends sample notifications to (CONTACTS_RELAY)",
    )
    parser = argparse.ArgumentParser(
        prog="contacts-tui",
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser("init", parents=[common], help="create or migrate the database")
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
    importer.add_argument("--delimiter", metavar="CHAR", type=_option(delimiter_option),
                          help="the separator: , ; tab or | (default: found in the header line)")
    importer.add_argument("--encoding", metavar="NAME", type=_option(encoding_option),
                          help="e.g. utf-8, cp1252, utf-16 (default: UTF-8, else Windows-1252 as Excel writes)")
    exporter = commands.add_parser(
        "export", parents=[common], help="export everything as CSV",
        description="Export every customer and active contact person. Cells a spreadsheet would run as a "
        "formula (beginning with = + - @) get an apostrophe in front; import takes it off again.",
    )
    exporter.add_argument("file", metavar="FILE.csv", help="where to write, or - for standard output")
    exporter.add_argument("--delimiter", metavar="CHAR", type=_option(delimiter_option), default=",",
                          help="the separator (default ,); ';' for Excel in Dutch, German or French settings")
    exporter.add_argument("--encoding", metavar="NAME", type=_option(encoding_option), default="utf-8",
                          help="default utf-8; utf-8-sig adds the BOM Excel looks for, cp1252 is Excel's own")
    commands.add_parser(
        "demo", parents=[common], help="demo data, a capture relay and the TUI in one command"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(
            getattr(args, "db", None), getattr(args, "catalog", None), getattr(args, "max_contacts", None)
        )
        if args.command == "demo":
            return _demo(settings, explicit_db=hasattr(args, "db"))
        directory = open_directory(settings, must_exist=args.command == "export")
        if args.command == "init":
            return _init(directory)
        if args.command == "import":
            return _import(directory, args)
        if args.command == "export":
            return _export(directory, args)
        from .ui.app import make_app

        relay = getattr(args, "relay", None) or _env_relay()
        make_app(directory, **({"relay_address": relay} if relay else {})).run()
        return 0
    except DirectoryError as exc:
        print(f"contacts-tui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("contacts-tui: interrupted; nothing was written by the unfinished step", file=sys.stderr)
        return 130


def _init(directory) -> int:
    from contacts_tui.core.migrate import schema_version

    customers, contacts = directory.counts()
    print(
        f"Database ready (schema version {schema_version(directory.database)}): "
        f"{customers:,} customers, {contacts:,} active contact persons."
    )
    return 0


def _import(directory, args) -> int:
    from contacts_tui.core.csv_dialect import CsvFormat
    from contacts_tui.core.csv_import import ImportFailed, import_csv
    from contacts_tui.core.csv_read import CsvFormatError

    line = ProgressLine(sys.stderr)
    try:
        if args.file == "-":
            stream, size = sys.stdin.buffer, 0
        else:
            path = Path(args.file)
            stream, size = path.open("rb"), path.stat().st_size
    except OSError as exc:
        print(f"contacts-tui: error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    found = CsvFormat(args.delimiter, args.encoding)
    try:
        with stream:
            report = import_csv(
                directory,
                stream,
                dry_run=args.dry_run,
                sync=args.sync,
                skip_invalid=args.skip_invalid,
                progress=line.update,
                size=size,
                csv_format=found,
            )
    except CsvFormatError as exc:
        line.finish()
        _guessed(args.file, found)
        print(f"{args.file}: {exc.error}", file=sys.stderr)
        print("contacts-tui: nothing was imported", file=sys.stderr)
        return 1
    except ImportFailed as exc:
        line.finish()
        _guessed(args.file, found)
        for error in exc.report.errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        print(f"contacts-tui: {exc}", file=sys.stderr)
        return 1
    line.finish()
    _guessed(args.file, found)
    for error in report.errors:
        print(f"{args.file}: skipped {error}", file=sys.stderr)
    if args.dry_run:
        for change in report.changes:
            print(change)
        if report.changes_left_out:
            print(f"... and {report.changes_left_out:,} more changes")
    prefix = "Dry run, nothing written: " if args.dry_run else "Imported: "
    print(prefix + report.summary())
    return 0


def _guessed(name: str, found) -> None:
    if found.guessed_encoding:
        print(f"{name}: not UTF-8, so read as {found.describe()}; --encoding names another encoding",
              file=sys.stderr)


def _export(directory, args) -> int:
    from contacts_tui.core.csv_export import export_csv
    from contacts_tui.core.process import reader_may_stop

    target, encoding, delimiter = args.file, args.encoding, args.delimiter
    if target == "-":
        # UTF-8 (unless asked otherwise) whatever the terminal's locale says.
        out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="", write_through=True)
        try:
            with reader_may_stop():  # `export - | head`
                export_csv(directory.catalog, out, delimiter=delimiter)
                out.flush()
        except UnicodeEncodeError as exc:
            return _unencodable(exc, encoding)
        finally:
            out.detach()
        return 0
    path = Path(target)
    temporary = path.with_name(path.name + ".part")
    line = ProgressLine(sys.stderr)
    try:
        with temporary.open("w", encoding=encoding, newline="") as out:
            rows = export_csv(directory.catalog, out, lambda n: line.update("exporting", n, 0), delimiter=delimiter)
        # A reader never sees a half-written export under the real name.
        temporary.replace(path)
    except UnicodeEncodeError as exc:
        line.finish()
        temporary.unlink(missing_ok=True)
        return _unencodable(exc, encoding)
    except OSError as exc:
        line.finish()
        temporary.unlink(missing_ok=True)
        print(f"contacts-tui: error: cannot write {target}: {exc.strerror}", file=sys.stderr)
        return 1
    except BaseException:
        # A lost database connection or ^C: no half-written export is left behind.
        line.finish()
        temporary.unlink(missing_ok=True)
        raise
    line.finish()
    print(f"Exported {rows:,} rows to {target}.", file=sys.stderr)
    return 0


def _unencodable(exc: UnicodeEncodeError, encoding: str) -> int:
    from contacts_tui.core.display import visible

    print(f"contacts-tui: error: {visible(exc.object[exc.start:exc.end])!r} cannot be written in {encoding}; "
          "nothing was exported. --encoding utf-8-sig writes every character, and Excel opens it too",
          file=sys.stderr)
    return 1


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


def _demo(settings: Settings, explicit_db: bool) -> int:
    """Demo data, a capture relay in this process, and the TUI wired to both."""
    from contextlib import ExitStack
    from dataclasses import replace

    from contacts_tui.core.db import APP_NAME
    from contacts_tui.core.demo_data import DemoRunning, demo_lock, seed_demo
    from platformdirs import user_data_dir
    from relay.config import RelayConfig
    from relay.app import RelayThread

    with ExitStack() as held:
        if not explicit_db:
            # The demo never touches the real default database; it starts afresh.
            folder = Path(user_data_dir(APP_NAME))
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "demo.db"
            try:
                # Starting afresh deletes the file: never under a demo that is still using it.
                held.enter_context(demo_lock(path))
            except DemoRunning as exc:
                print(f"contacts-tui: {exc}; its data is in {path}", file=sys.stderr)
                return 1
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            settings = replace(settings, db_url=f"sqlite:///{path}")
            # The TUI covers the terminal; this stays readable once it closes.
            print(f"Starting the demo with fresh demo data in {path}")
            print(f"(read what it captured later with: contacts-relay --db {path} messages list)")
        directory = open_directory(settings)
        if directory.counts()[0] == 0:
            seed_demo(directory)
        relay = RelayThread(
            RelayConfig(listen_host="127.0.0.1", listen_port=0, capture=True, hostname="demo-relay.localhost"),
            directory,
        ).start()
        try:
            from .ui.app import make_app

            make_app(directory, relay_address=("127.0.0.1", relay.port), demo=True).run()
        finally:
            relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
