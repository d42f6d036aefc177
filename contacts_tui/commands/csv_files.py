"""`contacts-tui import` and `export`: the directory as CSV files."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from ..progress import ProgressLine


def run_import(directory, args) -> int:
    from contacts_tui.core.csv.dialect import CsvFormat
    from contacts_tui.core.csv.importer import ImportFailed, import_csv
    from contacts_tui.core.csv.read import CsvFormatError

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
                source=args.file,
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
        print(f"{name}: not UTF-8, so read as {found.describe()}; --encoding names another encoding", file=sys.stderr)


def run_export(directory, args) -> int:
    from contacts_tui.core.csv.export import export_csv
    from contacts_tui.core.process import reader_may_stop

    from .listing import filter_from

    target, encoding, delimiter = args.file, args.encoding, args.delimiter
    options = {"delimiter": delimiter, "flt": filter_from(directory, args), "max_contacts": directory.max_contacts}
    if target == "-":
        # UTF-8 (unless asked otherwise) whatever the terminal's locale says.
        out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="", write_through=True)
        try:
            with reader_may_stop():  # `export - | head`
                export_csv(directory.catalog, out, **options)
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
            rows = export_csv(directory.catalog, out, lambda n: line.update("exporting", n, 0), **options)
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

    print(
        f"contacts-tui: error: {visible(exc.object[exc.start : exc.end])!r} cannot be written in {encoding}; "
        "nothing was exported. --encoding utf-8-sig writes every character, and Excel opens it too",
        file=sys.stderr,
    )
    return 1
