"""`contacts-tui list` and the filter options it shares with `export`: the
customers and contact persons one Filter keeps (core/filters.py), as the
TUI's f shows them."""

from __future__ import annotations

import argparse

from contacts_tui.core.catalog import Catalog
from contacts_tui.core.directory.filters import STATUSES, Filter
from contacts_tui.core.directory.service import Directory
from contacts_tui.core.display import json_line, visible
from contacts_tui.core.process import reader_may_stop
from contacts_tui.core.validate import ROLES


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """--role, --category, --not-category, --status and --domain."""
    group = parser.add_argument_group("filters (they combine: every one given must hold)")
    group.add_argument("--role", metavar="R", help=f"contact persons with this role: {', '.join(ROLES)}")
    group.add_argument("--category", metavar="C", help="contact persons opted in to category C (or receiving all)")
    group.add_argument("--not-category", metavar="C", help="contact persons NOT opted in to category C")
    group.add_argument(
        "--status",
        metavar="S",
        help="; ".join(f"{key}: {label}" for key, label in STATUSES.items()),
    )
    group.add_argument(
        "--domain",
        metavar="D",
        help="contact persons whose address, or whose customer's primary email, is at domain D",
    )


def filter_from(directory: Directory, args: argparse.Namespace) -> Filter:
    """The Filter the options ask for (a DirectoryError names the one that is wrong)."""
    return directory.clean_filter(
        role=args.role, category=args.category, not_category=args.not_category, status=args.status, domain=args.domain
    )


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "list",
        parents=[common],
        help="list the customers and contact persons a filter keeps",
        description="One line per contact person the filters keep, with its customer, in the order of "
        "export (customers by email). Without a filter on contact persons, every active contact person of "
        "the customers kept, and a line for a customer with none.",
    )
    add_filter_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run_list(directory: Directory, args: argparse.Namespace) -> int:
    import sys

    from contacts_tui.core.csv.export import customer_batches

    chosen = filter_from(directory, args)
    catalog = directory.catalog
    lines = 0
    with reader_may_stop():  # `list | head`
        for batch in customer_batches(chosen, directory.max_contacts):
            for customer, contacts in batch:
                if not contacts and not chosen.on_contacts:
                    print(_line(catalog, customer, None, set(), args.json))
                    lines += 1
                for contact, categories in contacts:
                    print(_line(catalog, customer, contact, categories, args.json))
                    lines += 1
        sys.stdout.flush()
    if not lines and not args.json:
        what = f" with the filter {chosen.describe()}" if chosen else ""
        print(f"No customers or contact persons{what}.", file=sys.stderr)
    return 0


def _line(catalog: Catalog, customer, contact, categories: set[str], as_json: bool) -> str:
    opted = list(catalog.sort_keys(categories & set(catalog.keys))) if contact else []
    if as_json:
        record = {"customer_email": customer.email, "customer_name": customer.name}
        if contact is not None:
            record.update(
                contact_name=contact.name,
                contact_email=contact.email,
                role=contact.role,
                receive_all=bool(contact.receive_all),
                categories=opted,
                deleted=contact.deleted_at is not None,
            )
        return json_line(record)
    text = f"{customer.email}  {customer.name}"
    if contact is not None:
        receives = "all" if contact.receive_all else (";".join(opted) or "-")
        text += f"  |  {contact.name} <{contact.email}>  {contact.role}  {receives}"
        if contact.deleted_at is not None:
            text += "  (deleted)"
    # Names and addresses were checked when written; stand-ins still keep a terminal safe from anything older.
    return visible(text)
