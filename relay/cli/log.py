"""`contacts-relay log`: what the relay did with recent messages."""

from __future__ import annotations

import argparse

from contacts_tui.core.display import json_line, visible
from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.status import Decision
from contacts_tui.core.options import Options, open_directory
from contacts_tui.core.process import at_least_one
from contacts_tui.core.times import local_time


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    log = commands.add_parser("log", parents=[common], help="what the relay did with recent messages")
    log.add_argument("--limit", metavar="N", type=at_least_one, default=20, help="how many, newest first (default 20)")
    log.add_argument("--search", metavar="TEXT", default="", help="only entries mentioning TEXT")
    log.add_argument("--status", metavar="STATUS", default="", help="only this status (queued, delivered, ...)")
    log.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, options: Options) -> int:
    # It only reads: a mistyped --db is an error, not an empty log.
    open_directory(options, must_exist=True)
    entries = relay_log.recent_log(args.limit, search=args.search, status=args.status)
    if args.json:
        for entry in entries:
            print(json_line(entry.as_json()))
        return 0
    if not entries:
        print("No relay log entries match." if args.search or args.status else "The relay log is empty.")
        return 0
    for entry in entries:
        added = ", ".join(a.email for a in entry.added) or "nobody"
        # 16 fits the longest status, "partially failed"; 13 the longest decision.
        print(
            f"{local_time(entry.received_at)}  {entry.queue_id or '-':16}  {entry.status or '-':16}  "
            f"{entry.decision or '-':13}  {visible(entry.category) or '-'}"
        )
        print(visible(f"    from {entry.sender or '<>'} to {', '.join(entry.recipients)}; added: {added}"))
        if entry.copy_label:
            print(f"    {entry.copy_label}, one per customer (every copy: --search {entry.copy_of})")
        customers = visible(", ".join(entry.customers))
        delivered = f"; delivered {local_time(entry.delivered_at)}" if entry.delivered_at else ""
        if customers:
            print(f"    customer(s): {customers}{delivered}")
        elif entry.decision == Decision.REFUSED:
            pass  # refused before the directory was asked: the reason below says why
        elif entry.category_key:
            print(f"    no customer matched{delivered}")
        # An unknown category is not looked up at all: the reason says so.
        elif delivered:
            print(f"    {delivered[2:]}")
        attempts = f"; {entry.attempts} delivery attempts" if entry.attempts > 1 else ""
        print(
            visible(f"    {entry.reason}{attempts}" + (f"; last error: {entry.last_error}" if entry.last_error else ""))
        )
    return 0
