"""The web inbox with 10,000 captured messages: the list and searches, over HTTP and in chromium.

    .venv/bin/python tests/bench/bench_inbox.py [--messages N] [--runs N] [--pg URL]

Captures N messages the way the capture store writes them (the summary
made from each message, one PDF invoice in ten), starts the inbox as
``serve --http`` starts it, and prints, over ``--runs`` rounds: the time of
``GET /api/v1/messages`` (the list's first page, what the page asks for),
the time from opening the page in headless chromium to its first rows, and
each search's time (median and worst). Targets: the list opens in under
1 s, a search answers in under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TARGET_LIST = 1.0
TARGET_SEARCH = 0.200
SEARCHES = [
    "INV-4242",
    "acme",
    "to:customer-77@",
    "from:billing@shop.example",
    "category:billing",
    "added:bookkeeper-12@",
    "is:unread",
    "has:attachment",
    'subject:"Payment reminder"',
    "category:account -added:manager",
    "after:2026-12-03 larger:20kb",
    "nothing-matches-this",
]


def build(count: int, url: str) -> None:
    from contacts_tui.core.db import open_database
    from contacts_tui.core.mail.summary import summary_columns
    from contacts_tui.core.models import CapturedMessage

    database = open_database(url)
    rng = random.Random(7)
    pdf = bytes(rng.randrange(256) for _ in range(40_000))
    start = dt.datetime(2026, 12, 1)
    rows = []
    for number in range(count):
        customer = f"customer-{number % 500}@acme-{number % 50}.example"
        kind = ("invoice.created", "payment.reminder", "order.confirmed")[number % 3]
        subject = {"invoice.created": f"Invoice INV-{number}", "payment.reminder": f"Payment reminder R-{number}"}.get(
            kind, f"Order O-{number} confirmed"
        )
        added = [
            {
                "email": f"bookkeeper-{number % 97}@acme.example",
                "name": "Bea Bookman",
                "customer": customer,
                "reason": "opted in to billing",
            },
            {
                "email": f"manager-{number % 89}@acme.example",
                "name": "Max Manager",
                "customer": customer,
                "reason": "receives all notifications",
            },
        ][: 1 + number % 2]
        message = EmailMessage()
        message["From"] = "Shop Billing <billing@shop.example>"
        message["To"] = customer
        message["Cc"] = ", ".join(f"{a['name']} <{a['email']}>" for a in added)
        message["Subject"] = subject
        message["Message-ID"] = f"<{number}@shop.example>"
        message["X-Notification-Category"] = kind
        message.set_content(f"Dear customer,\n\n{subject}: the amount of {number % 1000}.00 EUR is due.\n")
        message.add_alternative(f"<h1>{subject}</h1><p>Dear customer, the amount is due.</p>", "html")
        if number % 10 == 0:
            message.add_attachment(pdf, "application", "pdf", filename=f"INV-{number}.pdf")
        data = message.as_bytes()
        rows.append(
            dict(
                received_at=start + dt.timedelta(seconds=number * 40),
                sender="billing@shop.example",
                recipients=json.dumps([customer]),
                subject=subject,
                message_id=f"<{number}@shop.example>",
                category=kind,
                category_key="account" if kind == "order.confirmed" else "billing",
                added=json.dumps(added),
                search_text=" ".join(
                    ["billing@shop.example", subject, kind, customer] + [a["email"] + " " + a["name"] for a in added]
                ).casefold(),
                original=data,
                message=data,
                size=len(data),
                read=number % 4 == 0,
                **summary_columns(data),
            )
        )
        if len(rows) == 500:
            with database.atomic():
                CapturedMessage.insert_many(rows).execute()
            rows = []
    if rows:
        with database.atomic():
            CapturedMessage.insert_many(rows).execute()
    database.close()


async def measure(url: str, runs: int) -> None:
    import aiohttp

    from contacts_tui.core.db import open_database
    from relay.inbox.server import InboxOptions, InboxServer

    open_database(url)
    server = InboxServer(InboxOptions("127.0.0.1", 0, database="bench")).start()
    base = f"http://127.0.0.1:{server.port}"
    lists, searches = [], {query: [] for query in SEARCHES}
    counts = {}
    async with aiohttp.ClientSession() as session:
        for _ in range(runs):
            started = time.perf_counter()
            async with session.get(base + "/api/v1/messages", params={"limit": "100"}) as response:
                listing = await response.json()
            lists.append(time.perf_counter() - started)
            for query in SEARCHES:
                started = time.perf_counter()
                async with session.get(base + "/api/v1/search", params={"query": query, "limit": "100"}) as response:
                    found = await response.json()
                searches[query].append(time.perf_counter() - started)
                counts[query] = found["messages_count"]
    print(f"{listing['total']:,} messages captured")
    print(f"GET /api/v1/messages (first 100): {figures(lists)}")
    page = await page_load(base, runs)
    if page:
        print(f"page opened in chromium to its first rows: {figures(page)} (target < {TARGET_LIST:g} s)")
    worst = 0.0
    for query, times in searches.items():
        worst = max(worst, max(times))
        print(f"  search {query!r:42} {counts[query]:>6,} found: {figures(times)}")
    print(f"slowest search {worst * 1000:.0f} ms (target < {TARGET_SEARCH * 1000:.0f} ms)")
    server.stop()


def figures(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:6.1f} ms, worst {max(times) * 1000:6.1f} ms"


async def page_load(base: str, runs: int) -> list[float]:
    import shutil

    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        print("chromium is not installed: no page-load figure")
        return []
    from tests.browser import Browser

    times = []
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser("about:blank", Path(profile), (1280, 800))
        await browser.connect()
        await browser.call("Page.enable")
        try:
            for _ in range(runs):
                started = time.perf_counter()
                await browser.call("Page.navigate", url=base + "/")
                await browser.until("document.querySelectorAll('#messages li').length > 0")
                times.append(time.perf_counter() - started)
        finally:
            await browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--pg", metavar="URL", help="a PostgreSQL database to use instead of an SQLite file (emptied first)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.pg or f"sqlite:///{folder}/inbox.db"
        if args.pg:
            from contacts_tui.core.db import open_database
            from contacts_tui.core.models import CapturedMessage

            open_database(url)
            CapturedMessage.delete().execute()
        started = time.perf_counter()
        build(args.messages, url)
        kind = "PostgreSQL" if args.pg else "SQLite"
        print(f"captured {args.messages:,} messages in {time.perf_counter() - started:.1f} s ({kind})")
        asyncio.run(measure(url, args.runs))


if __name__ == "__main__":
    main()
