"""`contacts-tui backup FILE` and `contacts-tui restore FILE`: the SQLite directory, copied while in use.

See ``core/backup.py`` for how. On PostgreSQL both say which of its own
tools to run instead (exit code 1, so a backup script notices).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contacts_tui.core.backup import BackupError, backup, contents, inspect, postgres_advice, restore, taken_at
from contacts_tui.core.db import resolve_url, sqlite_file
from contacts_tui.core.display import visible
from contacts_tui.core.options import Options


def add_parsers(commands, common: argparse.ArgumentParser) -> None:
    saving = commands.add_parser(
        "backup",
        parents=[common],
        help="copy the SQLite database to FILE while the relay and the TUI keep running",
        description="Write a consistent copy of the SQLite database to FILE (SQLite's online backup API: the "
        "database as it stood at one instant, while relays and admins keep writing). FILE is replaced only "
        "once the copy is complete and checked, and only its owner can read it. On PostgreSQL use pg_dump.",
    )
    saving.add_argument("file", metavar="FILE", help="where to write the backup")
    loading = commands.add_parser(
        "restore",
        parents=[common],
        help="replace the SQLite database with a backup (stop the relay first)",
        description="Replace what the SQLite database holds with the backup FILE, after checking it. Refused "
        "while a relay serves the database; asks first unless --yes. Programs that have the database open "
        "see the restored data at once. On PostgreSQL use pg_restore.",
    )
    loading.add_argument("file", metavar="FILE", help="a file written by contacts-tui backup")
    loading.add_argument("--yes", action="store_true", help="do not ask (for scripts)")


def run_backup(options: Options, args: argparse.Namespace) -> int:
    database = _sqlite_or_advice(options, "backup", args.file)
    if database is None:
        return 1
    target = Path(args.file).expanduser().absolute()
    try:
        saved = backup(database, target)
    except BackupError as exc:
        print(f"contacts-tui: error: {exc}", file=sys.stderr)
        return 1
    print(f"Backed up {database} to {target}: {saved.describe()}.")
    return 0


def run_restore(options: Options, args: argparse.Namespace) -> int:
    database = _sqlite_or_advice(options, "restore", args.file)
    if database is None:
        return 1
    file = Path(args.file).expanduser().absolute()
    try:
        held = inspect(file)
        now = contents(database)
        if not args.yes:
            question = (
                f"Replace {database} ({now.describe() if now else 'no directory yet'}) with the backup {file} "
                f"of {taken_at(file)} ({held.describe()})? [y/N] "
            )
            if not sys.stdin.isatty():
                print(
                    f"contacts-tui: error: restore replaces {database}: add --yes to do it without asking",
                    file=sys.stderr,
                )
                return 1
            if input(visible(question)).strip().lower() not in ("y", "yes"):
                print("Nothing restored.")
                return 1
        restored = restore(file, database)
    except BackupError as exc:
        print(f"contacts-tui: error: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print("\nNothing restored.")
        return 1
    print(f"Restored {database} from {file}: {restored.describe()}.")
    return 0


def _sqlite_or_advice(options: Options, action: str, file: str) -> Path | None:
    database = sqlite_file(options.db_url)
    if database is None:
        print(f"contacts-tui: {postgres_advice(resolve_url(options.db_url), action, file)}", file=sys.stderr)
    return database
