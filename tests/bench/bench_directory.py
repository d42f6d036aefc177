"""Benchmark of the contact directory at the size the issue names.

    python tests/bench/bench_directory.py [--customers 100000] [--contacts-per 3] [--db URL]

Generates a CSV of customers and contact persons (realistic names, some of
them non-ASCII, roles, categories, people who are contacts at several
customers), imports it into a fresh database in-process through the core
API (what `contacts-tui import` runs), then times customer searches and deep
paging. Prints the figures and the targets: import < 60 s, search < 50 ms.
Without --db it uses a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from contacts_tui.core.catalog import DEFAULT_CATALOG  # noqa: E402
from contacts_tui.core.csv.importer import import_csv  # noqa: E402
from contacts_tui.core.csv.read import COLUMNS  # noqa: E402
from contacts_tui.core.db import open_database  # noqa: E402
from contacts_tui.core.directory.search import SORTS  # noqa: E402
from contacts_tui.core.directory.service import Directory  # noqa: E402

IMPORT_TARGET_S = 60.0
SEARCH_TARGET_MS = 50.0

FIRST = [
    "Anna",
    "Bram",
    "Chloé",
    "Daan",
    "Emma",
    "Finn",
    "Greta",
    "Hugo",
    "Ida",
    "Jan",
    "Katarzyna",
    "Lars",
    "Marie",
    "Noah",
    "Olga",
    "Pieter",
    "Quinn",
    "Rosa",
    "Søren",
    "Tess",
    "Ugo",
    "Vera",
    "Willem",
    "Xiu",
    "Yara",
    "Zoë",
    "José",
    "Łukasz",
    "Ørjan",
    "Jürgen",
    "Håkon",
    "Ayşe",
    "Sergei",
    "Dmitri",
    "Kenji",
    "Mei",
]
LAST = [
    "Jansen",
    "de Vries",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Müller",
    "Schröder",
    "Groß",
    "Weiß",
    "Nowak",
    "Kowalski",
    "Øster",
    "Ñúñez",
    "García",
    "Dubois",
    "Lefèvre",
    "O'Brien",
    "Smith",
    "Jones",
    "Taylor",
    "Иванов",
    "Петров",
    "山田",
    "佐藤",
    "Yılmaz",
]
TRADE = [
    "Bakery",
    "Consulting",
    "Logistics",
    "Software",
    "Dental",
    "Garden",
    "Hardware",
    "Printing",
    "Travel",
    "Electric",
    "Plumbing",
    "Media",
    "Fitness",
    "Catering",
    "Bouwbedrijf",
    "Schreinerei",
    "Café",
    "Optiek",
]
SUFFIX = ["GmbH", "B.V.", "Ltd", "Inc.", "AG", "S.A.", "Oy", "& Zonen", "& Co", "SARL", ""]
ROLES = ["General", "Billing", "Bookkeeping", "Technical", "Management", "Support"]
CATEGORY_CHOICES = ["billing", "account", "billing;account", "all", ""]


def slug(text: str) -> str:
    kept = "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())
    return kept or "x"


def generate(path: Path, customers: int, contacts_per: int, seed: int = 7) -> dict[str, str]:
    """Write the CSV; returns sample search terms drawn from what was written."""
    rng = random.Random(seed)
    freelancers = [
        (f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"books{n}@freelance-bookkeeping.example") for n in range(500)
    ]
    samples: dict[str, str] = {}
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(customers):
            owner, trade = rng.choice(LAST), rng.choice(TRADE)
            name = f"{owner} {trade} {rng.choice(SUFFIX)}".strip()
            domain = f"{slug(owner)}-{i}.example"
            email = f"info@{domain}"
            for j in range(contacts_per):
                if rng.random() < 0.02:
                    person, contact_email = rng.choice(freelancers)
                else:
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    person = f"{first} {last}"
                    contact_email = f"{slug(first)}.{slug(last)}{j}@{domain}"
                phone = f"+31 20 {rng.randrange(1000000):07d}" if rng.random() < 0.5 else ""
                writer.writerow(
                    [email, name, person, contact_email, phone, rng.choice(ROLES), rng.choice(CATEGORY_CHOICES)]
                )
                if i == customers // 2 and j == 0:
                    samples["contact email (one customer)"] = contact_email
                    samples["customer email (one customer)"] = email
                    samples["rare: customer domain"] = domain
                    samples["common word + rare domain"] = f"{trade.lower()} {domain}"
    return samples


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts-per", type=int, default=3)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temporary directory)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per search term")
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV and SQLite file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="contacts-bench-"))
    csv_path = work / "directory.csv"
    url = args.db or f"sqlite:///{work / 'contacts.db'}"
    print(f"Database: {url.split('@')[-1] if '@' in url else url}")

    started = time.perf_counter()
    samples = generate(csv_path, args.customers, args.contacts_per)
    size = csv_path.stat().st_size
    print(
        f"Generated {args.customers:,} customers x {args.contacts_per} contacts: {size / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s"
    )

    database = open_database(url)
    directory = Directory(database, DEFAULT_CATALOG)
    if directory.counts() != (0, 0):
        print("The database is not empty; give a fresh one.", file=sys.stderr)
        return 2
    with csv_path.open("rb") as stream:
        report, import_ms = timed(import_csv, directory, stream, size=size)
    import_s = import_ms / 1000
    print(
        f"Import: {report.rows:,} rows in {import_s:.1f} s = {report.rows / import_s:,.0f} rows/s "
        f"({report.customers_created:,} customers, {report.contacts_added:,} contact persons)"
    )

    terms = {
        "common word: bakery": "bakery",
        "common word: gmbh": "gmbh",
        "common surname: müller": "müller",
        "common first name: anna": "anna",
        "non-Latin: иванов": "иванов",
        "CJK: 山田": "山田",
        "two common words: bakery gmbh": "bakery gmbh",
        "short: de": "de",
        "short: oy": "oy",
        "short: é": "é",
        "freelancer address": "books42@freelance-bookkeeping.example",
        "no match, long: contact-persons-benchmark": "contact-persons-benchmark",
        "freelancer domain": "freelance-bookkeeping",
        "no match: zzqxj": "zzqxj",
        "no match, short: q9": "q9",
        "partial word: bouw": "bouw",
        "role-like word: consulting ltd": "consulting ltd",
        "phone-ish digits: 4242": "4242",
        "dotted: b.v.": "b.v.",
        "apostrophe: o'brien": "o'brien",
        "in every customer: example": "example",
        "in every customer: info": "info",
        "in most names and domains: en": "en",
        "empty (first page)": "",
        **{k: v for k, v in samples.items()},
    }
    print(f"\nSearch, first page of 50, {args.repeat} runs per term (ms):")
    print(f"  {'term':<52} {'median':>7} {'p95':>7} {'max':>7} {'total':>8}")
    medians: list[float] = []
    every: list[float] = []
    for label, text in terms.items():
        runs = []
        for _ in range(args.repeat):
            page, ms = timed(directory.search_customers, text, limit=50)
            runs.append(ms)
        every.extend(runs)
        medians.append(statistics.median(runs))
        print(
            f"  {label[:52]:<52} {statistics.median(runs):7.1f} {percentile(runs, 0.95):7.1f} {max(runs):7.1f} "
            f"{page.total:8,}"
        )
    print(f"  {'all terms':<52} {statistics.median(every):7.1f} {percentile(every, 0.95):7.1f} {max(every):7.1f}")

    print("\nDeep paging, 50 rows (ms):")
    paging: list[float] = []
    total = directory.search_customers("").total
    for sort in SORTS:
        for descending in (False, True):
            cells = []
            for offset in (0, 1_000, total // 2, max(0, total - 50)):
                _, ms = min(
                    (
                        timed(directory.search_customers, "", sort=sort, descending=descending, offset=offset, limit=50)
                        for _ in range(3)
                    ),
                    key=lambda r: r[1],
                )
                paging.append(ms)
                cells.append(f"@{offset:,}: {ms:5.1f}")
            print(f"  {sort:<9}{'desc' if descending else 'asc ':<5} " + "  ".join(cells))
    for text in ("gmbh", "anna"):
        hits = directory.search_customers(text).total
        _, ms = min(
            (timed(directory.search_customers, text, offset=max(0, hits - 50), limit=50) for _ in range(3)),
            key=lambda r: r[1],
        )
        paging.append(ms)
        print(f"  last page of {text!r} ({hits:,} hits): {ms:.1f}")

    worst_search = max(medians)
    print("\nTargets:")
    print(f"  import < {IMPORT_TARGET_S:.0f} s: {import_s:.1f} s {'PASS' if import_s < IMPORT_TARGET_S else 'MISS'}")
    print(
        f"  search < {SEARCH_TARGET_MS:.0f} ms (worst term median): {worst_search:.1f} ms "
        f"{'PASS' if worst_search < SEARCH_TARGET_MS else 'MISS'}; p95 of all runs {percentile(every, 0.95):.1f} ms"
    )
    print(
        f"  deep paging < {SEARCH_TARGET_MS:.0f} ms (worst): {max(paging):.1f} ms "
        f"{'PASS' if max(paging) < SEARCH_TARGET_MS else 'MISS'}"
    )
    database.close_all() if hasattr(database, "close_all") else database.close()
    if args.keep:
        print(f"\nFiles kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
