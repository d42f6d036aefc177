"""Benchmark of `contacts-tui backup` and `restore` on a directory of the size the README names.

    python tests/bench/bench_backup.py [--customers 100000] [--contacts-per 3]

Builds the directory as bench_directory.py does (its CSV, imported through the
core), then times a backup with nobody writing, a backup while another process
adds customers as fast as it can (how many it added meanwhile, and its slowest
write: whether the backup held the writers up), and a restore into a new file.
Prints the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from contacts_tui.core.backup import backup, restore  # noqa: E402
from contacts_tui.core.catalog import DEFAULT_CATALOG  # noqa: E402
from contacts_tui.core.csv.importer import import_csv  # noqa: E402
from contacts_tui.core.db import open_database  # noqa: E402
from contacts_tui.core.directory.service import Directory  # noqa: E402
from tests.bench.bench_directory import generate  # noqa: E402

WRITER = """
import sys, time
from contacts_tui.core.db import open_database
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.records import CustomerInput

directory = Directory(open_database(sys.argv[1]))
n, worst = 0, 0.0
print("ready", flush=True)
try:
    while True:
        n += 1
        started = time.perf_counter()
        directory.create_customer(CustomerInput(f"Writer {n}", f"writer{n}@bench.example"))
        worst = max(worst, time.perf_counter() - started)
except KeyboardInterrupt:
    print(n, worst, flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts-per", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="contacts-bench-backup-"))
    db = work / "contacts.db"
    generate(work / "directory.csv", args.customers, args.contacts_per)
    database = open_database(f"sqlite:///{db}")
    with (work / "directory.csv").open("rb") as stream:
        import_csv(Directory(database, DEFAULT_CATALOG), stream, size=(work / "directory.csv").stat().st_size)
    database.close()
    print(f"Directory: {args.customers:,} customers x {args.contacts_per}, {db.stat().st_size / 1e6:.0f} MB")

    started = time.perf_counter()
    held = backup(db, work / "idle.db")
    print(f"Backup, nobody writing: {time.perf_counter() - started:.2f} s ({held.describe()})")

    writer = subprocess.Popen([sys.executable, "-c", WRITER, f"sqlite:///{db}"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the writer at full speed before the backup starts
    started = time.perf_counter()
    backup(db, work / "busy.db")
    took = time.perf_counter() - started
    writer.send_signal(2)
    count, worst = writer.stdout.readline().split()
    print(
        f"Backup while a process writes: {took:.2f} s; the writer added {int(count):,} customers in all, "
        f"its slowest write {float(worst) * 1000:.0f} ms"
    )

    started = time.perf_counter()
    restore(work / "busy.db", work / "restored.db")
    print(f"Restore into a new file: {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
