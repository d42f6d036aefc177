"""`contacts-tui history`: who changed what, when and through which channel.

One change per line, newest first: readable text by default, one JSON object
per line with ``--json`` (for scripts and log shippers).
"""

from __future__ import annotations

import argparse
import sys

from contacts_tui.core.directory.history import Change, parse_since
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import json_line, visible
from contacts_tui.core.errors import DirectoryError
from contacts_tui.core.process import at_least_one, reader_may_stop
from contacts_tui.core.times import local_time

DEFAULT_LIMIT = 500


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "history",
        parents=[common],
        help="who changed what, when and through which channel",
        description="The history of every change to customers and contact persons, newest first: by an admin "
        "(the TUI or a command), an import (the file) or a customer in the portal (over ssh or the web). "
        "Deleting a contact person keeps its history.",
    )
    parser.add_argument("--customer", metavar="EMAIL", help="only this customer's changes (its primary email)")
    parser.add_argument(
        "--since",
        metavar="DATE",
        type=_since,
        help="only changes from then on: YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (local time), or ISO 8601",
    )
    parser.add_argument(
        "--limit",
        metavar="N",
        type=at_least_one,
        default=DEFAULT_LIMIT,
        help=f"at most N changes, the newest (default {DEFAULT_LIMIT})",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run_history(directory: Directory, args: argparse.Namespace) -> int:
    customer_id = None
    if args.customer:
        customer = directory.find_customer(args.customer)
        if customer is None:
            # Make primary swaps addresses: the history still knows the old one.
            customer = directory.customer_once_at(args.customer)
            if customer is None:
                raise DirectoryError(f"no customer has the primary email {visible(args.customer)!r}")
            print(
                f"{visible(args.customer)} was the primary email of {visible(customer.name)}, now "
                f"{visible(customer.email)}: its history follows.",
                file=sys.stderr,
            )
        customer_id = customer.id
    changes = directory.history(customer_id, args.since, args.limit)
    with reader_may_stop():  # `history | head`
        for change in changes:
            print(json_line(change.as_json()) if args.json else line(change))
        sys.stdout.flush()
    if not changes and not args.json:
        print(
            "No changes recorded"
            + (" for this customer" if customer_id else "")
            + (" since then" if args.since else "")
            + ".",
            file=sys.stderr,
        )
    return 0


def line(change: Change) -> str:
    """One change on one line:

    ``2026-12-05 09:12:03 CET  admin alice (tui)  owner@acme.example  contact edited ann@…: name "Ann" -> "Anne"``
    """
    detail = change.describe()
    text = f"{local_time(change.at)}  {change.who} ({change.channel})  {change.customer_email}  {change.summary()}"
    # Names and addresses were checked when written; stand-ins still keep a terminal safe from anything older.
    return visible(text + (f": {detail}" if detail else ""))


def _since(text: str):
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
